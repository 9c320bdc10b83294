/**
 * The gateway's identity modes and its rate limit, on the whole system: signed-token (JWT) mode,
 * where the user is the token's subject and a client-sent X-User-Id is ignored, with an HMAC
 * secret and with a public key; the per-user request limit; security headers; the caps on event
 * streams; and what errors say (issue 15).
 */
import { generateKeyPairSync } from "node:crypto";
import { connect } from "node:net";
import fc from "fast-check";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import type { Context, Middleware, Service } from "moleculer";
import { ConnectionRefusedError } from "sequelize";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticatorFor } from "../support/configuration";
import type { RateLimiter } from "../../services/api/rate-limit";
import { PAGE_CONTENT_SECURITY_POLICY } from "../../platform/security-headers";
import { asMiddleware } from "../support/middlewares";
import { openEventStream, startSystem, waitFor, type TestSystem } from "../support/system";

const SECRET = "a-test-secret-of-reasonable-length";

function sign(subject: string | undefined, key: Uint8Array | CryptoKey, alg = "HS256", expiresIn = "5m") {
	const jwt = new SignJWT({}).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime(expiresIn);
	return (subject === undefined ? jwt : jwt.setSubject(subject)).sign(key);
}

/** A token with any claims at all (a subject of any JSON type, no expiry...). */
function signClaims(claims: Record<string, unknown>, key: Uint8Array) {
	return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key);
}

const now = () => Math.floor(Date.now() / 1000);

/** The status code of a raw request (for what fetch cannot send). */
function rawStatus(system: TestSystem, request: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = connect(Number(new URL(system.baseUrl).port), "127.0.0.1");
		let received = "";
		socket.on("data", chunk => (received += chunk.toString("latin1")));
		socket.on("close", () => resolve(Number(received.split(" ")[1])));
		socket.on("error", reject);
		socket.write(request, "latin1");
	});
}

interface OpenStream {
	status: number;
	cacheControl: string | null;
	/** Resolves with the ms after opening at which the server ended the stream. */
	ended: Promise<number>;
	isOpen(): boolean;
	close(): void;
}

/** An event stream opened with a bearer token. */
async function openStream(system: TestSystem, token: string): Promise<OpenStream> {
	const abort = new AbortController();
	const started = Date.now();
	const response = await fetch(`${system.baseUrl}/api/events`, { headers: { Authorization: `Bearer ${token}` }, signal: abort.signal });
	let open = true;
	const ended = (async () => {
		try {
			for await (const _chunk of response.body!) {
				// read until the server ends it
			}
		} catch {
			// closed by us
		}
		open = false;
		return Date.now() - started;
	})();
	return { status: response.status, cacheControl: response.headers.get("cache-control"), ended, isOpen: () => open, close: () => abort.abort() };
}

describe("JWT mode with an HMAC secret", () => {
	let system: TestSystem;
	const key = new TextEncoder().encode(SECRET);
	const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

	beforeAll(async () => {
		system = await startSystem({ api: { authenticator: authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET }) } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("takes the user from the token's subject and ignores X-User-Id", async () => {
		const user = `jwt-${Date.now()}`;
		const created = await system.request("POST", "/api/accounts", { body: {}, headers: { ...bearer(await sign(user, key)), "X-User-Id": "mallory" } });
		expect(created.status).toBe(201);
		expect(created.body.userId).toBe(user);
		expect((await system.request("GET", "/api/accounts/balance", { user: "mallory" })).status).toBe(401);
	});

	it.each([
		["no token", async () => ({})],
		["a token signed with another secret", async () => bearer(await sign("alice", new TextEncoder().encode("another-secret-entirely-xx")))],
		["an expired token", async () => bearer(await sign("alice", key, "HS256", "-1h"))],
		["a token without a subject", async () => bearer(await sign(undefined, key))],
		["a subject that is no valid user id", async () => bearer(await sign("not a user id", key))],
		["an unsigned token", async () => bearer(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"alice"}').toString("base64url")}.`)],
		["a malformed header", async () => ({ Authorization: "Basic YWxpY2U6cHc=" })]
	])("answers %s with 401", async (_label, headers) => {
		const res = await system.request("GET", "/api/orders", { headers: await headers() });
		expect(res.status).toBe(401);
		expect(["NO_TOKEN", "INVALID_TOKEN"]).toContain(res.body.type);
	});

	it.each([
		["a number", { sub: 123 }],
		["true", { sub: true }],
		["an array", { sub: ["x1"] }],
		["an object", { sub: { id: "x1" } }],
		["no expiry", { sub: "alice", noExpiry: true }],
		["a lifetime over the maximum", { sub: "alice", exp: now() + 86_400 * 30 }],
		["an issue date long before its expiry", { sub: "alice", iat: now() - 86_400 * 2, exp: now() + 60 }]
	])("refuses a token whose subject or expiry is %s with 401, and creates nothing (issue 15)", async (_label, { noExpiry, ...claims }: { noExpiry?: boolean } & Record<string, unknown>) => {
		const token = await signClaims({ exp: noExpiry ? undefined : now() + 300, ...claims }, key);
		for (const path of ["/api/orders", "/api/accounts"]) {
			const res = await system.request("POST", path, { body: path === "/api/orders" ? { amount: 1, description: "x" } : {}, headers: bearer(token) });
			expect(res.status).toBe(401);
			expect(res.body.type).toBe("INVALID_TOKEN");
		}
		expect(await system.sql("orders", "SELECT user_id FROM orders WHERE user_id IN ('123', 'true', 'x1')")).toEqual([]);
		expect(await system.sql("payments", "SELECT user_id FROM accounts WHERE user_id IN ('123', 'true', 'x1')")).toEqual([]);
	});

	it("accepts only subjects that are valid user ids, whatever the claim's JSON type", async () => {
		await fc.assert(
			fc.asyncProperty(fc.jsonValue(), async sub => {
				const res = await system.request("GET", "/api/orders", { headers: bearer(await signClaims({ sub, exp: now() + 60 }, key)) });
				const valid = typeof sub === "string" && /^[A-Za-z0-9._:@-]{1,64}$/.test(sub);
				expect(res.status, JSON.stringify(sub)).toBe(valid ? 200 : 401);
			}),
			{ numRuns: 60 }
		);
	});

	it.each([
		["text after the token", (t: string) => `Bearer ${t} junk`],
		["two spaces", (t: string) => `Bearer  ${t}`],
		["no scheme", (t: string) => t],
		["a token with a suffix", (t: string) => `Bearer ${t}x`]
	])("refuses an Authorization header with %s (issue 15)", async (_label, header) => {
		const res = await system.request("GET", "/api/orders", { headers: { Authorization: header(await sign("alice", key)) } });
		expect(res.status).toBe(401);
	});

	it("refuses an Authorization header sent twice with 400, whichever comes first (issue 15, second attack)", async () => {
		const token = await sign(`twice-${Date.now()}`, key);
		for (const pair of [
			[`Bearer ${token}`, "Bearer x.y.z"],
			["Bearer x.y.z", `Bearer ${token}`]
		]) {
			// fetch joins repeated headers: a raw request sends them apart.
			const status = await rawStatus(system, `GET /api/orders HTTP/1.1\r\nHost: x\r\n${pair.map(value => `Authorization: ${value}\r\n`).join("")}Connection: close\r\n\r\n`);
			expect(status).toBe(400);
		}
	});

	it("ends an event stream when its token stops being accepted, and keeps one whose token is valid (issue 15, second attack)", async () => {
		const user = `expiring-${Date.now()}`;
		// Expired 28 s ago: still accepted for 2 s more (the clock tolerance is 30 s).
		const expiring = await new SignJWT({})
			.setProtectedHeader({ alg: "HS256" })
			.setSubject(user)
			.setIssuedAt(now() - 60)
			.setExpirationTime(now() - 28)
			.sign(key);
		const [ending, lasting] = await Promise.all([openStream(system, expiring), openStream(system, await sign(user, key))]);
		expect(ending.status).toBe(200);
		expect(ending.cacheControl).toMatch(/no-store/);
		await expect(ending.ended).resolves.toBeLessThan(5000);
		expect(lasting.isOpen()).toBe(true);
		lasting.close();
	});

	it("frees the slot of a stream whose client left before its answer started (third attack)", async () => {
		const user = `leaver-${Date.now()}`;
		const token = await sign(user, key);
		const gateway = system.brokers.api.getLocalService("api") as unknown as { orderEventStreams: { size: number } };
		const port = new URL(system.baseUrl).port;
		// While the token is checked (asynchronously) the client is gone: more times than a user may hold streams.
		for (let i = 0; i < 12; i++) {
			const socket = connect(Number(port), "127.0.0.1");
			socket.on("error", () => undefined);
			await new Promise(resolve => socket.once("connect", resolve));
			socket.end(`GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
			socket.destroy();
		}
		await waitFor("every abandoned stream to be forgotten", async () => gateway.orderEventStreams.size === 0);
		const stream = await openStream(system, token);
		expect(stream.status).toBe(200);
		stream.close();
	});

	it("documents bearer authentication in the OpenAPI document", async () => {
		const document = (await system.request("GET", "/openapi.json")).body;
		expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
		expect(document.paths["/api/orders"].get.security).toEqual([{ bearerAuth: [] }]);
	});
});

describe("JWT mode with a public key", () => {
	let system: TestSystem;
	let privateKey: CryptoKey;

	beforeAll(async () => {
		const pair = await generateKeyPair("RS256");
		privateKey = pair.privateKey;
		const authenticator = authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) });
		system = await startSystem({ api: { authenticator } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("accepts a token signed with the private key, and no HMAC token", async () => {
		const user = `rsa-${Date.now()}`;
		const ok = await system.request("POST", "/api/accounts", { body: {}, headers: { Authorization: `Bearer ${await sign(user, privateKey, "RS256")}` } });
		expect(ok.status).toBe(201);
		const forged = await system.request("GET", "/api/accounts/balance", { headers: { Authorization: `Bearer ${await sign(user, new TextEncoder().encode(SECRET))}` } });
		expect(forged.status).toBe(401);
	});

	it("refuses an incomplete configuration at start", () => {
		expect(() => authenticatorFor({ AUTH_MODE: "jwt" })).toThrow(/exactly one of JWT_SECRET and JWT_PUBLIC_KEY/);
		expect(() => authenticatorFor({ AUTH_MODE: "basic" })).toThrow(/AUTH_MODE/);
	});

	it("refuses weak keys and bad settings at start (issue 15)", () => {
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "x" })).toThrow(/at least 32 bytes/);
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(31) })).toThrow(/at least 32 bytes/);
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(40), JWT_ALGORITHM: "HS512" })).toThrow(/at least 64 bytes/);
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(32), JWT_ALGORITHM: "none" })).toThrow(/JWT_ALGORITHM/);
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(32), JWT_MAX_TOKEN_LIFETIME_SECONDS: "0" })).toThrow(/JWT_MAX_TOKEN_LIFETIME_SECONDS/);
		const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: weak })).toThrow(/1024-bit RSA key/);
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: "not a key" })).toThrow(/not a PEM public key/);
		expect(authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(32) }).mode).toBe("jwt");
	});

	it.each([
		["ES256 with an RSA key", "ES256", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
		["ES256 with a P-384 key", "ES256", () => generateKeyPairSync("ec", { namedCurve: "P-384" })],
		["ES384 with a P-256 key", "ES384", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
		["RS256 with an EC key", "RS256", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
		["RS256 with an Ed25519 key", "RS256", () => generateKeyPairSync("ed25519")],
		["RS256 with an X25519 key", "RS256", () => generateKeyPairSync("x25519")],
		["RS256 with a DSA key", "RS256", () => generateKeyPairSync("dsa", { modulusLength: 2048, divisorLength: 256 })],
		["RS256 with an RSA-PSS key", "RS256", () => generateKeyPairSync("rsa-pss", { modulusLength: 2048 })],
		["EdDSA with an X25519 key", "EdDSA", () => generateKeyPairSync("x25519")]
	])("refuses %s at start (issue 15, second attack)", (_label, algorithm, pair) => {
		const pem = pair().publicKey.export({ type: "spki", format: "pem" }).toString();
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem, JWT_ALGORITHM: algorithm })).toThrow(new RegExp(`${algorithm} needs`));
	});

	it.each([
		["RS256", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
		["PS256", () => generateKeyPairSync("rsa-pss", { modulusLength: 2048 })],
		["ES256", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
		["ES512", () => generateKeyPairSync("ec", { namedCurve: "P-521" })],
		["EdDSA", () => generateKeyPairSync("ed25519")]
	])("accepts %s with a key of its kind", (algorithm, pair) => {
		const pem = pair().publicKey.export({ type: "spki", format: "pem" }).toString();
		expect(authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem, JWT_ALGORITHM: algorithm }).mode).toBe("jwt");
	});

	it("refuses a private key as JWT_PUBLIC_KEY, and a maximum token lifetime over 30 days (issue 15, second attack)", () => {
		const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
		for (const type of ["pkcs8", "pkcs1"] as const) {
			const pem = privateKey.export({ type, format: "pem" }).toString();
			expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem })).toThrow(/private key/);
			expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem.replace(/\n/g, "\\n") })).toThrow(/private key/);
		}
		expect(() => authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(32), JWT_MAX_TOKEN_LIFETIME_SECONDS: "999999999999" })).toThrow(/30 days/);
		expect(authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: "s".repeat(32), JWT_MAX_TOKEN_LIFETIME_SECONDS: String(30 * 86_400) }).mode).toBe("jwt");
	});
});

describe("rate limit per user", () => {
	let system: TestSystem;

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 5 } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("answers 429 past the limit, for that user only", async () => {
		const user = `busy-${Date.now()}`;
		const statuses: number[] = [];
		for (let i = 0; i < 6; i++) statuses.push((await system.request("GET", "/api/orders", { user })).status);
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
		const limited = await system.request("GET", "/api/orders", { user });
		expect(limited.headers.get("x-rate-limit-limit")).toBe("5");
		expect(limited.headers.get("x-rate-limit-remaining")).toBe("0");
		expect((await system.request("GET", "/api/orders", { user: `${user}-other` })).status).toBe(200);
	});
});

describe("rate limit on the verified caller (issue 15, finding 6)", () => {
	let system: TestSystem;
	const key = new TextEncoder().encode(SECRET);

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 5, authenticator: authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET }) } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("counts one user's requests together, whichever token or suffix they send", async () => {
		const token = await sign("limited", key);
		const statuses: number[] = [];
		for (let i = 0; i < 6; i++) {
			const authorization = i % 2 === 0 ? `Bearer ${await sign("limited", key, "HS256", `${5 + i}m`)}` : `Bearer ${token}${"x".repeat(i)}`;
			statuses.push((await system.request("GET", "/api/orders", { headers: { Authorization: authorization } })).status);
		}
		// The suffixed ones are refused (401) and counted against the address, the valid ones against the user.
		expect(statuses).toEqual([200, 401, 200, 401, 200, 401]);
		for (let i = 0; i < 2; i++) await system.request("GET", "/api/orders", { headers: { Authorization: `Bearer ${await sign("limited", key)}` } });
		const limited = await system.request("GET", "/api/orders", { headers: { Authorization: `Bearer ${await sign("limited", key)}` } });
		expect(limited.status).toBe(429);
		expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
		// Invalid tokens with a changing suffix are no way around it: they share the address's limit.
		const invalid: number[] = [];
		for (let i = 0; i < 10; i++) invalid.push((await system.request("GET", "/api/orders", { headers: { Authorization: `Bearer ${token}${i}` } })).status);
		expect(invalid).toContain(429);
	});
});

describe("rate limit store in header mode (issue 15, finding 6)", () => {
	let system: TestSystem;
	const rateLimiter = () => (system.brokers.api.getLocalService("api") as Service & { rateLimiter: RateLimiter }).rateLimiter;

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 1000 } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("stores nothing for invalid user ids: distinct 15 KB ids all share the address's bucket", async () => {
		const before = rateLimiter().size;
		for (let i = 0; i < 50; i++) {
			const res = await system.request("GET", "/api/orders", { user: `${i}-${"x".repeat(15_000)}` });
			expect(res.status).toBe(400);
		}
		expect(rateLimiter().size - before).toBeLessThanOrEqual(1);
	});
});

describe("security headers (issue 15, finding 4)", () => {
	let system: TestSystem;

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 0 } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it.each([
		["the app", "/", "page"],
		["a front-end asset", "/index.html", "page"],
		["a missing file", "/missing.js", "page"],
		["Swagger UI", "/docs", "page"],
		["a Swagger UI asset", "/docs/swagger-ui.css", "page"],
		["the OpenAPI document", "/openapi.json", "data"],
		["the API", "/api/orders", "data"],
		["an API error", "/api/nothing", "data"],
		["liveness", "/health", "data"],
		["readiness", "/ready", "data"]
	])("puts them on %s", async (_label, path, profile) => {
		const res = await fetch(system.baseUrl + path, { headers: { "X-User-Id": "headers" } });
		expect(res.headers.get("x-content-type-options")).toBe("nosniff");
		expect(res.headers.get("x-frame-options")).toBe("DENY");
		expect(res.headers.get("referrer-policy")).toBe("no-referrer");
		const csp = res.headers.get("content-security-policy");
		expect(csp).toMatch(/frame-ancestors 'none'/);
		if (profile === "page") expect(csp).toBe(PAGE_CONTENT_SECURITY_POLICY);
		else expect(csp).toMatch(/^default-src 'none'/);
		expect(csp).not.toMatch(/unsafe/);
	});
});

describe("event stream caps (issue 15, finding 7)", () => {
	let system: TestSystem;

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 0, eventStreams: { perUser: 2, total: 3 } } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("answers 429 with a clear message past the cap per user and in total, and frees a place when a stream closes", async () => {
		const first = [await openEventStream(system, "cap-a"), await openEventStream(system, "cap-a")];
		expect(first.map(stream => stream.status)).toEqual([200, 200]);
		const third = await system.request("GET", "/api/events", { user: "cap-a" });
		expect(third.status).toBe(429);
		expect(third.headers.get("content-type")).toMatch(/^application\/json/);
		expect(third.body).toMatchObject({ type: "TOO_MANY_STREAMS", message: expect.stringMatching(/2 live streams/) });
		const other = await openEventStream(system, "cap-b");
		expect(other.status).toBe(200);
		const full = await system.request("GET", "/api/events", { user: "cap-c" });
		expect(full.status).toBe(429);
		expect(full.body.message).toMatch(/server/);
		first[0].close();
		await expect.poll(async () => (await openEventStream(system, "cap-c")).status).toBe(200);
		first[1].close();
		other.close();
	});
});

/** Makes the orders service fail the way a real outage or a bug would, once switched on. */
function failingOrders(): Middleware & { failing: boolean } {
	const middleware = asMiddleware({
		name: "FailingOrders",
		failing: false,
		localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
			return async (ctx: Context) => {
				if (!middleware.failing) return next(ctx);
				if (action.name === "orders.list" || action.name === "orders.readiness") {
					throw new ConnectionRefusedError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5471"), { code: "ECONNREFUSED" }));
				}
				if (action.name === "orders.get") throw new TypeError("Cannot read properties of undefined (reading 'row') at /srv/app/orders.js:12");
				return next(ctx);
			};
		}
	});
	return middleware;
}

describe("what errors say (issue 15, finding 3)", () => {
	let system: TestSystem;
	const failing = failingOrders();

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 0 }, ordersMiddlewares: [failing] });
	});

	afterAll(async () => {
		failing.failing = false;
		await system?.stop();
	});

	const INTERNALS = /Sequelize|ECONNREFUSED|127\.0\.0\.1|5471|nodeID|\/srv\/|TypeError|stack/;

	it("answers a validation error without the node id", async () => {
		const res = await system.request("POST", "/api/orders", { user: "errors", body: { amount: "x" } });
		expect(res.status).toBe(422);
		expect(res.body.data[0]).toMatchObject({ field: "amount" });
		expect(JSON.stringify(res.body)).not.toMatch(INTERNALS);
	});

	it("answers a database outage with a generic, retryable 503, a bug with a generic 500, and /ready names no address", async () => {
		failing.failing = true;
		try {
			const outage = await system.request("GET", "/api/orders", { user: "errors" });
			expect(outage.status).toBe(503);
			expect(outage.headers.get("retry-after")).toBe("5");
			expect(outage.body).toEqual({ name: "ServiceUnavailableError", message: expect.any(String), code: 503, type: "SERVICE_UNAVAILABLE" });
			const bug = await system.request("GET", "/api/orders/00000000-0000-4000-8000-000000000000", { user: "errors" });
			expect(bug.status).toBe(500);
			expect(bug.body.type).toBe("INTERNAL_ERROR");
			const ready = await system.request("GET", "/ready");
			expect(ready.status).toBe(503);
			expect(ready.body.checks).toContainEqual({ name: "orders", ready: false, error: "unavailable" });
			for (const res of [outage, bug, ready]) expect(JSON.stringify(res.body)).not.toMatch(INTERNALS);
		} finally {
			failing.failing = false;
		}
	});
});

describe("a call that outlasts the gateway's timeout (issue 15, second attack)", () => {
	let system: TestSystem;
	/** The top-up commits 600 ms after the gateway has given up on it. */
	const slowTopUp = asMiddleware({
		name: "SlowTopUp",
		localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
			if (action.name !== "payments.topUp") return next;
			return async (ctx: Context) => {
				await new Promise(resolve => setTimeout(resolve, 800));
				return next(ctx);
			};
		}
	});

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 0, callTimeoutMs: 200 }, paymentsMiddlewares: [slowTopUp] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("answers 504 that says the change may still be applied, with no Retry-After, and the change is applied", async () => {
		const user = `slow-${Date.now()}`;
		expect((await system.request("POST", "/api/accounts", { user, body: {} })).status).toBe(201);
		const topUp = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 5 } });
		expect(topUp.status).toBe(504);
		expect(topUp.headers.get("retry-after")).toBeNull();
		expect(topUp.body).toMatchObject({ type: "GATEWAY_TIMEOUT", message: expect.stringMatching(/may still have been applied/) });
		await expect.poll(async () => (await system.request("GET", "/api/accounts/balance", { user })).body.balance, { timeout: 5000 }).toBe(5);
	});
});
