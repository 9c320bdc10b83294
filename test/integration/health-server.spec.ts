/**
 * The health server of processes without the gateway (HEALTH_PORT): it answers only what a probe
 * needs (no node id, no error text, no address), carries the security headers, and no request,
 * however formed, takes it down (issue 15).
 */
import { connect } from "node:net";
import fc from "fast-check";
import { Errors, ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHealthServerMiddleware } from "../../platform/health-server";
import { freePort } from "../support/system";

let broker: ServiceBroker;
let baseUrl: string;

beforeAll(async () => {
	const port = await freePort();
	broker = new ServiceBroker({ nodeID: `health-${process.pid}`, logger: false, middlewares: [createHealthServerMiddleware(port)] });
	broker.createService({
		name: "orders",
		actions: {
			readiness() {
				throw new Errors.MoleculerError("connect ECONNREFUSED 127.0.0.1:5471", 500, "ECONNREFUSED");
			}
		}
	});
	await broker.start();
	baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
	await broker?.stop();
});

const INTERNALS = /nodeID|health-\d+|ECONNREFUSED|127\.0\.0\.1|5471/;

describe("the health server", () => {
	it("answers /health and /ready with what a probe needs only", async () => {
		const health = await fetch(`${baseUrl}/health`);
		expect(health.status).toBe(200);
		expect(await health.json()).toEqual({ status: "ok" });
		const ready = await fetch(`${baseUrl}/ready`);
		expect(ready.status).toBe(503);
		const body = await ready.text();
		expect(JSON.parse(body).checks).toContainEqual({ name: "orders", ready: false });
		expect(body).not.toMatch(INTERNALS);
		expect(ready.headers.get("x-content-type-options")).toBe("nosniff");
		expect(ready.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
	});

	it("answers HEAD like GET, without a body, and another method with 405 (issue 15, second attack)", async () => {
		for (const [path, status] of [
			["/health", 200],
			["/ready", 503]
		] as const) {
			const head = await fetch(baseUrl + path, { method: "HEAD" });
			expect(head.status, path).toBe(status);
			expect(await head.text()).toBe("");
		}
		const post = await fetch(`${baseUrl}/health`, { method: "POST" });
		expect(post.status).toBe(405);
		expect(post.headers.get("allow")).toBe("GET, HEAD");
	});

	it("answers a malformed request with Node's 400, with the security headers (issue 15, second attack)", async () => {
		const received = await new Promise<string>((resolve, reject) => {
			const socket = connect(Number(new URL(baseUrl).port), "127.0.0.1");
			let text = "";
			socket.on("data", chunk => (text += chunk.toString("latin1")));
			socket.on("close", () => resolve(text));
			socket.on("error", reject);
			socket.write("GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n", "latin1");
		});
		expect(received).toMatch(/^HTTP\/1\.1 400 /);
		expect(received.toLowerCase()).toContain("x-content-type-options: nosniff");
		expect(received.toLowerCase()).toContain("connection: close");
	});

	it("answers random methods and paths without a 5xx (but /ready's own 503), and lives", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
				fc.oneof(fc.constantFrom("/health", "/ready", "/health?x=1", "/constructor", "/__proto__", "/%00", "//health"), fc.webPath()),
				async (method, path) => {
					const res = await fetch(baseUrl + path, { method });
					const body = await res.text();
					if (!(path === "/ready" && ["GET", "HEAD"].includes(method))) expect(res.status, `${method} ${path}`).toBeLessThan(500);
					expect(body).not.toMatch(INTERNALS);
					expect(res.headers.get("x-content-type-options")).toBe("nosniff");
				}
			),
			{ numRuns: 60 }
		);
		expect((await fetch(`${baseUrl}/health`)).status).toBe(200);
	});
});
