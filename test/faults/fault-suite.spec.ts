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
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../platform/paths";
import {
	awaitQuiescence,
	callUntilAnswered,
	examineOutcome,
	expectNothingLost,
	lastErrorLines,
	openFundedAccounts,
	sleep,
	startFaultCluster,
	type FaultCluster,
	type Outcome
} from "./fault-cluster";

const run = promisify(execFile);
const rabbitmqUrl = inject("rabbitmqUrl");

const USERS = Number(process.env.FAULT_USERS ?? 200);
const ORDERS = Number(process.env.FAULT_ORDERS ?? 2000);
/** Orders are started at this rate, so that the load spans the whole fault schedule. */
const ORDERS_PER_SECOND = Number(process.env.FAULT_ORDERS_PER_SECOND ?? 50);
const FAULT_INJECTION = process.env.FAULT_INJECTION ?? "drop=0.05,duplicate=0.05";

let cluster: FaultCluster;

interface Figures extends Outcome {
	users: number;
	orders: number;
	faults: string[];
	/** Final answers the clients got, by HTTP status (0: gave up). */
	finalAnswers: Record<string, number>;
	clientRetries: number;
	clientGaveUp: number;
	duplicateDeliveriesSkipped: number;
	deliveriesDroppedByInjection: number;
	deliveriesDoubledByInjection: number;
	secondsFromLastFaultToQuiescence: number;
	totalSeconds: number;
}

describe.skipIf(!rabbitmqUrl)("fault suite", () => {
	beforeAll(async () => {
		cluster = await startFaultCluster({
			rabbitmqUrl: rabbitmqUrl!,
			env: { OUTBOX_POLL_INTERVAL_MS: "500", OUTBOX_RETRY_BASE_MS: "500", OUTBOX_RETRY_MAX_MS: "5000", FAULT_INJECTION }
		});
	});

	afterAll(async () => {
		await run("rabbitmqctl", ["start_app"]).catch(() => undefined);
		await cluster?.stop();
	});

	it("loses nothing and applies nothing twice under faults", async () => {
		onTestFailed(() => console.error(lastErrorLines(cluster.output)));
		const started = Date.now();

		// Users with accounts and a first top-up each (before the faults).
		const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
		const topUps = await openFundedAccounts(cluster.port, users, () => 200 + Math.floor(Math.random() * 1800));

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
			await fault("SIGKILL payments-1", () => cluster.kill("payments-1"));
			await sleep(2000);
			await fault("restart payments-1", () => cluster.restart("payments-1"));
			await sleep(2000);
			await fault("SIGKILL orders-2", () => cluster.kill("orders-2"));
			await sleep(2000);
			await fault("restart orders-2", () => cluster.restart("orders-2"));
			await sleep(2000);
			await fault("rabbitmqctl stop_app", () => run("rabbitmqctl", ["stop_app"]));
			await sleep(5000);
			await fault("rabbitmqctl start_app", () => run("rabbitmqctl", ["start_app"]));
			await sleep(4000);
			await fault("pg_terminate_backend (every service connection)", async () => {
				const admin = new Pool({ connectionString: inject("databaseAdminUrl"), max: 1 });
				await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()", [
					[new URL(cluster.databases.orders).pathname.slice(1), new URL(cluster.databases.payments).pathname.slice(1)]
				]);
				await admin.end();
			});
			await sleep(3000);
			await fault("SIGKILL orders-1 and payments-2", () => {
				cluster.kill("orders-1");
				cluster.kill("payments-2");
			});
			await sleep(2000);
			await fault("restart orders-1 and payments-2", () => Promise.all([cluster.restart("orders-1"), cluster.restart("payments-2")]));
		})();

		const orders = await Promise.all(
			Array.from({ length: ORDERS }, async (_, i) => {
				await sleep((i * 1000) / ORDERS_PER_SECOND);
				const user = users[i % users.length];
				const amount = Math.round((5 + Math.random() * 120) * 100) / 100;
				const key = `order-${i}`;
				const answer = await callUntilAnswered(cluster.port, "POST", "/api/orders", user, { amount, description: `order ${i}` }, key);
				return { user, key, amount, answer };
			})
		);
		await schedule;

		// Quiescence: every order ended, every outbox event confirmed, in both databases.
		await awaitQuiescence(cluster.pools, 180_000);
		const quiescentAt = Date.now();

		const outcome = await examineOutcome(cluster.pools, orders);
		const logLines = cluster.output.join("");
		const figures: Figures = {
			users: USERS,
			orders: ORDERS,
			faults,
			finalAnswers: orders.reduce<Record<string, number>>((counts, o) => ({ ...counts, [o.answer.status]: (counts[o.answer.status] ?? 0) + 1 }), {}),
			clientRetries: orders.reduce((sum, o) => sum + o.answer.attempts - 1, 0),
			clientGaveUp: orders.filter(o => o.answer.status === 0).length,
			...outcome,
			duplicateDeliveriesSkipped: (logLines.match(/Skipped a duplicate delivery/g) ?? []).length,
			deliveriesDroppedByInjection: (logLines.match(/Fault injection: dropped a delivery/g) ?? []).length,
			deliveriesDoubledByInjection: (logLines.match(/Fault injection: delivered twice/g) ?? []).length,
			secondsFromLastFaultToQuiescence: Math.round((quiescentAt - lastFaultAt) / 100) / 10,
			totalSeconds: Math.round((Date.now() - started) / 1000)
		};
		mkdirSync(path.join(PROJECT_ROOT, "test-results"), { recursive: true });
		writeFileSync(path.join(PROJECT_ROOT, "test-results/faults.json"), JSON.stringify(figures, null, 2));
		console.log(`\nFault suite figures:\n${JSON.stringify(figures, null, 2)}\n`);

		expect(figures.finalAnswers).toEqual({ 201: ORDERS });
		expect(figures.clientGaveUp).toBe(0);
		expectNothingLost(outcome, orders);
		expect(figures.finished + figures.cancelled).toBe(ORDERS);
		expect(figures.deliveriesDroppedByInjection).toBeGreaterThan(0);
		expect(figures.duplicateDeliveriesSkipped).toBeGreaterThan(0);
		expect(topUps.size).toBe(USERS);
	}, 900_000);
});
