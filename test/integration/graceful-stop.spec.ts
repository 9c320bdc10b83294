/**
 * Stopping a real process (moleculer-runner on the compiled code, as `npm start` runs it) with
 * SIGTERM: requests in flight finish, new ones are refused, the process exits 0, and an order
 * still in flight when its process stopped ends after the restart.
 */
import type { ChildProcess } from "node:child_process";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { spawnRunner } from "../../tools/runner-process";
import { collectOutput, createTestDatabases, freePort, waitFor, type TestDatabases } from "../support/system";

let databases: TestDatabases;
const output: string[] = [];
const processes: ChildProcess[] = [];

/** One process running the given services, as moleculer-runner runs them in production. */
function startProcess(services: string, port: number): ChildProcess {
	const child = spawnRunner({
		SERVICES: services,
		PORT: String(port),
		ORDERS_DATABASE_URL: databases.orders,
		PAYMENTS_DATABASE_URL: databases.payments,
		OUTBOX_POLL_INTERVAL_MS: "200",
		OUTBOX_RETRY_BASE_MS: "200",
		OUTBOX_RETRY_MAX_MS: "500",
		LOGLEVEL: "info",
		TRANSPORTER: ""
	});
	processes.push(child);
	return collectOutput(child, output);
}

const exitCode = (child: ChildProcess) => new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));

async function api(port: number, method: string, urlPath: string, user: string, body?: unknown) {
	const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
		method,
		headers: { "X-User-Id": user, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	return { status: res.status, body: await res.json() };
}

/** Waits until a GET route answers 200 (the gateway generates routes a moment after start). */
const waitForRoute = (port: number, route: string) =>
	waitFor(
		`${route} on port ${port}`,
		async () => {
			const res = await fetch(`http://127.0.0.1:${port}${route}`, { headers: { "X-User-Id": "probe" } }).catch(() => null);
			return res?.status === 200;
		},
		30_000
	);

beforeAll(async () => {
	databases = await createTestDatabases(Math.random().toString(16).slice(2, 10));
});

afterAll(async () => {
	for (const child of processes) if (child.exitCode === null) child.kill("SIGKILL");
	await databases?.drop();
});

describe("graceful stop on SIGTERM", () => {
	it("finishes the request in flight, refuses new ones, and exits 0", async () => {
		onTestFailed(() => console.error(output.join("")));
		const port = await freePort();
		const server = startProcess("api,orders,payments", port);
		await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 30_000);
		const user = `drain-${Date.now()}`;
		await api(port, "POST", "/api/accounts", user, {});

		// Hold the account's row lock, so that a top-up is still in flight when the stop begins.
		const locker = new Client({ connectionString: databases.payments });
		await locker.connect();
		await locker.query("BEGIN");
		await locker.query("SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE", [user]);
		const inFlight = api(port, "POST", "/api/accounts/topup", user, { amount: 10 });
		await new Promise(resolve => setTimeout(resolve, 300));

		const exited = exitCode(server);
		server.kill("SIGTERM");
		// The same Ctrl-C often arrives twice (terminal and npm): a repeat within a second does not force.
		setTimeout(() => server.kill("SIGINT"), 100);
		await waitFor("the stop to begin", async () => output.join("").includes("stopping gracefully"));
		await new Promise(resolve => setTimeout(resolve, 300));
		const refused = await api(port, "GET", "/api/accounts/balance", user).catch(() => ({ status: 0, body: null }));
		expect([0, 503]).toContain(refused.status); // refused with 503, or the listener is already closed
		await locker.query("COMMIT");
		await locker.end();

		expect(await inFlight).toMatchObject({ status: 200, body: { balance: 10 } });
		expect(await exited).toBe(0);
		expect(output.join("")).toContain("ServiceBroker is stopped");
	});

	it("lets an order placed before a stop end after the restart", async () => {
		onTestFailed(() => console.error(output.join("")));
		const user = `restart-${Date.now()}`;
		const port = await freePort();

		// The order is placed while payments is not running: it stays NEW, its event pending.
		const ordersOnly = startProcess("api,orders", port);
		await waitForRoute(port, "/api/orders");
		const order = await api(port, "POST", "/api/orders", user, { amount: 5, description: "in flight" });
		expect(order.status).toBe(201);
		await new Promise(resolve => setTimeout(resolve, 500));
		expect((await api(port, "GET", `/api/orders/${order.body.id}`, user)).body.status).toBe("NEW");
		const stopped = exitCode(ordersOnly);
		ordersOnly.kill("SIGTERM");
		expect(await stopped).toBe(0);

		// After the restart with every service, the pending event is emitted again and the order ends.
		const all = startProcess("api,orders,payments", port);
		await waitFor("ready", async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 30_000);
		const ended = await waitFor("the order to end", async () => {
			const { body } = await api(port, "GET", `/api/orders/${order.body.id}`, user);
			return body.status !== "NEW" ? body : null;
		});
		expect(ended).toMatchObject({ status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND" });
		const stoppedAgain = exitCode(all);
		all.kill("SIGTERM");
		expect(await stoppedAgain).toBe(0);
	});
});
