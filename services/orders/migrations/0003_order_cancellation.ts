import type { Migration } from "../../../platform/migrate";

/**
 * Issue 18: an order can be cancelled by its owner. A NEW one ends CANCELLED (reason
 * CANCELLED_BY_USER) at once; a FINISHED one stays FINISHED until payments has refunded it, then
 * ends REFUNDED. `cancel_requested_at` and `cancel_event_id` (its `payment.cancelRequested` outbox
 * row) say a cancel was asked; `cancel_outcome` is payments' answer once applied (VOIDED, REFUNDED,
 * NOTHING_TO_REFUND), `refunded_at` when the money went back. The partial index holds only the
 * cancels still unanswered, for the journey and the operators.
 */
export const addOrderCancellation: Migration = {
	name: "orders/0003_order_cancellation",
	up: `
		ALTER TABLE orders DROP CONSTRAINT orders_status_check;
		ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('NEW', 'FINISHED', 'CANCELLED', 'REFUNDED'));
		ALTER TABLE orders DROP CONSTRAINT orders_cancel_reason_check;
		ALTER TABLE orders ADD CONSTRAINT orders_cancel_reason_check CHECK (cancel_reason IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'CANCELLED_BY_USER'));
		ALTER TABLE orders
			ADD COLUMN cancel_requested_at timestamptz,
			ADD COLUMN cancel_event_id uuid,
			ADD COLUMN cancel_outcome text CHECK (cancel_outcome IN ('VOIDED', 'REFUNDED', 'NOTHING_TO_REFUND')),
			ADD COLUMN refunded_at timestamptz,
			ADD CONSTRAINT orders_cancel_answered_after_request CHECK (cancel_outcome IS NULL OR cancel_requested_at IS NOT NULL),
			ADD CONSTRAINT orders_refunded_only_when_refunded CHECK ((refunded_at IS NOT NULL) = (cancel_outcome IS NOT DISTINCT FROM 'REFUNDED')),
			ADD CONSTRAINT orders_refunded_status CHECK (status <> 'REFUNDED' OR refunded_at IS NOT NULL);
		CREATE INDEX orders_cancel_pending_idx ON orders (cancel_requested_at, id) WHERE cancel_requested_at IS NOT NULL AND cancel_outcome IS NULL;
	`
};
