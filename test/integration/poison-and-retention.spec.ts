/**
 * Poison events and retention, on the whole system in one process (real Postgres): an event that
 * keeps failing is retried, then parked as dead with its last error, without holding up anything
 * else, and can be replayed once fixed; a malformed event is parked at once; old rows are removed
 * by the retention job. (A configuration whose inbox would forget ids too early is refused: test/unit/config.spec.ts.)
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

let system: TestSystem;

beforeAll(async () => {
	system = await startSystem({ outbox: { pollIntervalMs: 100, batchSize: 100, retry: { baseMs: 200, maxMs: 400 }, parking: { maxFailures: 3, minAgeMs: 0 } } });
});

afterAll(async () => {
	await system?.stop();
});

/** A NEW order that nothing will pay (written directly, with no payment request of its own). */
async function strandedOrder(user: string): Promise<string> {
	const id = randomUUID();
	await system.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, $2, 500, 'stranded')", [id, user]);
	return id;
}

async function addPaymentsOutboxEvent(payload: unknown): Promise<string> {
	const [row] = await system.sql("payments", "INSERT INTO outbox_events (event_name, target_group, payload) VALUES ($1, 'orders', $2) RETURNING id", [
		PAYMENT_EVENTS.PAYMENT_PROCESSED,
		JSON.stringify(payload)
	]);
	return row.id;
}

const outboxRow = async (id: string) => (await system.sql("payments", "SELECT attempts, failures, last_error, dead_at, confirmed_at FROM outbox_events WHERE id = $1", [id]))[0];

describe("poison events", () => {
	it("parks an event that keeps failing after the configured failures, and nothing else waits for it", async () => {
		const user = `poison-${Date.now()}`;
		const orderId = await strandedOrder(user);
		// A REFUSED result without a reason: valid in shape, but the orders table refuses it (CHECK).
		const poison = await addPaymentsOutboxEvent({ orderId, outcome: "REFUSED", reason: null });
		const payer = `payer-${Date.now()}`;
		await system.request("POST", "/api/accounts", { user: payer, body: {} });
		await system.request("POST", "/api/accounts/topup", { user: payer, body: { amount: 10 } });
		const healthy = (await system.request("POST", "/api/orders", { user: payer, body: { amount: 1, description: "unaffected" } })).body;
		expect(await waitForOrderEnd(system, payer, healthy.id)).toMatchObject({ status: "FINISHED" });

		const dead = await waitFor("the poison event to be parked", async () => {
			const row = await outboxRow(poison);
			return row.dead_at ? row : null;
		});
		expect(dead.failures).toBe(3);
		expect(dead.last_error).toMatch(/check constraint/i);
		expect(dead.confirmed_at).toBeNull();
		const attempts = dead.attempts;
		await new Promise(resolve => setTimeout(resolve, 500));
		expect((await outboxRow(poison)).attempts).toBe(attempts); // no longer re-emitted

		const listed = await system.brokers.payments.call<{ id: string; last_error: string }[], object>("payments.deadEvents", {});
		expect(listed.map(e => e.id)).toContain(poison);

		// Fixed at the source, then replayed: it is applied.
		await system.sql("payments", "UPDATE outbox_events SET payload = jsonb_set(payload, '{reason}', '\"INSUFFICIENT_FUNDS\"') WHERE id = $1", [poison]);
		const replay = await system.brokers.payments.call<{ replayed: string[] }, object>("payments.replayDeadEvents", { ids: [poison] });
		expect(replay.replayed).toEqual([poison]);
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
		await waitFor("the replayed event to be confirmed", async () => (await outboxRow(poison)).confirmed_at !== null);
	});

	it("parks a malformed event at once, with the reason", async () => {
		const malformed = await addPaymentsOutboxEvent({ orderId: "not-a-uuid", outcome: "PAID", reason: null, extra: 1 });
		const dead = await waitFor("the malformed event to be parked", async () => {
			const row = await outboxRow(malformed);
			return row.dead_at ? row : null;
		});
		expect(dead.failures).toBe(1);
		expect(dead.last_error).toMatch(/^Malformed event: .*UUID/);
		expect(await system.sql("orders", "SELECT 1 FROM inbox_events WHERE event_id = $1", [malformed])).toEqual([]);
	});

	it("counts dead events in the outbox status", async () => {
		const status = await system.brokers.payments.call<{ dead: number }, object>("payments.outboxStatus", {});
		expect(status.dead).toBeGreaterThanOrEqual(1);
	});
});

/** Events the orders instance counted as parked, over the last minutes (the operator page's figure). */
async function parkedInActivity(): Promise<number> {
	const { buckets } = await system.brokers.orders.call<{ buckets: { dead: number }[] }, object>("orders.outboxActivity", {});
	return buckets.reduce((sum, bucket) => sum + bucket.dead, 0);
}

describe("retention", () => {
	it("removes old confirmed events, inbox ids and idempotency keys, and parks events past the redelivery horizon", async () => {
		const hours = (n: number) => `now() - interval '${n} hours'`;
		const [oldConfirmed] = await system.sql(
			"orders",
			`INSERT INTO outbox_events (event_name, target_group, payload, confirmed_at, created_at) VALUES ('x', 'y', '{}', ${hours(30)}, ${hours(31)}) RETURNING id`
		);
		const [recentConfirmed] = await system.sql("orders", `INSERT INTO outbox_events (event_name, target_group, payload, confirmed_at) VALUES ('x', 'y', '{}', now()) RETURNING id`);
		const [stale] = await system.sql(
			"orders",
			`INSERT INTO outbox_events (event_name, target_group, payload, created_at, next_attempt_at) VALUES ('x', 'y', '{}', ${hours(100)}, now() + interval '1 hour') RETURNING id`
		);
		const oldInbox = randomUUID();
		await system.sql("orders", `INSERT INTO inbox_events (event_id, event_name, source, received_at) VALUES ($1, 'x', 'y', ${hours(200)})`, [oldInbox]);
		await system.sql(
			"orders",
			`INSERT INTO idempotency_keys (user_id, operation, key, request_hash, response_status, response_body, created_at) VALUES ('u', 'op', 'old', 'h', 201, '{}', ${hours(30)})`
		);
		await system.sql("orders", "DELETE FROM maintenance_runs");

		const orders = system.brokers.orders.getLocalService("orders") as unknown as { runRetention(): Promise<Record<string, number> | null> };
		const parkedBefore = await parkedInActivity();
		const removed = await orders.runRetention();
		expect(removed).toMatchObject({ expiredEvents: 1, inboxEvents: 1, idempotencyKeys: 1 });
		// Parked by retention is parked all the same: the operator page's figures count it.
		expect(await parkedInActivity()).toBe(parkedBefore + 1);
		expect(removed!.confirmedEvents).toBeGreaterThanOrEqual(1);
		const ids = (await system.sql("orders", "SELECT id FROM outbox_events")).map(r => r.id);
		expect(ids).not.toContain(oldConfirmed.id);
		expect(ids).toContain(recentConfirmed.id);
		expect((await system.sql("orders", "SELECT dead_at, last_error FROM outbox_events WHERE id = $1", [stale.id]))[0].last_error).toMatch(/^Expired/);

		// Another run in the same interval (another instance, say) does nothing.
		expect(await orders.runRetention()).toBeNull();
	});
});
