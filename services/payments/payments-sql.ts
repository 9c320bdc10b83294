/** SQL of the payments service: pure builders, run by its methods. */
import type { SqlQuery } from "../../platform/sql";
import type { OutboxTrail } from "../orders/order-journey";
import { outboxTrailJson } from "../../mixins/outbox-sql";
import type { CancelReason, MovementKind, PaymentOutcome } from "./contracts";

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

/** The most an account may hold, in minor units: the CHECK on accounts.balance_minor (exact as a JavaScript number). */
export const MAX_BALANCE_MINOR = 100_000_000_000_000;

/** The account's row, locked until the transaction ends (a top-up reads what may still be refunded to it only then); no row when there is no account. */
export function lockAccount(userId: string): SqlQuery {
	return { text: "SELECT user_id FROM accounts WHERE user_id = $1::text FOR UPDATE", values: [userId] };
}

/**
 * Credits the account and records the top-up and its movement in one statement (the movement is
 * written after the account row is locked: a later movement id is a later balance). The balance
 * keeps room for every payment that may still be refunded (paid, not refunded): a refund is owed
 * and must never meet the CHECK, so balance + refundable <= MAX_BALANCE_MINOR always holds (a
 * payment and its refund move money between the two). Run under lockAccount, so that the
 * refundable sum is read after the payments that committed before the lock. No row: over the limit.
 */
export function creditAccount(userId: string, amountMinor: number): SqlQuery {
	return {
		text: `WITH credited AS (
				UPDATE accounts SET balance_minor = balance_minor + $2::bigint, updated_at = now()
				WHERE user_id = $1::text AND balance_minor + $2::bigint + (
					SELECT COALESCE(sum(amount_minor), 0) FROM payment_transactions
					WHERE user_id = $1::text AND outcome = 'PAID' AND refunded_at IS NULL
				) <= $3::bigint
				RETURNING ${ACCOUNT_COLUMNS}
			), recorded AS (
				INSERT INTO topups (user_id, amount_minor) SELECT user_id, $2::bigint FROM credited RETURNING id
			), moved AS (
				INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor)
				SELECT user_id, 'TOPUP', $2::bigint, balance_minor FROM credited RETURNING id
			)
			SELECT credited.* FROM credited, recorded, moved`,
		values: [userId, amountMinor, MAX_BALANCE_MINOR]
	};
}

/**
 * The atomic conditional debit: it takes the money only if it is there, and the row lock makes
 * concurrent debits of one account queue up and each see the balance the previous one left. The
 * payment's movement is written in the same statement. No row: insufficient funds or no account.
 */
export function debitAccount(userId: string, amountMinor: number, orderId: string): SqlQuery {
	return {
		name: "payments.debitAccount",
		text: `WITH debited AS (
				UPDATE accounts SET balance_minor = balance_minor - $2::bigint, updated_at = now()
				WHERE user_id = $1::text AND balance_minor >= $2::bigint RETURNING user_id, balance_minor
			), moved AS (
				INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor, order_id)
				SELECT user_id, 'PAYMENT', -$2::bigint, balance_minor, $3::uuid FROM debited RETURNING id
			)
			SELECT debited.balance_minor FROM debited, moved`,
		values: [userId, amountMinor, orderId]
	};
}

/**
 * Serialises everything payments decides about one order (its payment, its void, its refund) for
 * the rest of the transaction: the decision row may not exist yet, so a row lock cannot. Taken
 * before the account's row lock, always, so two orders of one account cannot deadlock.
 */
export function lockOrderDecision(orderId: string): SqlQuery {
	return { name: "payments.lockOrderDecision", text: "SELECT pg_advisory_xact_lock(hashtextextended('payments.order:' || $1::text, 0))", values: [orderId] };
}

export interface PaymentRow {
	outcome: PaymentOutcome;
	reason: CancelReason | null;
	refunded_at: Date | null;
}

export function selectPayment(orderId: string): SqlQuery {
	return { name: "payments.selectPayment", text: "SELECT outcome, reason, refunded_at FROM payment_transactions WHERE order_id = $1::uuid", values: [orderId] };
}

/**
 * Refunds a paid order once: marks the decision refunded and credits the account with the
 * payment's amount and its REFUND movement, in one statement. No row: not paid, or refunded before.
 */
export function refundPayment(orderId: string): SqlQuery {
	return {
		name: "payments.refundPayment",
		text: `WITH marked AS (
				UPDATE payment_transactions SET refunded_at = clock_timestamp()
				WHERE order_id = $1::uuid AND outcome = 'PAID' AND refunded_at IS NULL RETURNING user_id, amount_minor
			), credited AS (
				UPDATE accounts a SET balance_minor = a.balance_minor + marked.amount_minor, updated_at = now()
				FROM marked WHERE a.user_id = marked.user_id RETURNING a.user_id, a.balance_minor, marked.amount_minor
			), moved AS (
				INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor, order_id)
				SELECT user_id, 'REFUND', amount_minor, balance_minor, $1::uuid FROM credited RETURNING id
			)
			SELECT credited.user_id, credited.amount_minor, credited.balance_minor FROM credited, moved`,
		values: [orderId]
	};
}

/**
 * The primary key on order_id makes a second decision for one order fail (and roll back its debit).
 * `resultEventId` is the `payment.processed` event written with the decision (null for a void: it
 * has none; the request, when it comes, finds it and charges nothing).
 */
export function insertPayment(orderId: string, userId: string, amountMinor: number, outcome: PaymentOutcome, reason: CancelReason | null, resultEventId: string | null): SqlQuery {
	return {
		name: "payments.insertPayment",
		text: `INSERT INTO payment_transactions (order_id, user_id, amount_minor, outcome, reason, result_event_id)
			VALUES ($1::uuid, $2::text, $3::bigint, $4::text, $5::text, $6::uuid)`,
		values: [orderId, userId, amountMinor, outcome, reason, resultEventId]
	};
}

export interface StatementRow {
	balance_minor: string; // pg returns BIGINT as a string
	total: number;
	movements: { kind: MovementKind; amount_minor: string; balance_after_minor: string; order_id: string | null; created_at: string }[];
}

/**
 * An account's statement in one statement (one snapshot: the balance, the count and the page
 * agree): its movements newest first. No row when there is no account.
 */
export function selectStatement(userId: string, limit: number, offset: number): SqlQuery {
	return {
		text: `SELECT a.balance_minor,
				(SELECT count(*)::int FROM account_movements WHERE user_id = a.user_id) AS total,
				COALESCE((
					SELECT json_agg(json_build_object('kind', m.kind, 'amount_minor', m.amount_minor::text, 'balance_after_minor', m.balance_after_minor::text,
						'order_id', m.order_id, 'created_at', m.created_at) ORDER BY m.id DESC)
					FROM (SELECT * FROM account_movements WHERE user_id = a.user_id ORDER BY id DESC LIMIT $2::int OFFSET $3::int) m
				), '[]'::json) AS movements
			FROM accounts a WHERE a.user_id = $1::text`,
		values: [userId, limit, offset]
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
