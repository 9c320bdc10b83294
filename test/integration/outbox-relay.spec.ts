/**
 * The relay on rows its service did not emit itself (real Postgres, the whole system in one
 * process). The relays poll only every ten minutes here, so an event emitted within seconds was
 * woken by a Postgres notification: a row made due by another program or by an operator's UPDATE,
 * one made due while the notification connection was down (caught up on reconnection), and no
 * notification on the normal path. A backlog is emitted at the pace the consumer applies it, not re-emitted while it queues.
 */
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORDER_EVENTS } from "../../services/orders/contracts";
import { OUTBOX_DUE_CHANNEL } from "../../mixins/outbox-sql";
import { startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const NO_POLLING = { pollIntervalMs: 600_000, batchSize: 50, retry: { baseMs: 300, maxMs: 1000 }, parking: { maxFailures: 10, minAgeMs: 0 } };
const PROMPTLY_MS = 5_000;
const ORDERS_LISTENER = `orders ${OUTBOX_DUE_CHANNEL} listener`;

let system: TestSystem;
let user: string;

beforeAll(async () => {
	system = await startSystem({ outbox: NO_POLLING });
	user = `notified-${randomUUID()}`;
	await system.request("POST", "/api/accounts", { user, body: {} });
	await system.request("POST", "/api/accounts/topup", { user, body: { amount: 100 } });
	await waitFor("the orders relay to listen", () => listenerBackends());
});

afterAll(async () => {
	await system?.stop();
});

async function listenerBackends(): Promise<number> {
	const rows = await system.sql("orders", "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1", [ORDERS_LISTENER]);
	return rows[0].n;
}

/** An order and its payment request, written the way another program would: due at once, emitted by no one. */
async function orderWrittenElsewhere(): Promise<string> {
	const orderId = randomUUID();
	await system.sql(
		"orders",
		`WITH o AS (INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, $2, 100, 'written elsewhere'))
		INSERT INTO outbox_events (event_name, target_group, payload) VALUES ($3, 'payments', $4)`,
		[orderId, user, ORDER_EVENTS.PAYMENT_REQUESTED, JSON.stringify({ orderId, userId: user, amountMinor: 100 })]
	);
	return orderId;
}

describe("relays woken by notifications", () => {
	it("emits a row made due by another program at once", async () => {
		const status = await system.brokers.orders.call<{ listeningForDueEvents: boolean }, object>("orders.outboxStatus", {});
		expect(status.listeningForDueEvents).toBe(true);
		const orderId = await orderWrittenElsewhere();
		expect(await waitForOrderEnd(system, user, orderId, PROMPTLY_MS)).toMatchObject({ status: "FINISHED" });
	});

	it("emits a leased row at once when an operator makes it due", async () => {
		const orderId = randomUUID();
		const [row] = await system.sql(
			"orders",
			`WITH o AS (INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, $2, 100, 'made due by hand'))
			INSERT INTO outbox_events (event_name, target_group, payload, next_attempt_at) VALUES ($3, 'payments', $4, now() + interval '1 hour') RETURNING id`,
			[orderId, user, ORDER_EVENTS.PAYMENT_REQUESTED, JSON.stringify({ orderId, userId: user, amountMinor: 100 })]
		);
		await system.sql("orders", "UPDATE outbox_events SET next_attempt_at = now() WHERE id = $1", [row.id]);
		expect(await waitForOrderEnd(system, user, orderId, PROMPTLY_MS)).toMatchObject({ status: "FINISHED" });
	});

	it("catches up on reconnection with what became due while its connection was down", async () => {
		const [terminated] = await system.sql("orders", "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1", [
			ORDERS_LISTENER
		]);
		expect(terminated.n).toBe(1);
		const orderId = await orderWrittenElsewhere(); // nobody listens now
		expect(await waitForOrderEnd(system, user, orderId, PROMPTLY_MS)).toMatchObject({ status: "FINISHED" });
		expect(await listenerBackends()).toBe(1);

		const next = await orderWrittenElsewhere(); // and it listens again
		expect(await waitForOrderEnd(system, user, next, PROMPTLY_MS)).toMatchObject({ status: "FINISHED" });
	});

	it("sends no notification on the normal path, where the writer emits its own events", async () => {
		const client = new Client({ connectionString: system.databaseUrls.orders });
		await client.connect();
		const notified: string[] = [];
		client.on("notification", message => notified.push(message.channel));
		await client.query(`LISTEN ${OUTBOX_DUE_CHANNEL}`);
		try {
			const created = await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "normal path" } });
			expect(await waitForOrderEnd(system, user, created.body.id, PROMPTLY_MS)).toMatchObject({ status: "FINISHED" });
			await waitFor("the order's event to be confirmed", async () => {
				const rows = await system.sql("orders", "SELECT confirmed_at FROM outbox_events WHERE payload->>'orderId' = $1", [created.body.id]);
				return rows[0]?.confirmed_at;
			});
			expect(notified).toEqual([]);
			// A control: a row written elsewhere is heard on this connection.
			await orderWrittenElsewhere();
			await waitFor("the control notification", async () => notified.length > 0, PROMPTLY_MS);
			expect(notified).toEqual([OUTBOX_DUE_CHANNEL]);
		} finally {
			await client.end();
		}
	});
});

describe("a backlog", () => {
	let polling: TestSystem;
	afterAll(async () => {
		await polling?.stop();
	});

	it("is emitted at the pace the consumer applies it: next to no event is sent twice", async () => {
		// Frequent polls and short leases: any event still queued when its lease ends is emitted again.
		polling = await startSystem({ outbox: { pollIntervalMs: 100, batchSize: 50, retry: { baseMs: 1000, maxMs: 2000 }, parking: { maxFailures: 10, minAgeMs: 0 } } });
		const backlog = 600;
		await polling.request("POST", "/api/accounts", { user, body: {} });
		await polling.request("POST", "/api/accounts/topup", { user, body: { amount: backlog } });
		const [{ since }] = await polling.sql("orders", "SELECT now() AS since");
		await polling.sql(
			"orders",
			`WITH o AS (
				INSERT INTO orders (id, user_id, amount_minor, description)
				SELECT gen_random_uuid(), $1, 100, 'backlog' FROM generate_series(1, $2::int) RETURNING id
			)
			INSERT INTO outbox_events (event_name, target_group, payload)
			SELECT $3, 'payments', jsonb_build_object('orderId', id, 'userId', $1::text, 'amountMinor', 100) FROM o`,
			[user, backlog, ORDER_EVENTS.PAYMENT_REQUESTED]
		);
		const counts = () =>
			polling.sql("orders", "SELECT count(*)::int AS rows, sum(attempts)::int AS emits, count(confirmed_at)::int AS confirmed FROM outbox_events WHERE created_at >= $1", [since]);
		const [done] = await waitFor(
			"the backlog to be confirmed",
			async () => {
				const rows = await counts();
				return rows[0].confirmed === backlog ? rows : null;
			},
			60_000
		);
		expect(done.rows).toBe(backlog);
		// Without flow control, all 600 leave at once and most outlive their lease in the queue (measured: 1.5 emits per row).
		expect(done.emits - backlog).toBeLessThan(backlog * 0.1);
		const [{ finished }] = await polling.sql("orders", "SELECT count(*)::int AS finished FROM orders WHERE description = 'backlog' AND status = 'FINISHED'");
		expect(finished).toBe(backlog);
	});
});
