/**
 * The gateway's identity modes and its rate limit, on the whole system: signed-token (JWT) mode,
 * where the user is the token's subject and a client-sent X-User-Id is ignored, with an HMAC
 * secret and with a public key; and the per-user request limit.
 */
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticatorFromEnv } from "../../lib/authentication";
import { startSystem, type TestSystem } from "../support/system";

const SECRET = "a-test-secret-of-reasonable-length";

function sign(subject: string | undefined, key: Uint8Array | CryptoKey, alg = "HS256", expiresIn = "5m") {
	const jwt = new SignJWT({}).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime(expiresIn);
	return (subject === undefined ? jwt : jwt.setSubject(subject)).sign(key);
}

describe("JWT mode with an HMAC secret", () => {
	let system: TestSystem;
	const key = new TextEncoder().encode(SECRET);
	const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

	beforeAll(async () => {
		system = await startSystem({ api: { authenticator: authenticatorFromEnv({ AUTH_MODE: "jwt", JWT_SECRET: SECRET }) } });
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
		const authenticator = authenticatorFromEnv({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) });
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
		expect(() => authenticatorFromEnv({ AUTH_MODE: "jwt" })).toThrow(/exactly one of JWT_SECRET and JWT_PUBLIC_KEY/);
		expect(() => authenticatorFromEnv({ AUTH_MODE: "basic" })).toThrow(/AUTH_MODE/);
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
