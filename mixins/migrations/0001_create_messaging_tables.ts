/**
 * Tables every service that produces or consumes events owns in its own database: the outbox
 * (events waiting for their consumer's confirmation), the inbox (event ids already applied) and
 * the idempotency keys of client retries. Included by each service's migration list.
 */
import type { Migration } from "../../platform/migrate";

export const createMessagingTables: Migration = {
	name: "messaging/0001_create_messaging_tables",
	formerly: "0001_create_messaging_tables",
	up: `
		CREATE TABLE outbox_events (
			id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
			event_name text NOT NULL,
			target_group text NOT NULL,
			payload jsonb NOT NULL,
			attempts integer NOT NULL DEFAULT 0,
			next_attempt_at timestamptz NOT NULL DEFAULT now(),
			created_at timestamptz NOT NULL DEFAULT now(),
			last_emitted_at timestamptz,
			confirmed_at timestamptz
		);
		-- The relay only ever scans unconfirmed rows, in due order.
		CREATE INDEX outbox_events_due_idx ON outbox_events (next_attempt_at) WHERE confirmed_at IS NULL;

		CREATE TABLE inbox_events (
			event_id uuid PRIMARY KEY,
			event_name text NOT NULL,
			source text NOT NULL,
			received_at timestamptz NOT NULL DEFAULT now()
		);

		-- A key is scoped to its user and its endpoint (operation), as each service keeps its own.
		CREATE TABLE idempotency_keys (
			user_id text NOT NULL,
			operation text NOT NULL,
			key text NOT NULL,
			request_hash text NOT NULL,
			response_status integer NOT NULL,
			response_body jsonb NOT NULL,
			response_location text,
			created_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (user_id, operation, key)
		);
	`
};
