/**
 * `npm run cluster` as separate processes (gateway, 2× orders, 2× payments) over RabbitMQ and
 * Postgres: the flow through it, per-process health endpoints, Prometheus metrics, and a
 * graceful stop of the whole cluster.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../platform/paths";
import { collectOutput, createTestDatabases, freePortBlock, waitFor, type TestDatabases } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

describe.skipIf(!rabbitmqUrl)("npm run cluster", () => {
	let databases: TestDatabases;
	let cluster: ChildProcess;
	let port: number;
	let metricsBase: number;
	const output: string[] = [];

	const api = async (method: string, urlPath: string, user: string, body?: unknown) => {
		const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
			method,
			headers: { "X-User-Id": user, "Content-Type": "application/json" },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
		return { status: res.status, body: await res.json() };
	};

	beforeAll(async () => {
		if (!existsSync(path.join(PROJECT_ROOT, "dist/moleculer.config.js"))) throw new Error("Run `npm run build` first (npm test does).");
		const suffix = Math.random().toString(16).slice(2, 10);
		databases = await createTestDatabases(suffix);
		port = await freePortBlock(6); // the gateway and the five health ports, PORT+1…PORT+5
		metricsBase = await freePortBlock(5);
		cluster = spawn(path.join(PROJECT_ROOT, "node_modules/.bin/tsx"), ["tools/cluster.ts"], {
			cwd: PROJECT_ROOT,
			env: {
				...process.env,
				TRANSPORTER: rabbitmqUrl!,
				ORDERS_DATABASE_URL: databases.orders,
				PAYMENTS_DATABASE_URL: databases.payments,
				NAMESPACE: `cluster-test-${suffix}`,
				PORT: String(port),
				METRICS_BASE_PORT: String(metricsBase),
				AMQP_QUEUE_EXPIRY_MS: "60000",
				LOGLEVEL: "info",
				LOG_FORMAT: "json"
			},
			stdio: ["ignore", "pipe", "pipe"]
		});
		collectOutput(cluster, output);
		await waitFor("the cluster to be ready", async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 60_000);
	});

	afterAll(async () => {
		if (cluster && cluster.exitCode === null) cluster.kill("SIGKILL");
		await databases?.drop();
	});

	it("pays orders across five processes and never overspends", async () => {
		onTestFailed(() => console.error(output.join("")));
		const user = `cluster-${Date.now()}`;
		expect((await api("POST", "/api/accounts", user, {})).status).toBe(201);
		expect((await api("POST", "/api/accounts/topup", user, { amount: 1000 })).status).toBe(200);
		const orders = await Promise.all(Array.from({ length: 20 }, () => api("POST", "/api/orders", user, { amount: 100, description: "cluster" })));
		const ended = await Promise.all(
			orders.map(({ body }) =>
				waitFor(
					`order ${body.id} to end`,
					async () => {
						const { body: order } = await api("GET", `/api/orders/${body.id}`, user);
						return order.status !== "NEW" ? order : null;
					},
					20_000
				)
			)
		);
		expect(ended.filter(o => o.status === "FINISHED")).toHaveLength(10);
		expect(ended.filter(o => o.status === "CANCELLED")).toHaveLength(10);
		expect((await api("GET", "/api/accounts/balance", user)).body.balance).toBe(0);
	});

	it("logs one JSON object per line, with the order and event ids on lines about them", async () => {
		const records = output
			.join("")
			.split("\n")
			.map(line => line.split(" | ")[1])
			.filter((json): json is string => json?.startsWith("{") ?? false)
			.map(json => JSON.parse(json) as Record<string, unknown>);
		expect(records.length).toBeGreaterThan(20);
		for (const message of ["Order placed.", "Payment decided.", "Order ended."]) {
			const record = records.find(r => r.message === message);
			expect(record, message).toMatchObject({ level: "info", orderId: expect.stringMatching(/^[0-9a-f-]{36}$/), eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
		}
	});

	it("answers health and readiness on every process", async () => {
		for (let node = 1; node <= 5; node++) {
			expect((await fetch(`http://127.0.0.1:${port + node}/health`)).status).toBe(200);
			const ready = await fetch(`http://127.0.0.1:${port + node}/ready`);
			expect(ready.status).toBe(200);
		}
	});

	it("exposes Prometheus metrics with the outbox figures", async () => {
		// Nodes 1-2 are orders instances: their metrics show the events they emitted.
		const scrape = async () => (await Promise.all([1, 2].map(async i => (await fetch(`http://127.0.0.1:${metricsBase + i}/metrics`)).text()))).join("\n");
		const all = await scrape();
		expect(all).toContain("moleculer_request_total");
		expect(all).toMatch(/outbox_emitted_total\{[^}]*service="orders"[^}]*\} [1-9]/);
		expect(all).toMatch(/outbox_confirmed_total\{[^}]*service="orders"[^}]*\} [1-9]/);
		// The gauges are refreshed every poll interval; once all is confirmed, both instances read 0.
		await waitFor("the pending gauges to read 0", async () => (await scrape()).match(/outbox_pending\{[^}]*service="orders"[^}]*\} 0\n/g)?.length === 2);
	});

	it("stops every process gracefully on SIGTERM", async () => {
		const exit = new Promise<number | null>(resolve => cluster.once("exit", code => resolve(code)));
		cluster.kill("SIGTERM");
		expect(await exit).toBe(0);
	});
});
