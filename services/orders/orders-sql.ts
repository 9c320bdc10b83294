/** SQL of the orders service: pure builders, run by its methods. */
import type { SqlQuery } from "../../platform/sql";
import type { OutboxTrail } from "./order-journey";
import { outboxTrailJson } from "../../mixins/outbox-sql";
import type { OrderStatus } from "./contracts";
import type { CancelOutcome, CancelReason } from "../payments/contracts";

export const ORDER_STATUSES = Object.freeze({ NEW: "NEW", FINISHED: "FINISHED", CANCELLED: "CANCELLED", REFUNDED: "REFUNDED" } as const satisfies Record<OrderStatus, OrderStatus>);

export interface OrderRow {
	id: string;
	user_id: string;
	amount_minor: string; // pg returns BIGINT as a string
	description: string;
	status: OrderStatus;
	cancel_reason: CancelReason | null;
	cancel_requested_at: Date | null;
	/** Payments' answer to the cancel, once applied. */
	cancel_outcome: CancelOutcome | null;
	refunded_at: Date | null;
	created_at: Date;
	updated_at: Date;
}

const ORDER_COLUMNS = "id, user_id, amount_minor, description, status, cancel_reason, cancel_requested_at, cancel_outcome, refunded_at, created_at, updated_at";

/** `requestEventId`: the order's `payment.requested` outbox row, which the reconciler looks at. */
export function insertOrder(id: string, userId: string, amountMinor: number, description: string, requestEventId: string): SqlQuery {
	return {
		name: "orders.insertOrder",
		text: `INSERT INTO orders (id, user_id, amount_minor, description, request_event_id)
			VALUES ($1::uuid, $2::text, $3::bigint, $4::text, $5::uuid)
			RETURNING ${ORDER_COLUMNS}`,
		values: [id, userId, amountMinor, description, requestEventId]
	};
}

/** Scoped to the user: another user's order is indistinguishable from a missing one. */
export function selectUserOrder(userId: string, orderId: string): SqlQuery {
	return { text: `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1::uuid AND user_id = $2::text`, values: [orderId, userId] };
}

export function selectUserOrders(userId: string, limit: number, offset: number): SqlQuery {
	return {
		text: `SELECT ${ORDER_COLUMNS} FROM orders WHERE user_id = $1::text
			ORDER BY created_at DESC, id DESC LIMIT $2::int OFFSET $3::int`,
		values: [userId, limit, offset]
	};
}

/** Ends an order; only a NEW one, so a late or repeated result never changes a final status. */
export function finishOrder(orderId: string, status: OrderStatus, cancelReason: CancelReason | null): SqlQuery {
	return {
		name: "orders.finishOrder",
		text: `UPDATE orders SET status = $2::text, cancel_reason = $3::text, updated_at = clock_timestamp()
			WHERE id = $1::uuid AND status = 'NEW' RETURNING ${ORDER_COLUMNS}`,
		values: [orderId, status, cancelReason]
	};
}

/** The owner's order, locked until the transaction ends: a cancel and a payment result for it queue up. */
export function lockUserOrder(userId: string, orderId: string): SqlQuery {
	return { text: `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1::uuid AND user_id = $2::text FOR UPDATE`, values: [orderId, userId] };
}

/** Cancels a NEW order at once (reason CANCELLED_BY_USER); `cancelEventId` is its `payment.cancelRequested` outbox row. */
export function cancelNewOrder(orderId: string, cancelEventId: string): SqlQuery {
	return {
		name: "orders.cancelNewOrder",
		text: `UPDATE orders SET status = 'CANCELLED', cancel_reason = 'CANCELLED_BY_USER', cancel_requested_at = clock_timestamp(),
				cancel_event_id = $2::uuid, updated_at = clock_timestamp()
			WHERE id = $1::uuid AND status = 'NEW' RETURNING ${ORDER_COLUMNS}`,
		values: [orderId, cancelEventId]
	};
}

/** Asks for a FINISHED order's refund once: it stays FINISHED until payments answers. */
export function requestRefund(orderId: string, cancelEventId: string): SqlQuery {
	return {
		name: "orders.requestRefund",
		text: `UPDATE orders SET cancel_requested_at = clock_timestamp(), cancel_event_id = $2::uuid, updated_at = clock_timestamp()
			WHERE id = $1::uuid AND status = 'FINISHED' AND cancel_requested_at IS NULL RETURNING ${ORDER_COLUMNS}`,
		values: [orderId, cancelEventId]
	};
}

/**
 * Applies payments' answer to a cancel, once (only while unanswered), whatever arrived before it:
 * REFUNDED sets refunded_at and ends a FINISHED order REFUNDED (a CANCELLED one stays CANCELLED,
 * its money back); VOIDED or NOTHING_TO_REFUND leave a CANCELLED order as it is, and end a
 * FINISHED one CANCELLED (CANCELLED_BY_USER: payments holds no payment of it, say after a restore).
 * Never a NEW order (no cancel of it was written).
 */
export function applyCancelOutcome(orderId: string, outcome: CancelOutcome): SqlQuery {
	return {
		name: "orders.applyCancelOutcome",
		text: `UPDATE orders SET cancel_outcome = $2::text,
				refunded_at = CASE WHEN $2::text = 'REFUNDED' THEN clock_timestamp() END,
				status = CASE WHEN status = 'FINISHED' THEN CASE WHEN $2::text = 'REFUNDED' THEN 'REFUNDED' ELSE 'CANCELLED' END ELSE status END,
				cancel_reason = CASE WHEN status = 'FINISHED' AND $2::text <> 'REFUNDED' THEN 'CANCELLED_BY_USER' ELSE cancel_reason END,
				updated_at = clock_timestamp()
			WHERE id = $1::uuid AND cancel_requested_at IS NOT NULL AND cancel_outcome IS NULL AND status <> 'NEW'
			RETURNING ${ORDER_COLUMNS}`,
		values: [orderId, outcome]
	};
}

export interface OrderTrailRow extends OrderRow {
	request_event_id: string | null;
	/** The order's `payment.requested` outbox row; null once retention deleted it, or never linked. */
	request: OutboxTrail | null;
	/** The trace the order's request was written in (platform/tracing.ts); null once retention deleted the row, or for older orders. */
	trace_id: string | null;
}

/**
 * An order with its payment request's outbox row, for its journey (by primary keys). With a user,
 * only that user's order: another user's is indistinguishable from a missing one.
 */
export function selectOrderTrail(orderId: string, userId: string | null): SqlQuery {
	return {
		text: `SELECT o.${ORDER_COLUMNS.split(", ").join(", o.")}, o.request_event_id, ${outboxTrailJson("r")} AS request, r.trace_id
			FROM orders o LEFT JOIN outbox_events r ON r.id = o.request_event_id
			WHERE o.id = $1::uuid AND ($2::text IS NULL OR o.user_id = $2::text)`,
		values: [orderId, userId]
	};
}
