import type { Migration } from "../../../platform/migrate";

/**
 * What the reconciler needs: each order names its payment request's outbox row (NULL for orders
 * placed before this migration), and the orders still NEW are indexed by age. The index is
 * partial, so it holds only the orders in flight and stays small however many have ended; the
 * reconciler's scan and its overdue gauge read nothing else.
 */
export const addOrderReconciliation: Migration = {
	name: "orders/0002_order_reconciliation",
	formerly: "0006_order_reconciliation",
	up: `
		ALTER TABLE orders ADD COLUMN request_event_id uuid;
		CREATE INDEX orders_new_created_idx ON orders (created_at, id) WHERE status = 'NEW';
	`
};
