/** SQL of the maintenance jobs: pure builders. */
import type { SqlQuery } from "../platform/sql";

/**
 * Claims this interval's run of a job for the calling instance: the conditional update succeeds
 * for one instance per interval; the others get no row and skip the job.
 */
export function claimMaintenanceRun(job: string, intervalMs: number): SqlQuery {
	return {
		text: `INSERT INTO maintenance_runs (job, last_run_at) VALUES ($1::text, now())
			ON CONFLICT (job) DO UPDATE SET last_run_at = now()
			WHERE maintenance_runs.last_run_at <= now() - make_interval(secs => $2::float8 / 1000)
			RETURNING job`,
		values: [job, intervalMs * 0.9] // a little early, so jitter between instances never skips a run
	};
}

/** The tables the retention job trims: the row key to delete by and the age column. */
const RETAINED = Object.freeze({
	outbox_events: { key: "id", age: "confirmed_at" }, // confirmed events only: the others are NULL here
	inbox_events: { key: "event_id", age: "received_at" },
	idempotency_keys: { key: "ctid", age: "created_at" }
});
export type RetainedTable = keyof typeof RETAINED;

/**
 * One bounded batch of rows older than the retention (repeat until it deletes fewer than
 * `limit`): each batch locks few rows, briefly, and skips rows others hold.
 */
export function deleteExpiredRows(table: RetainedTable, olderThanMs: number, limit: number): SqlQuery {
	const { key, age } = RETAINED[table]; // identifiers from the fixed table above, never from input
	return {
		text: `DELETE FROM ${table} WHERE ${key} IN (
				SELECT ${key} FROM ${table}
				WHERE ${age} < now() - make_interval(secs => $1::float8 / 1000)
				LIMIT $2::int FOR UPDATE SKIP LOCKED
			) RETURNING 1 AS deleted`,
		values: [olderThanMs, limit]
	};
}
