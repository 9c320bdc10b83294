/**
 * Issue 14: nothing scans a growing table on a timer. Every statement the outbox, the inbox's
 * retention and the maintenance jobs run periodically is planned with sequential scans disabled:
 * the planner then still picks one only where no index can serve, so a `Seq Scan` in a plan is a
 * missing index. (With the tables small, the planner would pick sequential scans for any query.)
 */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimMaintenanceRun, deleteExpiredRows } from "../../mixins/retention-sql";
import { runMigrations } from "../../platform/migrate";
import { claimDueEvents, countUnanswered, expireStaleEvents, selectPendingSummary } from "../../mixins/outbox-sql";
import type { SqlQuery } from "../../platform/sql";
import { ordersMigrations } from "../../services/orders/migrations/index";
import { createTestDatabases, type TestDatabases } from "../support/system";

let databases: TestDatabases;
let pool: Pool;

beforeAll(async () => {
	databases = await createTestDatabases(randomBytes(4).toString("hex"));
	await runMigrations(databases.orders, ordersMigrations, () => {});
	pool = new Pool({ connectionString: databases.orders, max: 1 });
});

afterAll(async () => {
	await pool?.end();
	await databases?.drop();
});

/** The plan's node types and the indexes it reads. */
async function planOf(query: SqlQuery): Promise<string> {
	const client = await pool.connect();
	try {
		await client.query("BEGIN");
		await client.query("SET LOCAL enable_seqscan = off");
		const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query.text}`, query.values);
		return rows.map(row => row["QUERY PLAN"]).join("\n");
	} finally {
		await client.query("ROLLBACK");
		client.release();
	}
}

const PERIODIC: [string, SqlQuery][] = [
	["the relay's claim", claimDueEvents(100, { baseMs: 1000, maxMs: 60_000 }, "payments")],
	["the relay's flow control", countUnanswered(["00000000-0000-4000-8000-000000000000"])],
	["the outbox gauges' summary", selectPendingSummary()],
	["the redelivery horizon", expireStaleEvents(72 * 3_600_000)],
	["retention of confirmed events", deleteExpiredRows("outbox_events", 3_600_000, 1000)],
	["retention of the inbox", deleteExpiredRows("inbox_events", 3_600_000, 1000)],
	["retention of idempotency keys", deleteExpiredRows("idempotency_keys", 3_600_000, 1000)],
	["a maintenance job's claim", claimMaintenanceRun("retention", 60_000)]
];

describe("periodic statements", () => {
	it.each(PERIODIC)("%s reads by an index", async (_name, query) => {
		const plan = await planOf(query);
		expect(plan).not.toMatch(/Seq Scan/);
		expect(plan).toMatch(/Index|Tid/);
	});

	it("the relay's claim for one group does not read the due events of another (a group that is away)", async () => {
		await pool.query(`INSERT INTO outbox_events (event_name, target_group, payload, next_attempt_at)
			SELECT 'payment.requested', 'payments', '{}', now() - interval '1 minute' FROM generate_series(1, 5000)`);
		await pool.query("ANALYZE outbox_events");
		const claim = claimDueEvents(100, { baseMs: 1000, maxMs: 60_000 }, "orders");
		const client = await pool.connect();
		try {
			await client.query("BEGIN");
			const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${claim.text}`, claim.values);
			const plan = rows.map(row => row["QUERY PLAN"]).join("\n");
			expect(plan).toMatch(/outbox_events_group_due_idx/);
			expect(plan).not.toMatch(/Rows Removed by Filter: [1-9]/);
		} finally {
			await client.query("ROLLBACK");
			client.release();
			await pool.query("TRUNCATE outbox_events");
		}
	});
});
