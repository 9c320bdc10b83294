/**
 * Property-based tests (fast-check) of everything the gateway serves with hostile input: random
 * bodies, headers, ids, query strings, paths and methods, on the API, the static front end, the
 * docs, the event stream and the probes, always get a 2xx, 3xx or 4xx, never a 5xx, with the
 * security headers; a rejected request writes nothing, and the process survives it all. Then the
 * classes of issue 15: lookups of request-controlled keys, the body contract, OPTIONS.
 */
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type TestSystem, waitFor } from "../support/system";

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

/**
 * A request that must never fail on our side, and must change nothing when it is refused. An
 * accepted order goes on writing after its answer (the payment), so the next request waits for it
 * to end: otherwise that payment lands between the next snapshots and looks like the refused
 * request's write.
 */
async function expectNoServerErrorAndNoWriteWhenRefused(request: () => Promise<number>): Promise<void> {
	const before = await snapshot();
	const status = await request();
	expect(status, "a 5xx for a caller's request").toBeLessThan(500);
	if (status >= 400) expect(await snapshot(), `a rejected request (${status}) wrote something`).toBe(before);
	else await waitFor("every accepted order to end", async () => Number((await system.sql("orders", "SELECT count(*) AS n FROM orders WHERE status = 'NEW'"))[0].n) === 0);
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

interface Probe {
	status: number;
	headers: Headers;
	/** The start of the body (an event stream is cut after its first chunk). */
	body: string;
}

/** Any request; never hangs on an endless event stream. */
async function probe(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Probe> {
	const abort = new AbortController();
	const response = await fetch(system.baseUrl + path, { method, headers: init.headers, body: init.body, signal: abort.signal });
	let body = "";
	if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
		const reader = response.body!.getReader();
		body = new TextDecoder().decode((await reader.read()).value);
		abort.abort();
	} else body = await response.text();
	return { status: response.status, headers: response.headers, body };
}

/** What every answer of the gateway must look like (issue 15). */
function expectSafeAnswer({ status, headers, body }: Probe, what: string): void {
	expect(status, `${what}: a 5xx for a caller's request`).toBeLessThan(500);
	expect(headers.get("x-content-type-options"), what).toBe("nosniff");
	expect(headers.get("content-security-policy"), what).toMatch(/frame-ancestors 'none'/);
	expect(headers.get("content-security-policy"), what).not.toMatch(/unsafe-inline|unsafe-eval/);
	expect(headers.get("referrer-policy"), what).toBe("no-referrer");
	expect(body, `${what}: an internal detail in the answer`).not.toMatch(/nodeID|Sequelize|ECONNREFUSED|\bat .+\.[jt]s:\d+/);
}

async function expectAlive(): Promise<void> {
	expect((await probe("GET", "/health")).status).toBe(200);
}

describe("hostile input", () => {
	it("POST /api/orders and /api/accounts/topup with random bodies: never a 5xx, nothing written when refused", async () => {
		await fc.assert(
			fc.asyncProperty(fc.constantFrom("/api/orders", "/api/accounts/topup"), bodies, async (path, body) => {
				await expectNoServerErrorAndNoWriteWhenRefused(() => send("POST", path, { headers: { ...json, "X-User-Id": USER }, body: JSON.stringify(body) }));
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

/** Path segments near the real ones, and hostile ones: prototype keys, traversal, bad encodings. */
const segments = fc.oneof(
	fc.constantFrom(
		"api",
		"orders",
		"accounts",
		"balance",
		"topup",
		"events",
		"docs",
		"assets",
		"index.html",
		"health",
		"ready",
		"openapi.json",
		"swagger-ui.css",
		"swagger-initializer.js",
		"constructor",
		"__proto__",
		"toString",
		"hasOwnProperty",
		"valueOf",
		"prototype",
		"..",
		"%2e%2e",
		"..%2f..%2fpackage.json",
		"%00",
		"%",
		"%E0%A4%A",
		"%ff",
		".env",
		"~",
		"$node",
		"x".repeat(4000)
	),
	fc.string({ maxLength: 20 }).map(encodeURIComponent)
);
const prefixes = fc.constantFrom("", "/api", "/api/orders", "/api/accounts", "/docs", "/assets");
const paths = fc
	.tuple(prefixes, fc.array(segments, { maxLength: 4 }), fc.option(fc.string({ maxLength: 30 })))
	.map(([prefix, parts, query]) => `${prefix}/${parts.join("/")}${query === null ? "" : `?${encodeURIComponent(query)}=${query.length}`}`);
// fetch refuses TRACE and CONNECT: the raw request lines below send them.
const methods = fc.constantFrom("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND");
const requestHeaders = fc.record(
	{
		"X-User-Id": fc.oneof(fc.constant(USER), headerValues),
		"Content-Type": fc.constantFrom("application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "*/*"),
		Authorization: headerValues,
		Origin: fc.constantFrom("https://evil.example", "null"),
		"Access-Control-Request-Method": fc.constantFrom("GET", "POST", "DELETE"),
		"Idempotency-Key": headerValues,
		Range: fc.constantFrom("bytes=0-0", "bytes=-1", "bytes=999999999-", "bytes=x"),
		"If-None-Match": headerValues,
		"X-Request-ID": headerValues
	},
	{ requiredKeys: [] }
);

describe("every route the gateway serves, with hostile input", () => {
	it("answers random paths, methods, headers and bodies without a 5xx, with the security headers, and writes nothing when refused", async () => {
		await fc.assert(
			fc.asyncProperty(methods, paths, requestHeaders, fc.option(bodies), async (method, path, headers, body) => {
				const before = await snapshot();
				const carriesBody = body !== null && !["GET", "HEAD"].includes(method);
				const answer = await probe(method, path, { headers, body: carriesBody ? JSON.stringify(body) : undefined });
				expectSafeAnswer(answer, `${method} ${path}`);
				if (answer.status >= 400) expect(await snapshot(), `a rejected request (${answer.status}) wrote something`).toBe(before);
			}),
			{ numRuns: RUNS }
		);
		await expectAlive();
	});

	it("answers random raw request lines (what fetch cannot send) without a 5xx, and lives", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom("GET", "POST", "OPTIONS", "TRACE", "CONNECT", "get", "G\u00e9T"),
				fc.oneof(paths, fc.constantFrom("*", "http://example.com/api/orders", "//api/orders", "/api/orders#x", "/docs/%2e%2e/%2e%2e/package.json")),
				async (method, target) => {
					const statusLine = await new Promise<string>((resolve, reject) => {
						const socket = connect(Number(new URL(system.baseUrl).port), "127.0.0.1");
						let received = "";
						socket.on("data", chunk => {
							received += chunk.toString("latin1");
							if (received.includes("\r\n")) socket.destroy();
						});
						socket.on("close", () => resolve(received.split("\r\n")[0] ?? ""));
						socket.on("error", reject);
						socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nX-User-Id: ${USER}\r\nConnection: close\r\n\r\n`, "latin1");
					});
					// Node's parser closes the connection on some of these without an answer: that is fine.
					if (statusLine !== "") expect(Number(statusLine.split(" ")[1]), `${method} ${target}`).toBeLessThan(500);
				}
			),
			{ numRuns: Math.ceil(RUNS / 3) }
		);
		await expectAlive();
	});
});

describe("request-controlled keys and streams (issue 15, finding 1)", () => {
	it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "..%2F..%2Fpackage.json", "%00"])("answers GET /docs/%s with 404, and the process lives", async name => {
		const answer = await probe("GET", `/docs/${name}`);
		expect(answer.status).toBe(404);
		expectSafeAnswer(answer, name);
		await expectAlive();
	});

	it("serves no file outside the front end's folder, however the path is encoded", async () => {
		for (const path of ["/../package.json", "/%2e%2e/package.json", "/assets/..%2f..%2f..%2fpackage.json", "/.%2e/.%2e/package.json", "/%00", `/${"a".repeat(8000)}`]) {
			const answer = await probe("GET", path);
			expect(answer.status, path).toBeGreaterThanOrEqual(400);
			expectSafeAnswer(answer, path);
			expect(answer.body, path).not.toContain("moleculer-orders-payments");
		}
	});
});

describe("the body contract (issue 15, finding 5)", () => {
	it("refuses __proto__, constructor and prototype keys at any depth with 400, and writes nothing", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom("__proto__", "constructor", "prototype"),
				fc.constantFrom("/api/orders", "/api/accounts/topup", "/api/accounts"),
				fc.boolean(),
				async (key, path, nested) => {
					// Written as text: an object literal's __proto__ would not be an own key.
					const inner = `{"${key}":{"amount":1,"description":"smuggled"}}`;
					const rawBody = nested ? `{"amount":1,"description":"x","extra":${inner}}` : inner;
					const before = await snapshot();
					const res = await system.request("POST", path, { user: USER, rawBody });
					expect(res.status).toBe(400);
					expect(res.body.type).toBe("FORBIDDEN_KEY");
					expect(await snapshot()).toBe(before);
				}
			),
			{ numRuns: 20 }
		);
	});

	it("takes a POST's fields from the JSON body only: a query string is refused", async () => {
		const before = await snapshot();
		const res = await system.request("POST", "/api/orders?description=from-the-query", { user: USER, body: { amount: 1 } });
		expect(res.status).toBe(400);
		expect(res.body.type).toBe("QUERY_NOT_ALLOWED");
		expect(await snapshot()).toBe(before);
	});

	it.each([
		["text/plain", '{"amount":1,"description":"x"}'],
		["application/x-www-form-urlencoded", "amount=1&description=x"],
		["multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1\r\n--b--\r\n'],
		["application/xml", "<amount>1</amount>"]
	])("answers a %s body with 415", async (contentType, rawBody) => {
		const before = await snapshot();
		const res = await system.request("POST", "/api/orders", { user: USER, rawBody, headers: { "Content-Type": contentType } });
		expect(res.status).toBe(415);
		expect(await snapshot()).toBe(before);
	});

	it("accepts a POST without a body where none is needed", async () => {
		const res = await fetch(`${system.baseUrl}/api/accounts`, { method: "POST", headers: { "X-User-Id": `empty-${Date.now()}` } });
		expect(res.status).toBe(201);
	});

	it("answers OPTIONS with the allowed methods and runs no handler", async () => {
		const balance = await probe("OPTIONS", "/api/accounts/balance", { headers: { "X-User-Id": USER } });
		expect(balance.status).toBe(204);
		expect(balance.body).toBe("");
		expect(balance.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
		expect((await probe("OPTIONS", "/api/orders")).headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
		// The endless event stream answers no HEAD (issue 15, second attack).
		expect((await probe("OPTIONS", "/api/events")).headers.get("allow")).toBe("GET, OPTIONS");
		expect((await probe("OPTIONS", "/api/nothing-here")).status).toBe(404);
		// A preflight from another site is answered, and granted nothing.
		const preflight = await probe("OPTIONS", "/api/accounts/topup", {
			headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-user-id" }
		});
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
	});
});

describe("charsets, depth and body shapes (issue 15, second attack)", () => {
	const levels = 20_000; // deep, and within the 64 KB a body may have
	const deep = `{"z":${"[".repeat(levels)}${"]".repeat(levels)}}`;
	// UTF-7 writes `[` as `+AFs-` and `]` as `+AF0-`: a byte scan for brackets sees none.
	const deepUtf7 = Buffer.from(`{"z":${"+AFs-".repeat(levels)}${"+AF0-".repeat(levels)}}`, "latin1");
	const utf16 = (text: string) => Buffer.from(text, "utf16le");

	it.each([
		["a deep UTF-7", "utf-7", deepUtf7],
		["a deep UTF-16LE", "utf-16le", utf16(deep)],
		["a deep UTF-16 (BOM)", "utf-16", Buffer.concat([Buffer.from([0xff, 0xfe]), utf16(deep)])],
		["a valid UTF-16LE", "utf-16le", utf16('{"amount":1,"description":"x"}')],
		["a valid UTF-32", "utf-32", Buffer.from('{"amount":1,"description":"x"}', "latin1")]
	])("answers %s body with 415 on any /api path, without authentication, and lives", async (_label, charset, body) => {
		for (const path of ["/api/nothing", "/api/orders"]) {
			const before = await snapshot();
			const res = await fetch(system.baseUrl + path, { method: "POST", headers: { "Content-Type": `application/json; charset=${charset}` }, body });
			expect(res.status, path).toBe(415);
			expect((await res.json()).type).toBe("UNSUPPORTED_MEDIA_TYPE");
			expect(await snapshot()).toBe(before);
		}
		await expectAlive();
	});

	it.each([
		["no charset", "application/json", Buffer.from(deep)],
		["charset=utf-8", "application/json; charset=utf-8", Buffer.from(deep)],
		["charset=UTF-8", "application/json; charset=UTF-8", Buffer.from(deep)],
		["a byte order mark", "application/json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(deep)])]
	])("answers a body 20,000 levels deep in UTF-8 with %s with 400, and lives", async (_label, contentType, body) => {
		for (const path of ["/api/nothing", "/api/orders"]) {
			const res = await fetch(system.baseUrl + path, { method: "POST", headers: { "Content-Type": contentType, "X-User-Id": USER }, body });
			expect(res.status, path).toBe(400);
			await res.arrayBuffer();
		}
		await expectAlive();
	});

	it.each(["/api/accounts", "/api/orders", "/api/accounts/topup"])("refuses a JSON array body on POST %s with 400, and writes nothing", async path => {
		const before = await snapshot();
		const res = await system.request("POST", path, { user: `array-${Date.now()}`, rawBody: "[]" });
		expect(res.status).toBe(400);
		expect(res.body.type).toBe("BODY_NOT_OBJECT");
		expect(await snapshot()).toBe(before);
	});

	it("answers a 60 KB array body with a short 400", async () => {
		const started = Date.now();
		const res = await fetch(`${system.baseUrl}/api/orders`, { method: "POST", headers: { ...json, "X-User-Id": USER }, body: `[${"0,".repeat(30_000)}0]` });
		const text = await res.text();
		expect(res.status).toBe(400);
		expect(text.length).toBeLessThan(1000);
		expect(Date.now() - started).toBeLessThan(2000);
	});

	it("answers a 60 KB object body with a bounded validation error", async () => {
		const fields = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
		const res = await fetch(`${system.baseUrl}/api/orders`, { method: "POST", headers: { ...json, "X-User-Id": USER }, body: JSON.stringify(fields) });
		const text = await res.text();
		expect(res.status).toBe(422);
		expect(text.length).toBeLessThan(20_000);
	});

	it("answers a body over 64 KB with 413: parsing 1 MB of keys held the event loop for a second", async () => {
		const fields = Object.fromEntries(Array.from({ length: 120_000 }, (_, i) => [String(i), 0]));
		const res = await fetch(`${system.baseUrl}/api/orders`, { method: "POST", headers: { ...json, "X-User-Id": USER }, body: JSON.stringify(fields) });
		expect(res.status).toBe(413);
	});
});
