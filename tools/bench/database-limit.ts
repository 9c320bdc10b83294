/**
 * The reference limit: what the database alone allows. Each order runs the transactions the
 * services run for it, with the services' own SQL builders, straight through `pg` (one pool per
 * database, as many connections as clients, no messaging):
 *   (i)   orders:   BEGIN; INSERT order; INSERT outbox payment.requested; COMMIT
 *   (ii)  payments: BEGIN; INSERT inbox; lock the order; SELECT payment; UPDATE account (debit) with its movement;
 *                   INSERT payment_transactions; INSERT outbox payment.processed; COMMIT
 *   (iii) orders:   BEGIN; INSERT inbox; UPDATE order status; COMMIT
 * and the confirmations of its two events, batched as the consumers batch them: one UPDATE outbox
 * per database every CONFIRMATION_INTERVAL_MS for every event applied meanwhile (as one consumer
 * instance does; the cluster has two per service), not awaited by the client, as no client of the
 * system waits for a confirmation.
 * On fresh databases of the same server, migrated with the services' migrations.
 */
import { randomUUID } from "node:crypto";
import { Client, Pool, type PoolClient } from "pg";
import { PAYMENT_EVENTS, PAYMENT_OUTCOMES, type PaymentProcessedPayload } from "../../services/payments/contracts";
import { ORDER_EVENTS, type PaymentRequestedPayload } from "../../services/orders/contracts";
import { recordInboxEvent } from "../../mixins/inbox-sql";
import { ORDER_STATUSES, finishOrder, insertOrder } from "../../services/orders/orders-sql";
import { confirmEvents, insertOutboxEvent } from "../../mixins/outbox-sql";
import { debitAccount, insertPayment, lockOrderDecision, selectPayment } from "../../services/payments/payments-sql";
import { CONFIRMATION_INTERVAL_MS } from "../../mixins/inbox.mixin";
import { configuration } from "../../platform/config";
import { ordersMigrations } from "../../services/orders/migrations/index";
import { paymentsMigrations } from "../../services/payments/migrations/index";
import { runMigrations } from "../../platform/migrate";
import { createDatabases, dropDatabases } from "../throwaway-databases";
import { sleep, wallClockMs } from "./clock";
import { ResourceSampler } from "./resource-sampler";
import type { DatabaseLimitLevel } from "./results";
import { summarize } from "./stats";
import type { Teardown } from "./teardown";

interface Pools {
	orders: Pool;
	payments: Pool;
}

const AMOUNT_MINOR = 100;
const LARGE_BALANCE_MINOR = 10_000_000_000_000;

const USER_PREFIX = "limit-";

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query("BEGIN");
		const result = await work(client);
		await client.query("COMMIT");
		return result;
	} catch (err) {
		await client.query("ROLLBACK").catch(() => undefined);
		throw err;
	} finally {
		client.release();
	}
}

/** The lease the services' outbox writes each new row with: their first retry delay. */
const LEASE_MS = configuration().outbox.retry.baseMs;

/** Event ids applied and not yet confirmed, by the database of their outbox. */
type Unconfirmed = Record<keyof Pools, string[]>;

/** One order's transactions; resolves when its status is final (after iii), its events left to confirm. */
async function runOrderTransactions(pools: Pools, userId: string, unconfirmed: Unconfirmed): Promise<void> {
	const orderId = randomUUID();
	const request: PaymentRequestedPayload = { orderId, userId, amountMinor: AMOUNT_MINOR };
	const requestId = await inTransaction(pools.orders, async client => {
		const eventId = (await client.query<{ id: string }>(insertOutboxEvent(ORDER_EVENTS.PAYMENT_REQUESTED, "payments", request, LEASE_MS))).rows[0].id;
		await client.query(insertOrder(orderId, userId, AMOUNT_MINOR, "bench order", eventId));
		return eventId;
	});
	const result: PaymentProcessedPayload = { orderId, outcome: PAYMENT_OUTCOMES.PAID, reason: null };
	const resultId = await inTransaction(pools.payments, async client => {
		await client.query(recordInboxEvent(requestId, ORDER_EVENTS.PAYMENT_REQUESTED, "orders"));
		await client.query(lockOrderDecision(orderId));
		await client.query(selectPayment(orderId));
		const debited = await client.query(debitAccount(userId, AMOUNT_MINOR, orderId));
		if (debited.rowCount !== 1) throw new Error(`The debit of ${userId} failed.`);
		const eventId = (await client.query<{ id: string }>(insertOutboxEvent(PAYMENT_EVENTS.PAYMENT_PROCESSED, "orders", result, LEASE_MS))).rows[0].id;
		await client.query(insertPayment(orderId, userId, AMOUNT_MINOR, result.outcome, result.reason, eventId));
		return eventId;
	});
	await inTransaction(pools.orders, async client => {
		await client.query(recordInboxEvent(resultId, PAYMENT_EVENTS.PAYMENT_PROCESSED, "payments"));
		await client.query(finishOrder(orderId, ORDER_STATUSES.FINISHED, null));
	});
	unconfirmed.orders.push(requestId);
	unconfirmed.payments.push(resultId);
}

/** One UPDATE per database for the events applied since the last call. */
async function confirmApplied(pools: Pools, unconfirmed: Unconfirmed): Promise<void> {
	await Promise.all(
		(Object.keys(pools) as (keyof Pools)[]).map(async database => {
			const eventIds = unconfirmed[database].splice(0);
			if (eventIds.length > 0) await pools[database].query(confirmEvents(eventIds));
		})
	);
}

/** A pool per database: a connection per client, and one for the confirmations, which no client waits for. */
function poolSize(clients: number): number {
	return clients + 1;
}

async function measureLevel(urls: { orders: string; payments: string }, clients: number, warmupMs: number, measureMs: number): Promise<DatabaseLimitLevel> {
	const pools: Pools = {
		orders: new Pool({ connectionString: urls.orders, max: poolSize(clients) }),
		payments: new Pool({ connectionString: urls.payments, max: poolSize(clients) })
	};
	let firstError: string | null = null;
	for (const pool of [pools.orders, pools.payments]) pool.on("error", (err: Error) => (firstError ??= err.message)); // an idle connection dropped
	const measureFrom = wallClockMs() + warmupMs;
	const measureTo = measureFrom + measureMs;
	const latencies: number[] = [];
	let completed = 0;
	let errors = 0;
	const unconfirmed: Unconfirmed = { orders: [], payments: [] };
	const confirm = () => confirmApplied(pools, unconfirmed).catch((err: Error) => void (firstError ??= err.message));
	let confirmations: NodeJS.Timeout | undefined;

	const worker = async (userId: string) => {
		while (wallClockMs() < measureTo) {
			const startedAt = wallClockMs();
			try {
				await runOrderTransactions(pools, userId, unconfirmed);
				const finalAt = wallClockMs();
				if (startedAt >= measureFrom) latencies.push(finalAt - startedAt);
				if (finalAt >= measureFrom && finalAt < measureTo) completed++;
			} catch (err) {
				errors++;
				firstError ??= (err as Error).message;
				await sleep(100);
			}
		}
	};
	try {
		const sampler = new ResourceSampler([]);
		confirmations = setInterval(() => void confirm(), CONFIRMATION_INTERVAL_MS);
		const workers = Promise.all(Array.from({ length: clients }, (_, index) => worker(`${USER_PREFIX}${index}`)));
		await sleep(measureFrom - wallClockMs());
		sampler.start();
		await sleep(measureTo - wallClockMs());
		const resources = sampler.stop();
		await workers;
		clearInterval(confirmations);
		await confirm();
		return { clients, ordersPerSecond: completed / (measureMs / 1000), createToFinal: summarize(latencies), errors, firstError, resources };
	} finally {
		clearInterval(confirmations);
		await Promise.all([pools.orders.end(), pools.payments.end()]);
	}
}

/** How long to wait for the system's idle connections to close (its pools close them after 10 s idle). */
const FREE_CONNECTIONS_TIMEOUT_MS = 20_000;

/**
 * Waits until the server can take `needed` more connections: the limit runs seconds after the
 * system's level, whose idle pooled connections may still be open.
 */
async function awaitFreeConnections(adminUrl: string, needed: number): Promise<void> {
	const client = new Client({ connectionString: adminUrl });
	await client.connect();
	try {
		const deadline = Date.now() + FREE_CONNECTIONS_TIMEOUT_MS;
		for (;;) {
			const { rows } = await client.query<{ free: number }>(
				"SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*)::int AS free FROM pg_stat_activity WHERE backend_type = 'client backend'"
			);
			if (rows[0].free >= needed) return;
			if (Date.now() > deadline) {
				console.warn(`bench | only ${rows[0].free} free database connections of the ${needed} the limit needs: expect errors in its figures.`);
				return;
			}
			await sleep(500);
		}
	} finally {
		await client.end();
	}
}

/** The limit at one concurrency level, on databases prepared once. */
export interface DatabaseLimit {
	measure(clients: number, warmupMs: number, measureMs: number): Promise<DatabaseLimitLevel>;
}

/** Fresh databases on the server behind `adminUrl` (named after `prefix`), migrated and seeded for `maxClients` clients; the teardown drops them. */
export async function prepareDatabaseLimit(adminUrl: string, prefix: string, maxClients: number, teardown: Teardown): Promise<DatabaseLimit> {
	const names = [`${prefix}_limit_orders`, `${prefix}_limit_payments`];
	const [orders, payments] = await createDatabases(adminUrl, names);
	teardown.add(`drop ${names.join(", ")}`, () => dropDatabases(adminUrl, names));
	await runMigrations(orders, ordersMigrations, () => undefined);
	await runMigrations(payments, paymentsMigrations, () => undefined);
	const seed = new Pool({ connectionString: payments, max: 1 });
	try {
		await seed.query("INSERT INTO accounts (user_id, balance_minor) SELECT $1::text || i, $2::bigint FROM generate_series(0, $3::int - 1) AS i", [USER_PREFIX, LARGE_BALANCE_MINOR, maxClients]);
	} finally {
		await seed.end();
	}
	return {
		async measure(clients, warmupMs, measureMs) {
			await awaitFreeConnections(adminUrl, 2 * poolSize(clients));
			const level = await measureLevel({ orders, payments }, clients, warmupMs, measureMs);
			console.log(
				`bench | database limit, ${clients} client(s): ${level.ordersPerSecond.toFixed(0)} orders/s, p50 ${level.createToFinal.p50.toFixed(1)} ms` +
					(level.firstError ? ` (errors: ${level.errors}; first: ${level.firstError})` : "")
			);
			return level;
		}
	};
}
