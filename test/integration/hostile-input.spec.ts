/**
 * Property-based tests (fast-check) of the HTTP API with hostile input: random bodies, headers,
 * ids and query strings always get a 2xx or a 4xx, never a 5xx, and a rejected request writes
 * nothing.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type TestSystem } from "../support/system";

let system: TestSystem;
const USER = `hostile-${Date.now()}`;
const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

beforeAll(async () => {
	system = await startSystem({ api: { rateLimitPerMinute: 0 } });
	await system.request("POST", "/api/accounts", { user: USER, body: {} });
	await system.request("POST", "/api/accounts/topup", { user: USER, body: { amount: 100 } });
});

afterAll(async () => {
	await system?.stop();
});

/** Everything a request could have written, in both databases. */
async function snapshot(): Promise<string> {
	const orders = await system.sql("orders", "SELECT (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM outbox_events) AS e, (SELECT count(*) FROM idempotency_keys) AS k");
	const payments = await system.sql(
		"payments",
		"SELECT (SELECT count(*) FROM accounts) AS a, (SELECT count(*) FROM topups) AS t, (SELECT sum(balance_minor) FROM accounts) AS b, (SELECT count(*) FROM idempotency_keys) AS k"
	);
	return JSON.stringify([orders, payments]);
}

async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
	const response = await fetch(system.baseUrl + path, { method, headers: init.headers, body: init.body });
	await response.arrayBuffer();
	return response.status;
}

/** A request that must never fail on our side, and must change nothing when it is refused. */
async function expectNoServerErrorAndNoWriteWhenRefused(request: () => Promise<number>): Promise<void> {
	const before = await snapshot();
	const status = await request();
	expect(status, "a 5xx for a caller's request").toBeLessThan(500);
	if (status >= 400) expect(await snapshot(), `a rejected request (${status}) wrote something`).toBe(before);
}

/** Bodies near the real ones (right keys, wrong values) as well as anything at all. */
const bodies = fc.oneof(
	fc.jsonValue(),
	fc.record(
		{
			amount: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.jsonValue()),
			description: fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 600 }), fc.jsonValue()),
			userId: fc.string(),
			status: fc.constantFrom("NEW", "FINISHED", "CANCELLED")
		},
		{ requiredKeys: [] }
	)
);
/** Header values fetch can send: visible ASCII and spaces. */
const headerValues = fc.stringMatching(/^[\x20-\x7e]{0,300}$/);
const json = { "Content-Type": "application/json" };

describe("hostile input", () => {
	it("POST /api/orders and /api/accounts/topup with random bodies: never a 5xx, nothing written when refused", async () => {
		await fc.assert(
			fc.asyncProperty(fc.constantFrom("/api/orders", "/api/accounts/topup"), bodies, async (path, body) => {
				await expectNoServerErrorAndNoWriteWhenRefused(() =>
					send("POST", path, { headers: { ...json, "X-User-Id": USER }, body: JSON.stringify(body) })
				);
			}),
			{ numRuns: RUNS }
		);
	});

	it("random raw bodies, content types and encodings: never a 5xx, nothing written", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("{", "[[[", '{"amount":1e999}', "\u0000", '{"__proto__":{"x":1}}')),
				fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"),
				fc.constantFrom(undefined, "gzip", "br", "identity"),
				async (body, contentType, encoding) => {
					await expectNoServerErrorAndNoWriteWhenRefused(() =>
						send("POST", "/api/orders", { headers: { "Content-Type": contentType, "X-User-Id": USER, ...(encoding && { "Content-Encoding": encoding }) }, body })
					);
				}
			),
			{ numRuns: RUNS }
		);
	});

	it("random X-User-Id and Idempotency-Key headers: never a 5xx", async () => {
		await fc.assert(
			fc.asyncProperty(headerValues, fc.option(headerValues), async (user, key) => {
				await expectNoServerErrorAndNoWriteWhenRefused(() =>
					send("POST", "/api/orders", {
						headers: { ...json, "X-User-Id": user, ...(key !== null && { "Idempotency-Key": key }) },
						body: JSON.stringify({ amount: 1, description: "hostile" })
					})
				);
			}),
			{ numRuns: RUNS }
		);
	});

	it("random order ids and query strings: never a 5xx", async () => {
		await fc.assert(
			fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 50 })), async (id, query) => {
				const status = await send("GET", `/api/orders/${encodeURIComponent(id)}`, { headers: { "X-User-Id": USER } });
				expect([200, 404]).toContain(status);
				const list = await send("GET", `/api/orders?${new URLSearchParams(query)}`, { headers: { "X-User-Id": USER } });
				expect(list).toBeLessThan(500);
			}),
			{ numRuns: RUNS }
		);
	});
});
