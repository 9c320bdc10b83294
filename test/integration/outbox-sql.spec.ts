/**
 * The outbox's statements on a real Postgres: a new row is its writer's until the lease runs out,
 * concurrent relays never claim the same row, a claimed row is not due again until its backoff has
 * passed, and confirmed rows are never claimed.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../../lib/migrate";
import { claimDueEvents, confirmEvents, insertOutboxEvent, type OutboxRow } from "../../lib/outbox-sql";
import { ordersMigrations } from "../../migrations/orders";
import { createTestDatabases, type TestDatabases } from "../support/system";

let databases: TestDatabases;
let pool: Pool;
const retry = { baseMs: 60_000, maxMs: 600_000 };

async function run<T extends object>(query: { text: string; values: unknown[] }, client: Pool = pool): Promise<T[]> {
	return (await client.query<T>(query.text, query.values)).rows;
}

beforeAll(async () => {
	databases = await createTestDatabases(randomBytes(4).toString("hex"));
	await runMigrations(databases.orders, ordersMigrations, () => {});
	pool = new Pool({ connectionString: databases.orders, max: 8 });
});

afterAll(async () => {
	await pool?.end();
	await databases?.drop();
});

describe("claiming outbox events", () => {
	it("never gives one row to two concurrent relays", async () => {
		await pool.query("TRUNCATE outbox_events");
		for (let i = 0; i < 400; i++) await run(insertOutboxEvent("test.event", "group", { i }, 60_000));
		await pool.query("UPDATE outbox_events SET next_attempt_at = now()"); // as if their writers died
		const claims = await Promise.all(Array.from({ length: 8 }, () => run<OutboxRow>(claimDueEvents(60, retry))));
		const ids = claims.flat().map(row => row.id);
		expect(new Set(ids).size).toBe(ids.length);
		expect(ids.length).toBeGreaterThan(0);
		// Everything left unclaimed is still claimable, nothing twice.
		const rest = await run<OutboxRow>(claimDueEvents(1000, retry));
		expect(new Set([...ids, ...rest.map(r => r.id)]).size).toBe(400);
	});

	it("schedules a claimed row's next attempt with backoff, and never claims a confirmed row", async () => {
		await pool.query("TRUNCATE outbox_events");
		const [{ id }] = await run<{ id: string }>(insertOutboxEvent("test.event", "group", { n: 1 }, 60_000));
		expect(await run(claimDueEvents(10, retry))).toEqual([]); // its writer's lease
		await pool.query("UPDATE outbox_events SET next_attempt_at = now()");
		const [claimed] = await run<OutboxRow>(claimDueEvents(10, retry));
		expect(claimed).toMatchObject({ id, attempts: 2 });
		expect(await run(claimDueEvents(10, retry))).toEqual([]);
		const [{ delay_ms }] = await run<{ delay_ms: number }>({
			text: "SELECT (extract(epoch FROM next_attempt_at - last_emitted_at) * 1000)::float8 AS delay_ms FROM outbox_events WHERE id = $1",
			values: [id]
		});
		// The writer's lease was the first delay (base); this is the second: twice that, jittered by half.
		expect(delay_ms).toBeGreaterThanOrEqual(retry.baseMs);
		expect(delay_ms).toBeLessThanOrEqual(2 * retry.baseMs);

		await pool.query("UPDATE outbox_events SET next_attempt_at = now()");
		await run(confirmEvents([id]));
		expect(await run(claimDueEvents(10, retry))).toEqual([]);
	});

	it("caps the backoff", async () => {
		await pool.query("TRUNCATE outbox_events");
		const [{ id }] = await run<{ id: string }>(insertOutboxEvent("test.event", "group", {}, 60_000));
		await pool.query("UPDATE outbox_events SET attempts = 5000, next_attempt_at = now() WHERE id = $1", [id]);
		await run(claimDueEvents(10, retry));
		const [{ delay_ms }] = await run<{ delay_ms: number }>({
			text: "SELECT (extract(epoch FROM next_attempt_at - last_emitted_at) * 1000)::float8 AS delay_ms FROM outbox_events WHERE id = $1",
			values: [id]
		});
		expect(delay_ms).toBeLessThanOrEqual(retry.maxMs);
		expect(delay_ms).toBeGreaterThanOrEqual(retry.maxMs / 2);
	});
});
