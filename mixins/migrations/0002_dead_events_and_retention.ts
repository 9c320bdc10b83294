/**
 * Dead events (parked after repeated or permanent failures, kept with their last error) and the
 * indexes the retention job deletes by. Included by each service's migration list.
 */
import type { Migration } from "../../platform/migrate";

export const addDeadEventsAndRetention: Migration = {
	name: "messaging/0002_dead_events_and_retention",
	formerly: "0003_dead_events_and_retention",
	up: `
		ALTER TABLE outbox_events
			ADD COLUMN failures integer NOT NULL DEFAULT 0,
			ADD COLUMN last_error text,
			ADD COLUMN dead_at timestamptz;
		DROP INDEX outbox_events_due_idx;
		CREATE INDEX outbox_events_due_idx ON outbox_events (next_attempt_at) WHERE confirmed_at IS NULL AND dead_at IS NULL;
		CREATE INDEX outbox_events_dead_idx ON outbox_events (dead_at) WHERE dead_at IS NOT NULL AND confirmed_at IS NULL;
		CREATE INDEX outbox_events_confirmed_idx ON outbox_events (confirmed_at) WHERE confirmed_at IS NOT NULL;
		CREATE INDEX inbox_events_received_idx ON inbox_events (received_at);
		CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

		-- One row per maintenance job: an instance runs a job only if it wins the update of its row.
		CREATE TABLE maintenance_runs (
			job text PRIMARY KEY,
			last_run_at timestamptz NOT NULL
		);
	`
};
