import type { Migration } from "../../../platform/migrate";

export const createOrders: Migration = {
	name: "orders/0001_create_orders",
	formerly: "0002_create_orders",
	up: `
		CREATE TABLE orders (
			id uuid PRIMARY KEY,
			user_id text NOT NULL,
			amount_minor bigint NOT NULL CHECK (amount_minor > 0),
			description text NOT NULL,
			status text NOT NULL DEFAULT 'NEW' CHECK (status IN ('NEW', 'FINISHED', 'CANCELLED')),
			cancel_reason text CHECK (cancel_reason IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND')),
			created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
			updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
			CHECK ((status = 'CANCELLED') = (cancel_reason IS NOT NULL))
		);
		-- A user's orders, newest first.
		CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
	`
};
