/** SQL of the payments service: pure builders, run by its methods. */
import type { SqlQuery } from "../../platform/sql";
import type { OutboxTrail } from "../orders/order-journey";
import { outboxTrailJson } from "../../mixins/outbox-sql";
import type { CancelReason, PaymentOutcome } from "./contracts";

export interface AccountRow {
	user_id: string;
	balance_minor: string; // pg returns BIGINT as a string
	created_at: Date;
	updated_at: Date;
}

const ACCOUNT_COLUMNS = "user_id, balance_minor, created_at, updated_at";

/** Returns no row when the account exists already. */
export function insertAccount(userId: string): SqlQuery {
	return {
		text: `INSERT INTO accounts (user_id) VALUES ($1::text) ON CONFLICT (user_id) DO NOTHING RETURNING ${ACCOUNT_COLUMNS}`,
		values: [userId]
	};
}

export function selectAccount(userId: string): SqlQuery {
	return { text: `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1::text`, values: [userId] };
}

/** Credits the account and records the top-up in one statement; no row when there is no account. */
export function creditAccount(userId: string, amountMinor: number): SqlQuery {
	return {
		text: `WITH credited AS (
				UPDATE accounts SET balance_minor = balance_minor + $2::bigint, updated_at = now()
				WHERE user_id = $1::text RETURNING ${ACCOUNT_COLUMNS}
			), recorded AS (
				INSERT INTO topups (user_id, amount_minor) SELECT user_id, $2::bigint FROM credited RETURNING id
			)
			SELECT credited.* FROM credited, recorded`,
		values: [userId, amountMinor]
	};
}

/**
 * The atomic conditional debit: it takes the money only if it is there, and the row lock makes
 * concurrent debits of one account queue up and each see the balance the previous one left.
 * No row: insufficient funds or no account.
 */
export function debitAccount(userId: string, amountMinor: number): SqlQuery {
	return {
		name: "payments.debitAccount",
		text: `UPDATE accounts SET balance_minor = balance_minor - $2::bigint, updated_at = now()
			WHERE user_id = $1::text AND balance_minor >= $2::bigint RETURNING balance_minor`,
		values: [userId, amountMinor]
	};
}

export interface PaymentRow {
	outcome: PaymentOutcome;
	reason: CancelReason | null;
}

export function selectPayment(orderId: string): SqlQuery {
	return { name: "payments.selectPayment", text: "SELECT outcome, reason FROM payment_transactions WHERE order_id = $1::uuid", values: [orderId] };
}

/**
 * The primary key on order_id makes a second decision for one order fail (and roll back its debit).
 * `resultEventId` is the `payment.processed` event written with the decision.
 */
export function insertPayment(
	orderId: string,
	userId: string,
	amountMinor: number,
	outcome: PaymentOutcome,
	reason: CancelReason | null,
	resultEventId: string
): SqlQuery {
	return {
		name: "payments.insertPayment",
		text: `INSERT INTO payment_transactions (order_id, user_id, amount_minor, outcome, reason, result_event_id)
			VALUES ($1::uuid, $2::text, $3::bigint, $4::text, $5::text, $6::uuid)`,
		values: [orderId, userId, amountMinor, outcome, reason, resultEventId]
	};
}

export interface PaymentDecisionRow {
	order_id: string;
	outcome: PaymentOutcome;
	reason: CancelReason | null;
	result_event_id: string | null;
}

/** The decisions made for these orders (primary key lookups); orders without one have no row. */
export function selectPaymentDecisions(orderIds: string[]): SqlQuery {
	return {
		text: "SELECT order_id, outcome, reason, result_event_id FROM payment_transactions WHERE order_id = ANY($1::uuid[])",
		values: [orderIds]
	};
}

export interface PaymentTrailRow {
	request_received_at: Date | null;
	outcome: PaymentOutcome | null;
	reason: CancelReason | null;
	decided_at: Date | null;
	result_event_id: string | null;
	result: OutboxTrail | null;
}

/**
 * Payments' side of an order's journey, always one row (by primary keys): when its inbox recorded
 * the payment request, the decision, and the outbox row of the result event written with it.
 */
export function selectPaymentTrail(orderId: string, requestEventId: string | null): SqlQuery {
	return {
		text: `SELECT (SELECT received_at FROM inbox_events WHERE event_id = $2::uuid) AS request_received_at,
				p.outcome, p.reason, p.created_at AS decided_at, p.result_event_id, ${outboxTrailJson("r")} AS result
			FROM (SELECT $1::uuid AS order_id) AS asked
			LEFT JOIN payment_transactions p ON p.order_id = asked.order_id
			LEFT JOIN outbox_events r ON r.id = p.result_event_id`,
		values: [orderId, requestEventId]
	};
}
