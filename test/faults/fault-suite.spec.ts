/**
 * The fault suite (`npm run test:faults`): the cluster as separate processes (gateway, 2× orders,
 * 2× payments) over the machine's RabbitMQ and Postgres, fresh databases, its own namespace.
 * Hundreds of users place thousands of orders, retrying with their Idempotency-Key on errors as a
 * real client would, while processes are SIGKILLed mid-flight and restarted, RabbitMQ's app is
 * stopped and started, the services' Postgres connections are terminated, and every process
 * loses and doubles some deliveries (FAULT_INJECTION). When the faults are over it waits for
 * quiescence and checks: nothing lost, nothing applied twice, every ledger balanced.
 *
 * It changes the machine's RabbitMQ for a few seconds (`rabbitmqctl stop_app`): run it alone.
 * Figures are printed and written to test-results/faults.json.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../lib/paths";
import { CLUSTER_NODES, spawnRunner } from "../../scripts/runner-process";
import { collectOutput, createTestDatabases, freePortBlock, waitFor, type TestDatabases } from "../support/system";

const run = promisify(execFile);
const rabbitmqUrl = inject("rabbitmqUrl");
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

const USERS = Number(process.env.FAULT_USERS ?? 200);
const ORDERS = Number(process.env.FAULT_ORDERS ?? 2000);
/** Orders are started at this rate, so that the load spans the whole fault schedule. */
const ORDERS_PER_SECOND = Number(process.env.FAULT_ORDERS_PER_SECOND ?? 50);
const FAULT_INJECTION = process.env.FAULT_INJECTION ?? "drop=0.05,duplicate=0.05";

interface Node {
	id: string;
	services: string;
	process: ChildProcess;
}

let databases: TestDatabases;
let port: number;
let namespace: string;
const nodes = new Map<string, Node>();
const output: string[] = [];

function startNode(id: string, services: string, index: number): Node {
	const child = spawnRunner({
		SERVICES: services,
		NODE_ID: `${namespace}-${id}`,
		NAMESPACE: namespace,
		TRANSPORTER: rabbitmqUrl!,
		AMQP_QUEUE_EXPIRY_MS: "300000",
		ORDERS_DATABASE_URL: databases.orders,
		PAYMENTS_DATABASE_URL: databases.payments,
		PORT: String(port),
		HEALTH_PORT: String(port + 1 + index),
		OUTBOX_POLL_INTERVAL_MS: "500",
		OUTBOX_RETRY_BASE_MS: "500",
		OUTBOX_RETRY_MAX_MS: "5000",
		FAULT_INJECTION,
		LOG_FORMAT: "json",
		LOGLEVEL: "info"
	});
	collectOutput(child, output);
	const node = { id, services, process: child };
	nodes.set(id, node);
	return node;
}

async function restart(id: string): Promise<void> {
	const index = CLUSTER_NODES.findIndex(node => node.id === id);
	startNode(id, CLUSTER_NODES[index].services, index);
	await waitFor(`${id} to be ready`, async () => (await fetch(`http://127.0.0.1:${port + 1 + index}/ready`).catch(() => null))?.ok, 60_000);
}

function kill(id: string): void {
	nodes.get(id)?.process.kill("SIGKILL");
}

// --- the client: retries with the same Idempotency-Key until it gets an answer that is not an error of the server's
interface Answer {
	status: number;
	body: any;
	attempts: number;
}

async function call(method: string, urlPath: string, user: string, body: unknown, key: string): Promise<Answer> {
	const deadline = Date.now() + 180_000;
	for (let attempt = 1; ; attempt++) {
		try {
			const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
				method,
				headers: { "X-User-Id": user, "Content-Type": "application/json", "Idempotency-Key": key },
				body: JSON.stringify(body),
				signal: AbortSignal.timeout(15_000)
			});
			if (res.status < 500 && res.status !== 429) return { status: res.status, body: await res.json(), attempts: attempt };
		} catch {
			// connection refused or reset, timeout: retry
		}
		if (Date.now() > deadline) return { status: 0, body: null, attempts: attempt };
		await sleep(Math.min(2000, 100 * attempt));
	}
}

interface Figures {
	users: number;
	orders: number;
	faults: string[];
	/** Final answers the clients got, by HTTP status (0: gave up). */
	finalAnswers: Record<string, number>;
	clientRetries: number;
	clientGaveUp: number;
	lost: number;
	ordersNotAcknowledgedButCreated: number;
	doubleEffects: { paymentsPerOrderAboveOne: number; statusDisagreesWithPayment: number; ordersPerKeyAboveOne: number };
	unbalancedLedgers: number;
	negativeBalances: number;
	finished: number;
	cancelled: number;
	duplicateDeliveriesSkipped: number;
	deliveriesDroppedByInjection: number;
	deliveriesDoubledByInjection: number;
	secondsFromLastFaultToQuiescence: number;
	totalSeconds: number;
}

describe.skipIf(!rabbitmqUrl)("fault suite", () => {
	beforeAll(async () => {
		const suffix = Math.random().toString(16).slice(2, 10);
		namespace = `faults-${suffix}`;
		databases = await createTestDatabases(suffix);
		port = await freePortBlock(6); // the gateway and the five health ports
		CLUSTER_NODES.forEach(({ id, services }, index) => startNode(id, services, index));
		await waitFor("the cluster to be ready", async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 60_000);
	});

	afterAll(async () => {
		for (const node of nodes.values()) if (node.process.exitCode === null) node.process.kill("SIGTERM");
		await sleep(2000);
		for (const node of nodes.values()) if (node.process.exitCode === null) node.process.kill("SIGKILL");
		await run("rabbitmqctl", ["start_app"]).catch(() => undefined);
		await databases?.drop();
	});

	it("loses nothing and applies nothing twice under faults", async () => {
		onTestFailed(() => console.error(output.join("").split("\n").filter(line => /"level":"(error|fatal)"/.test(line)).slice(-20).join("\n").slice(0, 20_000)));
		const started = Date.now();

		// Users with accounts and a first top-up each (before the faults).
		const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
		const topUps = new Map<string, number>();
		for (let i = 0; i < users.length; i += 20) {
			await Promise.all(
				users.slice(i, i + 20).map(async user => {
					expect((await call("POST", "/api/accounts", user, {}, `account-${user}`)).status).toBeOneOf([201, 409]);
					const amount = 200 + Math.floor(Math.random() * 1800);
					expect((await call("POST", "/api/accounts/topup", user, { amount }, `topup-${user}`)).status).toBe(200);
					topUps.set(user, amount);
				})
			);
		}

		// The orders, paced over the fault schedule, each retried with its own key until answered.
		const faults: string[] = [];
		let lastFaultAt = Date.now();
		const fault = async (label: string, action: () => Promise<unknown> | void) => {
			faults.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${label}`);
			lastFaultAt = Date.now();
			await action();
		};
		const schedule = (async () => {
			await sleep(3000);
			await fault("SIGKILL payments-1", () => kill("payments-1"));
			await sleep(2000);
			await fault("restart payments-1", () => restart("payments-1"));
			await sleep(2000);
			await fault("SIGKILL orders-2", () => kill("orders-2"));
			await sleep(2000);
			await fault("restart orders-2", () => restart("orders-2"));
			await sleep(2000);
			await fault("rabbitmqctl stop_app", () => run("rabbitmqctl", ["stop_app"]));
			await sleep(5000);
			await fault("rabbitmqctl start_app", () => run("rabbitmqctl", ["start_app"]));
			await sleep(4000);
			await fault("pg_terminate_backend (every service connection)", async () => {
				const admin = new Pool({ connectionString: inject("databaseAdminUrl"), max: 1 });
				await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()", [
					[new URL(databases.orders).pathname.slice(1), new URL(databases.payments).pathname.slice(1)]
				]);
				await admin.end();
			});
			await sleep(3000);
			await fault("SIGKILL orders-1 and payments-2", () => {
				kill("orders-1");
				kill("payments-2");
			});
			await sleep(2000);
			await fault("restart orders-1 and payments-2", () => Promise.all([restart("orders-1"), restart("payments-2")]));
		})();

		const orders = await Promise.all(
			Array.from({ length: ORDERS }, async (_, i) => {
				await sleep((i * 1000) / ORDERS_PER_SECOND);
				const user = users[i % users.length];
				const amount = Math.round((5 + Math.random() * 120) * 100) / 100;
				const key = `order-${i}`;
				const answer = await call("POST", "/api/orders", user, { amount, description: `order ${i}` }, key);
				return { user, key, amount, answer };
			})
		);
		await schedule;

		// Quiescence: every order ended, every outbox event confirmed, in both databases.
		const ordersDb = new Pool({ connectionString: databases.orders, max: 2 });
		const paymentsDb = new Pool({ connectionString: databases.payments, max: 2 });
		const count = async (pool: Pool, sql: string, values: unknown[] = []) => Number((await pool.query(sql, values)).rows[0].n);
		await waitFor(
			"quiescence",
			async () =>
				(await count(ordersDb, "SELECT count(*) AS n FROM orders WHERE status = 'NEW'")) === 0 &&
				(await count(ordersDb, "SELECT count(*) AS n FROM outbox_events WHERE confirmed_at IS NULL")) === 0 &&
				(await count(paymentsDb, "SELECT count(*) AS n FROM outbox_events WHERE confirmed_at IS NULL")) === 0,
			180_000
		).catch(() => undefined);
		const quiescentAt = Date.now();

		// The checks.
		const acknowledged = orders.filter(o => o.answer.status === 201);
		const ordersRows = (await ordersDb.query("SELECT id, user_id, status, cancel_reason, amount_minor FROM orders")).rows;
		const payments = (await paymentsDb.query("SELECT order_id, outcome, reason, amount_minor FROM payment_transactions")).rows;
		const paymentByOrder = new Map(payments.map(p => [p.order_id, p]));
		const keysPerOrder = (await ordersDb.query("SELECT count(*) AS n FROM idempotency_keys GROUP BY user_id, operation, key HAVING count(*) > 1")).rowCount ?? 0;
		const ledgers = (
			await paymentsDb.query(`
				SELECT a.user_id, a.balance_minor::bigint AS balance,
					coalesce((SELECT sum(amount_minor) FROM topups t WHERE t.user_id = a.user_id), 0)::bigint AS topups,
					coalesce((SELECT sum(amount_minor) FROM payment_transactions p WHERE p.user_id = a.user_id AND outcome = 'PAID'), 0)::bigint AS paid
				FROM accounts a`)
		).rows;
		const logLines = output.join("");
		const figures: Figures = {
			users: USERS,
			orders: ORDERS,
			faults,
			finalAnswers: orders.reduce<Record<string, number>>((counts, o) => ({ ...counts, [o.answer.status]: (counts[o.answer.status] ?? 0) + 1 }), {}),
			clientRetries: orders.reduce((sum, o) => sum + o.answer.attempts - 1, 0),
			clientGaveUp: orders.filter(o => o.answer.status === 0).length,
			lost: ordersRows.filter(o => o.status === "NEW").length + acknowledged.filter(o => !ordersRows.some(r => r.id === o.answer.body.id)).length,
			ordersNotAcknowledgedButCreated: ordersRows.length - new Set(acknowledged.map(o => o.answer.body.id)).size,
			doubleEffects: {
				paymentsPerOrderAboveOne: payments.length - paymentByOrder.size,
				statusDisagreesWithPayment: ordersRows.filter(o => {
					const payment = paymentByOrder.get(o.id);
					if (o.status === "FINISHED") return payment?.outcome !== "PAID" || payment.amount_minor !== o.amount_minor;
					if (o.status === "CANCELLED") return payment?.outcome !== "REFUSED" || payment.reason !== o.cancel_reason;
					return false;
				}).length,
				ordersPerKeyAboveOne: keysPerOrder + (ordersRows.length - new Set(acknowledged.map(o => o.key)).size)
			},
			unbalancedLedgers: ledgers.filter(l => BigInt(l.balance) !== BigInt(l.topups) - BigInt(l.paid)).length,
			negativeBalances: ledgers.filter(l => BigInt(l.balance) < 0n).length,
			finished: ordersRows.filter(o => o.status === "FINISHED").length,
			cancelled: ordersRows.filter(o => o.status === "CANCELLED").length,
			duplicateDeliveriesSkipped: (logLines.match(/Skipped a duplicate delivery/g) ?? []).length,
			deliveriesDroppedByInjection: (logLines.match(/Fault injection: dropped a delivery/g) ?? []).length,
			deliveriesDoubledByInjection: (logLines.match(/Fault injection: delivered twice/g) ?? []).length,
			secondsFromLastFaultToQuiescence: Math.round((quiescentAt - lastFaultAt) / 100) / 10,
			totalSeconds: Math.round((Date.now() - started) / 1000)
		};
		await ordersDb.end();
		await paymentsDb.end();

		mkdirSync(path.join(PROJECT_ROOT, "test-results"), { recursive: true });
		writeFileSync(path.join(PROJECT_ROOT, "test-results/faults.json"), JSON.stringify(figures, null, 2));
		console.log(`\nFault suite figures:\n${JSON.stringify(figures, null, 2)}\n`);

		expect(figures.finalAnswers).toEqual({ 201: ORDERS });
		expect(figures.clientGaveUp).toBe(0);
		expect(figures.lost).toBe(0);
		expect(figures.ordersNotAcknowledgedButCreated).toBe(0);
		expect(figures.doubleEffects).toEqual({ paymentsPerOrderAboveOne: 0, statusDisagreesWithPayment: 0, ordersPerKeyAboveOne: 0 });
		expect(figures.unbalancedLedgers).toBe(0);
		expect(figures.negativeBalances).toBe(0);
		expect(figures.finished + figures.cancelled).toBe(ORDERS);
		expect(figures.deliveriesDroppedByInjection).toBeGreaterThan(0);
		expect(figures.duplicateDeliveriesSkipped).toBeGreaterThan(0);
		expect(topUps.size).toBe(USERS);
	}, 900_000);
});
