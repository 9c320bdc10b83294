/** SQL of the maintenance jobs: pure builders. */
import type { SqlQuery } from "./sql";

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
