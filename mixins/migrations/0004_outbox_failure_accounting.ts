/**
 * What a consumer's answers tell the outbox (issue 14): which attempt of an event was last
 * answered, so that a failure counts once per attempt however many queued copies of it fail, and
 * the flow control can wait for answers rather than for confirmations alone. The relay claims one
 * consumer group at a time, by an index of its own: the due events of a group that is away are
 * never read (they were, on every poll, by the index of all due events). And an index for the
 * pending events by age: the metrics' summary and the redelivery horizon read only those, and
 * without it scanned every confirmed row kept for retention. Included by each service's migration list.
 */
import type { Migration } from "../../platform/migrate";

export const addOutboxFailureAccounting: Migration = {
	name: "messaging/0004_outbox_failure_accounting",
	formerly: "0005_outbox_failure_accounting",
	up: `
		ALTER TABLE outbox_events ADD COLUMN answered_attempt integer NOT NULL DEFAULT 0;
		CREATE INDEX outbox_events_group_due_idx ON outbox_events (target_group, next_attempt_at) WHERE confirmed_at IS NULL AND dead_at IS NULL;
		DROP INDEX outbox_events_due_idx;
		CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at) WHERE confirmed_at IS NULL;
	`
};
