/**
 * The health server of processes without the gateway (HEALTH_PORT): it answers only what a probe
 * needs (no node id, no error text, no address), carries the security headers, and no request,
 * however formed, takes it down (issue 15).
 */
import fc from "fast-check";
import { Errors, ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHealthServerMiddleware } from "../../lib/health-server";
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

	it("answers random methods and paths without a 5xx (but /ready's own 503), and lives", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
				fc.oneof(fc.constantFrom("/health", "/ready", "/health?x=1", "/constructor", "/__proto__", "/%00", "//health"), fc.webPath()),
				async (method, path) => {
					const res = await fetch(baseUrl + path, { method });
					const body = await res.text();
					if (!(path === "/ready" && method === "GET")) expect(res.status, `${method} ${path}`).toBeLessThan(500);
					expect(body).not.toMatch(INTERNALS);
					expect(res.headers.get("x-content-type-options")).toBe("nosniff");
				}
			),
			{ numRuns: 60 }
		);
		expect((await fetch(`${baseUrl}/health`)).status).toBe(200);
	});
});
