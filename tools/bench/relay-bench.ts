/**
 * Outbox relay figures, on the orders service's outbox with orders instances as processes (one
 * relay, then two on one database) and two payments instances consuming, over RabbitMQ:
 * - a burst: N payment.requested rows committed in one statement by the bench, i.e. by a program
 *   without a relay (as a backfill, or a replay of dead events), so the relays hear of them only
 *   through Postgres NOTIFY; how fast they are emitted and how fast the consumer confirms them;
 * - latency: single rows committed one at a time, at a random moment relative to the relays'
 *   poll timers (so that a poll cannot pass for a notification); commit → claimed (emitted),
 *   → applied by payments, → confirmed back.
 * Times are the database's own (created_at, last_emitted_at, confirmed_at in the orders database,
 * payment_transactions.created_at in the payments database: one server, one clock).
 */
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { configuration } from "../../platform/config";
import { ordersMigrations } from "../../services/orders/migrations/index";
import { paymentsMigrations } from "../../services/payments/migrations/index";
import { runMigrations } from "../../platform/migrate";
import { epochMs, sleep, wallClockMs } from "./clock";
import type { BenchConfig } from "./config";
import { perSecond } from "./format";
import { freePort } from "../free-port";
import { waitUntilNamespaceQueuesEmpty } from "./rabbitmq";
import type { RelayBurst, RelayScenario } from "./results";
import { startRunnerNode, stopRunnerNodes, waitUntilReady, type RunnerNode } from "./runner-node";
import { summarize } from "./stats";
import { clusterNodeEnv, createClusterResources } from "./system-under-test";
import type { Teardown } from "./teardown";

const ACCOUNTS = 100;
const USER_PREFIX = "relay-";
const BURST_POLL_MS = 25;
const BURST_TIMEOUT_MS = 180_000;
const SAMPLE_POLL_MS = 5;
const SAMPLE_TIMEOUT_MS = 30_000;

interface BurstPoll {
	unclaimed: number;
	unconfirmed: number;
	emits: number;
	first_emit: number | null;
	last_first_emit: number | null;
	last_confirmed: number | null;
}

async function measureBurst(orders: Client, events: number): Promise<Omit<RelayBurst, "settledSeconds">> {
	const { rows } = await orders.query<{ since: string; committed: number }>(
		`WITH burst AS (
			INSERT INTO outbox_events (event_name, target_group, payload)
			SELECT 'payment.requested', 'payments', jsonb_build_object('orderId', gen_random_uuid(), 'userId', $1::text || (i % $2::int), 'amountMinor', 1)
			FROM generate_series(1, $3::int) AS i RETURNING created_at
		) SELECT min(created_at)::text AS since, ${epochMs("clock_timestamp()")} AS committed FROM burst`,
		[USER_PREFIX, ACCOUNTS, events]
	);
	const { since, committed } = rows[0];
	let firstEmit: number | null = null;
	let allEmitted: number | null = null;
	const deadline = Date.now() + BURST_TIMEOUT_MS;
	for (;;) {
		const [poll] = (
			await orders.query<BurstPoll>(
				`SELECT count(*) FILTER (WHERE attempts = 0)::int AS unclaimed,
					count(*) FILTER (WHERE confirmed_at IS NULL)::int AS unconfirmed,
					coalesce(sum(attempts), 0)::int AS emits,
					${epochMs("min(last_emitted_at)")} AS first_emit,
					${epochMs("max(last_emitted_at) FILTER (WHERE attempts = 1)")} AS last_first_emit,
					${epochMs("max(confirmed_at)")} AS last_confirmed
				FROM outbox_events WHERE created_at >= $1::timestamptz`,
				[since]
			)
		).rows;
		// The first claims are read before any row can be due again (retries wait half a second at least).
		if (firstEmit === null && poll.unclaimed < events) firstEmit = poll.first_emit;
		if (allEmitted === null && poll.unclaimed === 0) allEmitted = poll.last_first_emit;
		if (poll.unconfirmed === 0 || Date.now() > deadline) {
			const start = firstEmit ?? committed;
			return {
				events,
				waitForFirstEmitMs: start - committed,
				emittedPerSecond: allEmitted !== null && allEmitted > start ? events / ((allEmitted - start) / 1000) : Number.NaN,
				confirmedPerSecond: poll.unconfirmed === 0 && poll.last_confirmed !== null ? events / ((poll.last_confirmed - start) / 1000) : Number.NaN,
				reemits: poll.emits - events,
				unconfirmed: poll.unconfirmed
			};
		}
		await sleep(BURST_POLL_MS);
	}
}

/**
 * Waits until the burst's aftermath is over: the payments outbox (its results) confirmed and no
 * message, re-emits included, left in any queue. Latency samples taken earlier would queue
 * behind the duplicates.
 */
async function waitUntilSettled(payments: Client, config: BenchConfig, namespace: string): Promise<void> {
	const deadline = Date.now() + BURST_TIMEOUT_MS;
	while (Date.now() < deadline) {
		const { rows } = await payments.query<{ unconfirmed: number }>("SELECT count(*)::int AS unconfirmed FROM outbox_events WHERE confirmed_at IS NULL");
		if (rows[0].unconfirmed === 0) break;
		await sleep(BURST_POLL_MS);
	}
	await waitUntilNamespaceQueuesEmpty(config.transporter, namespace, Math.max(0, deadline - Date.now()));
}

interface SampleTimes {
	created: number;
	emitted: number;
	attempts: number;
	confirmed: number | null;
}

async function measureLatency(orders: Client, payments: Client, samples: number, pollIntervalMs: number): Promise<RelayScenario["latency"]> {
	const emit: number[] = [];
	const applied: number[] = [];
	const confirmed: number[] = [];
	for (let i = 0; i < samples; i++) {
		// A random phase against the relays' timers: committing right after a poll would always wait a whole interval.
		await sleep(Math.random() * pollIntervalMs);
		const orderId = randomUUID();
		const { rows } = await orders.query<{ id: string }>(
			`INSERT INTO outbox_events (event_name, target_group, payload)
			VALUES ('payment.requested', 'payments', jsonb_build_object('orderId', $1::uuid, 'userId', $2::text, 'amountMinor', 1)) RETURNING id`,
			[orderId, `${USER_PREFIX}${i % ACCOUNTS}`]
		);
		const deadline = Date.now() + SAMPLE_TIMEOUT_MS;
		let times: SampleTimes;
		do {
			await sleep(SAMPLE_POLL_MS);
			times = (
				await orders.query<SampleTimes>(
					`SELECT ${epochMs("created_at")} AS created, ${epochMs("last_emitted_at")} AS emitted, attempts, ${epochMs("confirmed_at")} AS confirmed
					FROM outbox_events WHERE id = $1::uuid`,
					[rows[0].id]
				)
			).rows[0];
		} while (times.confirmed === null && Date.now() < deadline);
		if (times.confirmed === null || times.attempts !== 1) continue; // lost, or re-emitted (its first claim time is gone)
		const [payment] = (await payments.query<{ at: number }>(`SELECT ${epochMs("created_at")} AS at FROM payment_transactions WHERE order_id = $1::uuid`, [orderId])).rows;
		emit.push(times.emitted - times.created);
		if (payment) applied.push(payment.at - times.created);
		confirmed.push(times.confirmed - times.created);
	}
	return { samples: emit.length, commitToEmit: summarize(emit), commitToApplied: summarize(applied), commitToConfirmed: summarize(confirmed) };
}

export async function measureRelay(config: BenchConfig, runId: string, teardown: Teardown): Promise<RelayScenario[]> {
	const mark = teardown.mark;
	const namespace = `bench-${runId}-relay`;
	const names = [`bench_${runId}_relay_orders`, `bench_${runId}_relay_payments`];
	const [ordersUrl, paymentsUrl] = await createClusterResources(config, names, namespace, teardown);
	const nodes: RunnerNode[] = [];
	teardown.add("stop the relay nodes", () => stopRunnerNodes(nodes));
	const orders = new Client({ connectionString: ordersUrl });
	const payments = new Client({ connectionString: paymentsUrl });
	teardown.add("close the relay bench's connections", async () => {
		await orders.end();
		await payments.end();
	});
	try {
		await runMigrations(ordersUrl, ordersMigrations, () => undefined);
		await runMigrations(paymentsUrl, paymentsMigrations, () => undefined);
		await Promise.all([orders.connect(), payments.connect()]);
		await payments.query("INSERT INTO accounts (user_id, balance_minor) SELECT $1::text || i, 10000000000000 FROM generate_series(0, $2::int - 1) AS i", [USER_PREFIX, ACCOUNTS]);
		const start = async (name: string, services: string) => {
			const healthPort = await freePort();
			const env = { ...clusterNodeEnv(config, namespace, name, { orders: ordersUrl, payments: paymentsUrl }), SERVICES: services, HEALTH_PORT: String(healthPort) };
			nodes.push(startRunnerNode(name, env));
			return `http://127.0.0.1:${healthPort}/ready`;
		};
		const ready = [await start("payments-1", "payments"), await start("payments-2", "payments"), await start("orders-1", "orders")];
		for (const url of ready) await waitUntilReady(url, nodes);

		const { pollIntervalMs } = configuration().outbox;
		const scenarios: RelayScenario[] = [];
		for (const relays of [1, 2]) {
			if (relays === 2) await waitUntilReady(await start("orders-2", "orders"), nodes);
			const burstStartedAt = wallClockMs();
			const burst = { ...(await measureBurst(orders, config.relayEvents)), settledSeconds: 0 };
			await waitUntilSettled(payments, config, namespace);
			burst.settledSeconds = (wallClockMs() - burstStartedAt) / 1000;
			console.log(
				`bench | relay ×${relays}: burst of ${burst.events}: ${perSecond(burst.emittedPerSecond)} emitted/s, ${perSecond(burst.confirmedPerSecond)} confirmed/s, ` +
					`${burst.reemits} re-emits, settled after ${burst.settledSeconds.toFixed(1)} s`
			);
			const latency = await measureLatency(orders, payments, config.relaySamples, pollIntervalMs);
			console.log(`bench | relay ×${relays}: commit → emit p50 ${latency.commitToEmit.p50.toFixed(0)} ms, max ${latency.commitToEmit.max.toFixed(0)} ms`);
			scenarios.push({ relays, burst, latency });
		}
		return scenarios;
	} finally {
		await teardown.run(mark);
	}
}
