/**
 * The HTTP API through the gateway, all services in one process on a real Postgres: identity,
 * validation, status codes, idempotency keys, and the payment flow's outcomes.
 */
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEventStream, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

let system: TestSystem;
let userSeq = 0;
/** A fresh user id per test, so tests never share an account. */
const newUser = () => `user-${++userSeq}-${Date.now()}`;

async function userWithBalance(amount: number): Promise<string> {
	const user = newUser();
	expect((await system.request("POST", "/api/accounts", { user, body: {} })).status).toBe(201);
	if (amount > 0) expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount } })).status).toBe(200);
	return user;
}

beforeAll(async () => {
	system = await startSystem();
});

afterAll(async () => {
	await system?.stop();
});

describe("health and readiness", () => {
	it("answers /health and /ready with 200 once started", async () => {
		expect((await system.request("GET", "/health")).status).toBe(200);
		const ready = await system.request("GET", "/ready");
		expect(ready.status).toBe(200);
		expect(ready.body.checks.map((c: { name: string }) => c.name)).toEqual(["transporter", "orders", "payments"]);
	});
});

describe("identity (X-User-Id)", () => {
	it("rejects a request without the header with 401", async () => {
		const res = await system.request("GET", "/api/accounts/balance");
		expect(res.status).toBe(401);
		expect(res.body).toMatchObject({ name: "MoleculerClientError", code: 401, type: "NO_USER_ID" });
	});

	it.each([["a".repeat(65)], ["bad user"], ["x/y"], ["a,b"], [""]])("rejects the malformed user id %j with 400", async user => {
		const res = await system.request("GET", "/api/accounts/balance", { user });
		expect(res.status).toBe(400);
		expect(res.body.type).toBe("INVALID_USER_ID");
	});

	it("answers an unknown route with 404, and a method a known route does not allow with 405 and Allow", async () => {
		expect((await system.request("GET", "/api/nothing-here", { user: "alice" })).status).toBe(404);
		const wrongMethod = await system.request("DELETE", "/api/orders", { user: "alice" });
		expect(wrongMethod.status).toBe(405);
		expect(wrongMethod.headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
	});

	it("answers HEAD on an API GET route like GET, without a body, and HEAD on the event stream with 405 (issue 15, second attack)", async () => {
		const [get, head] = [
			await fetch(`${system.baseUrl}/api/orders`, { headers: { "X-User-Id": "alice" } }),
			await fetch(`${system.baseUrl}/api/orders`, { method: "HEAD", headers: { "X-User-Id": "alice" } })
		];
		await get.arrayBuffer();
		expect(head.status).toBe(200);
		expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
		expect(await head.text()).toBe("");
		const stream = await fetch(`${system.baseUrl}/api/events`, { method: "HEAD", headers: { "X-User-Id": "alice" } });
		expect(stream.status).toBe(405);
		expect(stream.headers.get("allow")).toBe("GET, OPTIONS");
	});
});

describe("accounts", () => {
	it("creates an account with balance 0, then refuses a second one with 409", async () => {
		const user = newUser();
		const first = await system.request("POST", "/api/accounts", { user, body: {} });
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ userId: user, balance: 0 });
		const second = await system.request("POST", "/api/accounts", { user, body: {} });
		expect(second.status).toBe(409);
		expect(second.body.type).toBe("ACCOUNT_EXISTS");
	});

	it("answers exactly one 201 to concurrent creates of one account", async () => {
		const user = newUser();
		const statuses = await Promise.all(Array.from({ length: 12 }, () => system.request("POST", "/api/accounts", { user, body: {} }).then(r => r.status)));
		expect(statuses.filter(s => s === 201)).toHaveLength(1);
		expect(statuses.filter(s => s === 409)).toHaveLength(11);
	});

	it("rejects unknown fields in the body", async () => {
		const res = await system.request("POST", "/api/accounts", { user: newUser(), body: { userId: "someone-else" } });
		expect(res.status).toBe(422);
	});

	it("tops up and reports the balance", async () => {
		const user = await userWithBalance(0);
		const topup = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 12.5 } });
		expect(topup.status).toBe(200);
		expect(topup.body).toMatchObject({ userId: user, balance: 12.5 });
		await system.request("POST", "/api/accounts/topup", { user, body: { amount: 0.29 } });
		const balance = await system.request("GET", "/api/accounts/balance", { user });
		expect(balance.status).toBe(200);
		expect(balance.body).toMatchObject({ userId: user, balance: 12.79 });
	});

	it("answers 404 to a top-up or balance without an account", async () => {
		const user = newUser();
		expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount: 5 } })).status).toBe(404);
		const balance = await system.request("GET", "/api/accounts/balance", { user });
		expect(balance.status).toBe(404);
		expect(balance.body.type).toBe("ACCOUNT_NOT_FOUND");
	});

	it.each([
		["a string", { amount: "10" }],
		["null", { amount: null }],
		["zero", { amount: 0 }],
		["a negative", { amount: -5 }],
		["three decimals", { amount: 1.005 }],
		["over the maximum", { amount: 1_000_000_000.01 }],
		["a huge number", { amount: 1e300 }],
		["missing", {}],
		["an unknown field", { amount: 5, userId: "other" }]
	])("rejects a top-up amount that is %s with 422 and changes nothing", async (_label, body) => {
		const user = await userWithBalance(10);
		const res = await system.request("POST", "/api/accounts/topup", { user, body });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("ValidationError");
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(10);
	});

	it("accepts the maximum amount with two decimals", async () => {
		const user = await userWithBalance(1_000_000_000);
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(1_000_000_000);
		const res = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 999_999_999.99 } });
		expect(res.body.balance).toBe(1_999_999_999.99);
	});
});

describe("request bodies", () => {
	it("answers invalid JSON with 400", async () => {
		const res = await system.request("POST", "/api/orders", { user: "alice", rawBody: '{"amount": 1,' });
		expect(res.status).toBe(400);
	});

	it("answers a body nested deeper than any request with 400, not a crash", async () => {
		const res = await system.request("POST", "/api/orders", { user: "alice", rawBody: `{"amount":${"[".repeat(20_000)}${"]".repeat(20_000)},"description":"x"}` });
		expect(res.status).toBe(400);
	});

	it("refuses compressed bodies with 415", async () => {
		const res = await system.request("POST", "/api/orders", { user: "alice", rawBody: "not really gzip", headers: { "Content-Encoding": "gzip" } });
		expect(res.status).toBe(415);
	});

	it("answers a body over 64 KB with 413", async () => {
		const res = await system.request("POST", "/api/orders", {
			user: "alice",
			rawBody: JSON.stringify({ amount: 1, description: "x".repeat(70_000) })
		});
		expect(res.status).toBe(413);
	});
});

describe("orders", () => {
	it("creates an order with status NEW, a Location header, and shows it", async () => {
		const user = newUser();
		const res = await system.request("POST", "/api/orders", { user, body: { amount: 12.5, description: "  a book  " } });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({ userId: user, amount: 12.5, description: "a book", status: "NEW" });
		expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
		expect(res.headers.get("location")).toBe(`/api/orders/${res.body.id}`);
		const shown = await system.request("GET", `/api/orders/${res.body.id}`, { user });
		expect(shown.status).toBe(200);
		expect(shown.body.id).toBe(res.body.id);
	});

	it.each([
		["an amount as a string", { amount: "5", description: "x" }],
		["an empty description", { amount: 5, description: "" }],
		["a blank description", { amount: 5, description: "   " }],
		["a description over 500 characters", { amount: 5, description: "x".repeat(501) }],
		["a userId field", { amount: 5, description: "x", userId: "other" }],
		["a status field", { amount: 5, description: "x", status: "FINISHED" }],
		["three decimals", { amount: 5.001, description: "x" }],
		["a NUL character in the description", { amount: 5, description: "a\u0000b" }],
		["an unpaired surrogate in the description", { amount: 5, description: "a\ud800b" }],
		["no description", { amount: 5 }]
	])("rejects %s with 422 and creates nothing", async (_label, body) => {
		const user = newUser();
		const res = await system.request("POST", "/api/orders", { user, body });
		expect(res.status).toBe(422);
		expect((await system.request("GET", "/api/orders", { user })).body).toEqual([]);
	});

	it("accepts a description of exactly 500 characters", async () => {
		const res = await system.request("POST", "/api/orders", { user: newUser(), body: { amount: 1, description: "y".repeat(500) } });
		expect(res.status).toBe(201);
	});

	it("lists the user's orders newest first, with limit and offset", async () => {
		const user = newUser();
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			ids.push((await system.request("POST", "/api/orders", { user, body: { amount: i + 1, description: `order ${i}` } })).body.id);
		}
		const all = await system.request("GET", "/api/orders", { user });
		expect(all.status).toBe(200);
		expect(all.body.map((o: { id: string }) => o.id)).toEqual([...ids].reverse());
		const page = await system.request("GET", "/api/orders?limit=2&offset=1", { user });
		expect(page.body.map((o: { id: string }) => o.id)).toEqual([ids[3], ids[2]]);
	});

	it.each([["limit=0"], ["limit=201"], ["limit=abc"], ["offset=-1"], ["limit=1.5"], ["unknown=1"]])("rejects the query %s with 422", async query => {
		expect((await system.request("GET", `/api/orders?${query}`, { user: "alice" })).status).toBe(422);
	});

	it("answers 404 for an unknown id, a malformed id and another user's order", async () => {
		const owner = newUser();
		const order = (await system.request("POST", "/api/orders", { user: owner, body: { amount: 1, description: "mine" } })).body;
		expect((await system.request("GET", "/api/orders/00000000-0000-4000-8000-000000000000", { user: owner })).status).toBe(404);
		expect((await system.request("GET", "/api/orders/not-a-uuid", { user: owner })).status).toBe(404);
		const other = newUser();
		const stolen = await system.request("GET", `/api/orders/${order.id}`, { user: other });
		expect(stolen.status).toBe(404);
		expect(stolen.body.type).toBe("ORDER_NOT_FOUND");
		expect((await system.request("GET", "/api/orders", { user: other })).body).toEqual([]);
	});
});

describe("Idempotency-Key", () => {
	it("returns the first response to a retried order and creates one order", async () => {
		const user = newUser();
		const headers = { "Idempotency-Key": "order-key-1" };
		const first = await system.request("POST", "/api/orders", { user, body: { amount: 3, description: "once" }, headers });
		const retry = await system.request("POST", "/api/orders", { user, body: { description: "once", amount: 3 }, headers });
		expect(first.status).toBe(201);
		expect(retry.status).toBe(201);
		expect(retry.body.id).toBe(first.body.id);
		expect(retry.headers.get("location")).toBe(first.headers.get("location"));
		expect((await system.request("GET", "/api/orders", { user })).body).toHaveLength(1);
	});

	it("creates one order for concurrent requests with one key", async () => {
		const user = newUser();
		const headers = { "Idempotency-Key": "concurrent" };
		const responses = await Promise.all(Array.from({ length: 8 }, () => system.request("POST", "/api/orders", { user, body: { amount: 1, description: "race" }, headers })));
		expect(new Set(responses.map(r => r.status))).toEqual(new Set([201]));
		expect(new Set(responses.map(r => r.body.id)).size).toBe(1);
		expect((await system.request("GET", "/api/orders", { user })).body).toHaveLength(1);
	});

	it("answers 409 with Retry-After, within a few seconds, while a request with the same key holds it (issue 14)", async () => {
		const user = newUser();
		const key = "held-key";
		const holder = new Pool({ connectionString: system.databaseUrls.orders, max: 1 });
		const client = await holder.connect();
		try {
			// Another request with this key, in progress for longer than a retry waits.
			await client.query("SELECT pg_advisory_lock(hashtextextended($1::text, 0))", [JSON.stringify([user, "orders.create", key])]);
			const started = performance.now();
			const held = await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "held" }, headers: { "Idempotency-Key": key } });
			expect(held.status).toBe(409);
			expect(held.body.type).toBe("IDEMPOTENCY_KEY_IN_USE");
			expect(held.headers.get("retry-after")).toBe("1");
			expect(performance.now() - started).toBeLessThan(5000);
			await client.query("SELECT pg_advisory_unlock_all()");
			const retried = await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "held" }, headers: { "Idempotency-Key": key } });
			expect(retried.status).toBe(201);
			expect((await system.request("GET", "/api/orders", { user })).body).toHaveLength(1);
		} finally {
			client.release();
			await holder.end();
		}
	});

	it("credits a retried top-up once", async () => {
		const user = await userWithBalance(0);
		const headers = { "Idempotency-Key": "topup-1" };
		for (let i = 0; i < 3; i++) {
			const res = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 50 }, headers });
			expect(res.status).toBe(200);
			expect(res.body.balance).toBe(50);
		}
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(50);
	});

	it("replays the stored top-up to concurrent retries, even when doing it again would fail", async () => {
		// 1,000 short of the balance cap: the first top-up of 1,000 fits; doing it twice would not.
		const user = await userWithBalance(0);
		// With its movement, as every balance change (payments/0004_journal_guard).
		await system.sql(
			"payments",
			`WITH raised AS (UPDATE accounts SET balance_minor = 100000000000000 - 100000 WHERE user_id = $1 RETURNING user_id, balance_minor)
			INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor) SELECT user_id, 'OPENING', balance_minor, balance_minor FROM raised`,
			[user]
		);
		const headers = { "Idempotency-Key": "near-the-cap" };
		const responses = await Promise.all(Array.from({ length: 10 }, () => system.request("POST", "/api/accounts/topup", { user, body: { amount: 1000 }, headers })));
		expect(responses.map(r => r.status)).toEqual(Array(10).fill(200));
		expect(new Set(responses.map(r => r.body.balance))).toEqual(new Set([1_000_000_000_000]));
		const again = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 1000 } });
		expect(again.status).toBe(422);
		expect(again.body.type).toBe("BALANCE_LIMIT_EXCEEDED");
	});

	it("scopes keys per endpoint: the same key on another endpoint is a new request", async () => {
		const user = await userWithBalance(10);
		const headers = { "Idempotency-Key": "same-key" };
		expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount: 1 }, headers })).status).toBe(200);
		expect((await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "x" }, headers })).status).toBe(201);
	});

	it("keeps keys per user: another user's same key is a new request", async () => {
		const headers = { "Idempotency-Key": "shared-key" };
		const a = await system.request("POST", "/api/orders", { user: newUser(), body: { amount: 1, description: "a" }, headers });
		const b = await system.request("POST", "/api/orders", { user: newUser(), body: { amount: 1, description: "a" }, headers });
		expect(a.body.id).not.toBe(b.body.id);
	});

	it("rejects a key reused for a different request with 422", async () => {
		const user = newUser();
		const headers = { "Idempotency-Key": "reused" };
		await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "first" }, headers });
		const res = await system.request("POST", "/api/orders", { user, body: { amount: 2, description: "second" }, headers });
		expect(res.status).toBe(422);
		expect(res.body.type).toBe("IDEMPOTENCY_KEY_REUSED");
		expect((await system.request("GET", "/api/orders", { user })).body).toHaveLength(1);
	});

	it("rejects a malformed key with 400", async () => {
		const res = await system.request("POST", "/api/orders", {
			user: newUser(),
			body: { amount: 1, description: "x" },
			headers: { "Idempotency-Key": "k".repeat(256) }
		});
		expect(res.status).toBe(400);
		expect(res.body.type).toBe("INVALID_IDEMPOTENCY_KEY");
	});
});

describe("payment of an order (one process)", () => {
	it("pays the seed scenario: top-up 1000, order 100 → FINISHED, balance 900", async () => {
		const user = await userWithBalance(1000);
		const order = (await system.request("POST", "/api/orders", { user, body: { amount: 100, description: "seed" } })).body;
		const ended = await waitForOrderEnd(system, user, order.id);
		expect(ended.status).toBe("FINISHED");
		expect(ended.cancelReason).toBeUndefined();
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(900);
	});

	it("cancels an order over the balance with INSUFFICIENT_FUNDS and leaves the balance", async () => {
		const user = await userWithBalance(50);
		const order = (await system.request("POST", "/api/orders", { user, body: { amount: 50.01, description: "too much" } })).body;
		const ended = await waitForOrderEnd(system, user, order.id);
		expect(ended).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(50);
	});

	it("cancels an order of a user without an account with ACCOUNT_NOT_FOUND", async () => {
		const user = newUser();
		const order = (await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "no account" } })).body;
		expect(await waitForOrderEnd(system, user, order.id)).toMatchObject({ status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND" });
	});

	it("confirms every outbox event once the consumer has applied it", async () => {
		const user = await userWithBalance(10);
		const order = (await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "confirm" } })).body;
		await waitForOrderEnd(system, user, order.id);
		const pending = async () => [
			...(await system.sql("orders", "SELECT id FROM outbox_events WHERE confirmed_at IS NULL")),
			...(await system.sql("payments", "SELECT id FROM outbox_events WHERE confirmed_at IS NULL"))
		];
		for (let i = 0; i < 100 && (await pending()).length > 0; i++) await new Promise(r => setTimeout(r, 50));
		expect(await pending()).toEqual([]);
	});
});

describe("live order updates (GET /api/events)", () => {
	it("pushes an order's status change to its owner only", async () => {
		const owner = await userWithBalance(100);
		const other = newUser();
		const ownerStream = await openEventStream(system, owner);
		const otherStream = await openEventStream(system, other);
		try {
			expect(ownerStream.status).toBe(200);
			expect(ownerStream.contentType).toContain("text/event-stream");
			const order = (await system.request("POST", "/api/orders", { user: owner, body: { amount: 30, description: "live" } })).body;
			const pushed = await waitFor("the FINISHED push", async () => ownerStream.orders.find(o => o.id === order.id));
			expect(pushed).toMatchObject({ id: order.id, userId: owner, status: "FINISHED", amount: 30 });
			await new Promise(resolve => setTimeout(resolve, 100));
			expect(otherStream.orders).toEqual([]);
		} finally {
			ownerStream.close();
			otherStream.close();
		}
	});

	it("requires the user header", async () => {
		expect((await system.request("GET", "/api/events")).status).toBe(401);
	});

	it("forgets a stream when its client goes away", async () => {
		const gateway = system.brokers.api.getLocalService("api") as unknown as { orderEventStreams: { size: number } };
		const before = gateway.orderEventStreams.size;
		const stream = await openEventStream(system, newUser());
		await waitFor("the stream to be registered", async () => gateway.orderEventStreams.size === before + 1);
		stream.close();
		await waitFor("the stream to be forgotten", async () => gateway.orderEventStreams.size === before);
	});
});
