/**
 * The trace each outbox event was written in (issue 16), so that every emit of it, first or
 * re-emit by any process, continues the trace of the request that caused it (platform/tracing.ts).
 * Null for events written before. Included by each service's migration list.
 */
import type { Migration } from "../../platform/migrate";

export const addOutboxTraceContext: Migration = {
	name: "messaging/0005_outbox_trace_context",
	formerly: "0007_outbox_trace_context",
	up: `
		ALTER TABLE outbox_events
			ADD COLUMN trace_id text,
			ADD COLUMN trace_parent_span_id text,
			ADD COLUMN trace_sampled boolean NOT NULL DEFAULT false;
	`
};
