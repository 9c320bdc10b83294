/**
 * The outbox's statements on a real Postgres: a new row is its writer's until the lease runs out,
 * concurrent relays never claim the same row, a claimed row is not due again until its backoff has
 * passed, confirmed rows and rows for consumer groups with no live instance are never claimed, a
 * consumer's answers count once per attempt and an outage never, and every periodic statement
 * reads by an index.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../../platform/migrate";
import type { FailureKind } from "../../mixins/failure-classification";
import { claimDueEvents, confirmEvents, countUnanswered, insertOutboxEvent, recordEventFailure, reviveDeadEvents, type OutboxRow } from "../../mixins/outbox-sql";
import { ordersMigrations } from "../../services/orders/migrations/index";
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
		const claims = await Promise.all(Array.from({ length: 8 }, () => run<OutboxRow>(claimDueEvents(60, retry, "group"))));
		const ids = claims.flat().map(row => row.id);
		expect(new Set(ids).size).toBe(ids.length);
		expect(ids.length).toBeGreaterThan(0);
		// Everything left unclaimed is still claimable, nothing twice.
		const rest = await run<OutboxRow>(claimDueEvents(1000, retry, "group"));
		expect(new Set([...ids, ...rest.map(r => r.id)]).size).toBe(400);
	});

	it("schedules a claimed row's next attempt with backoff, and never claims a confirmed row", async () => {
		await pool.query("TRUNCATE outbox_events");
		const [{ id }] = await run<{ id: string }>(insertOutboxEvent("test.event", "group", { n: 1 }, 60_000));
		expect(await run(claimDueEvents(10, retry, "group"))).toEqual([]); // its writer's lease
		await pool.query("UPDATE outbox_events SET next_attempt_at = now()");
		const [claimed] = await run<OutboxRow>(claimDueEvents(10, retry, "group"));
		expect(claimed).toMatchObject({ id, attempts: 2 });
		expect(await run(claimDueEvents(10, retry, "group"))).toEqual([]);
		const [{ delay_ms }] = await run<{ delay_ms: number }>({
			text: "SELECT (extract(epoch FROM next_attempt_at - last_emitted_at) * 1000)::float8 AS delay_ms FROM outbox_events WHERE id = $1",
			values: [id]
		});
		// The writer's lease was the first delay (base); this is the second: twice that, jittered by half.
		expect(delay_ms).toBeGreaterThanOrEqual(retry.baseMs);
		expect(delay_ms).toBeLessThanOrEqual(2 * retry.baseMs);

		await pool.query("UPDATE outbox_events SET next_attempt_at = now()");
		await run(confirmEvents([id]));
		expect(await run(claimDueEvents(10, retry, "group"))).toEqual([]);
	});

	it("caps the backoff", async () => {
		await pool.query("TRUNCATE outbox_events");
		const [{ id }] = await run<{ id: string }>(insertOutboxEvent("test.event", "group", {}, 60_000));
		await pool.query("UPDATE outbox_events SET attempts = 5000, next_attempt_at = now() WHERE id = $1", [id]);
		await run(claimDueEvents(10, retry, "group"));
		const [{ delay_ms }] = await run<{ delay_ms: number }>({
			text: "SELECT (extract(epoch FROM next_attempt_at - last_emitted_at) * 1000)::float8 AS delay_ms FROM outbox_events WHERE id = $1",
			values: [id]
		});
		expect(delay_ms).toBeLessThanOrEqual(retry.maxMs);
		expect(delay_ms).toBeGreaterThanOrEqual(retry.maxMs / 2);
	});
});

describe("claiming for one consumer group", () => {
	it("leaves the rows of another group (one with no live instance) where they are, attempts untouched", async () => {
		await pool.query("TRUNCATE outbox_events");
		await run(insertOutboxEvent("test.event", "payments", { to: "payments" }, 0));
		await run(insertOutboxEvent("test.event", "orders", { to: "orders" }, 0));
		await pool.query("UPDATE outbox_events SET next_attempt_at = now()");
		const claimed = await run<OutboxRow>(claimDueEvents(10, retry, "orders"));
		expect(claimed.map(row => row.target_group)).toEqual(["orders"]);
		const [{ attempts }] = await run<{ attempts: number }>({ text: "SELECT attempts FROM outbox_events WHERE target_group = 'payments'", values: [] });
		expect(attempts).toBe(1);
		expect(await run(claimDueEvents(10, retry, "payments"))).toHaveLength(1);
	});
});

describe("a consumer's answers (issue 14)", () => {
	const parking = { maxFailures: 3, minAgeMs: 0 };
	async function newEvent(): Promise<string> {
		const [{ id }] = await run<{ id: string }>(insertOutboxEvent("test.event", "group", {}, 60_000));
		return id;
	}
	async function answer(id: string, kind: FailureKind, attempt: number | null, policy = parking) {
		return (await run<{ failures: number; dead_at: Date | null; counted: boolean }>(recordEventFailure(id, `a ${kind}`, kind, attempt, policy)))[0];
	}
	const stateOf = async (id: string) =>
		(
			await run<{ failures: number; dead_at: Date | null; answered_attempt: number; last_error: string | null }>({
				text: "SELECT failures, dead_at, answered_attempt, last_error FROM outbox_events WHERE id = $1",
				values: [id]
			})
		)[0];

	it("never counts an outage, however long it lasts", async () => {
		const id = await newEvent();
		for (let attempt = 1; attempt <= 50; attempt++) await answer(id, "outage", attempt);
		expect(await stateOf(id)).toMatchObject({ failures: 0, dead_at: null, answered_attempt: 50, last_error: "a outage" });
	});

	it("counts one failure per attempt, however many queued copies of it fail", async () => {
		const id = await newEvent();
		for (let copy = 0; copy < 10; copy++) await answer(id, "failure", 1);
		expect(await stateOf(id)).toMatchObject({ failures: 1, dead_at: null });
		await answer(id, "failure", 2);
		await answer(id, "failure", 1); // a late copy of an earlier attempt
		expect(await stateOf(id)).toMatchObject({ failures: 2, dead_at: null });
	});

	it("a consumer of version 1 (no attempt) answers the row's latest attempt", async () => {
		const id = await newEvent(); // attempts = 1
		await answer(id, "failure", null);
		await answer(id, "failure", null);
		expect(await stateOf(id)).toMatchObject({ failures: 1 });
	});

	it("parks after the failures only once the event is old enough", async () => {
		const id = await newEvent();
		const young = { maxFailures: 2, minAgeMs: 60_000 };
		for (let attempt = 1; attempt <= 5; attempt++) expect((await answer(id, "failure", attempt, young)).dead_at).toBeNull();
		await pool.query("UPDATE outbox_events SET created_at = now() - interval '2 minutes' WHERE id = $1", [id]);
		expect((await answer(id, "failure", 6, young)).dead_at).not.toBeNull();
	});

	it("parks a malformed event at once", async () => {
		const id = await newEvent();
		expect((await answer(id, "malformed", 1, { maxFailures: 10, minAgeMs: 3_600_000 })).dead_at).not.toBeNull();
	});

	it("counts an event as answered for the flow control once its latest attempt is answered", async () => {
		const id = await newEvent();
		expect(await run(countUnanswered([id]))).toEqual([{ unanswered: 1 }]);
		await answer(id, "outage", 1);
		expect(await run(countUnanswered([id]))).toEqual([{ unanswered: 0 }]);
		await pool.query("UPDATE outbox_events SET next_attempt_at = now() WHERE id = $1", [id]);
		await run(claimDueEvents(10, retry, "group")); // attempt 2
		expect(await run(countUnanswered([id]))).toEqual([{ unanswered: 1 }]);
	});

	it("a replayed dead event starts afresh, aged from now", async () => {
		const id = await newEvent();
		await pool.query("UPDATE outbox_events SET created_at = now() - interval '100 hours' WHERE id = $1", [id]);
		await answer(id, "malformed", 1);
		await run(reviveDeadEvents([id]));
		const [row] = await run<{ age_s: number; failures: number; answered_attempt: number; dead_at: Date | null }>({
			text: "SELECT extract(epoch FROM now() - created_at)::float8 AS age_s, failures, answered_attempt, dead_at FROM outbox_events WHERE id = $1",
			values: [id]
		});
		expect(row).toMatchObject({ failures: 0, answered_attempt: 1, dead_at: null });
		expect(row.age_s).toBeLessThan(60);
		// A stale copy of the attempt before the revive fails: not counted against the fresh start.
		expect((await answer(id, "failure", 1)).counted).toBe(false);
		await pool.query("UPDATE outbox_events SET next_attempt_at = now() WHERE id = $1", [id]);
		const [again] = await run<OutboxRow>(claimDueEvents(10, retry, "group"));
		expect(again.attempts).toBe(2);
		expect((await answer(id, "failure", 2)).counted).toBe(true);
	});
});

describe("leases", () => {
	it("count from the statement, not from the start of a slow transaction", async () => {
		await pool.query("TRUNCATE outbox_events");
		const client = await pool.connect();
		try {
			await client.query("BEGIN");
			await client.query("SELECT pg_sleep(1.2)"); // a slow transaction: now() stays at its start
			const query = insertOutboxEvent("test.event", "group", {}, 1000);
			await client.query(query.text, query.values);
			await client.query("COMMIT");
		} finally {
			client.release();
		}
		// With a lease of 500-1000 ms from the transaction's start, it would be due already at commit.
		expect(await run(claimDueEvents(10, retry, "group"))).toEqual([]);
	});
});
