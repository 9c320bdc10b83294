/**
 * What a consumer's answers tell the outbox (issue 14): which attempt of an event was last
 * answered, so that a failure counts once per attempt however many queued copies of it fail, and
 * the flow control can wait for answers rather than for confirmations alone. And an index for the
 * pending events by age: the metrics' summary and the redelivery horizon read only those, and
 * without it scanned every confirmed row kept for retention. Included by each service's migration list.
 */
import type { Migration } from "../../lib/migrate";

export const addOutboxFailureAccounting: Migration = {
	name: "0005_outbox_failure_accounting",
	up: `
		ALTER TABLE outbox_events ADD COLUMN answered_attempt integer NOT NULL DEFAULT 0;
		CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at) WHERE confirmed_at IS NULL;
	`
};
