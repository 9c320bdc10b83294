/**
 * The operator API (issue 16) on the whole system, header mode, one process: who may use
 * `/api/admin` (401, 403 before any handler, 200), an order's journey for its owner and for
 * operators, dead events listed and replayed (the order then ends), what hostile input gets (a
 * clear 4xx that changes nothing), and the `/ops` page.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticatorFor } from "../support/configuration";
import { JOURNEY_STEPS } from "../../services/orders/order-journey";
import { PAGE_CONTENT_SECURITY_POLICY } from "../../platform/security-headers";
import { breakHandler, openAccount, placeOrder, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

/** Parks an event after two failures, at any age: a broken handler parks its event within a second. */
const OUTBOX = { pollIntervalMs: 100, batchSize: 100, retry: { baseMs: 200, maxMs: 400 }, parking: { maxFailures: 2, minAgeMs: 0 } };
/** No reconciler round during the tests: it would end the stuck order itself. */
const RECONCILER = { intervalMs: 600_000, overdueAfterMs: 3_600_000, batchSize: 100, callTimeoutMs: 1000 };
const OPERATOR = "ops-admin";

let system: TestSystem;
const suffix = randomBytes(3).toString("hex");

beforeAll(async () => {
	system = await startSystem({ outbox: OUTBOX, reconciler: RECONCILER, api: { authenticator: authenticatorFor({ ADMIN_USER_IDS: ` other, ${OPERATOR} ` }) } });
});

afterAll(async () => {
	await system?.stop();
});

const isDead = async (eventId: string) => (await system.sql("orders", "SELECT dead_at FROM outbox_events WHERE id = $1", [eventId]))[0]?.dead_at !== null;

describe("who may use the operator routes", () => {
	it("answers 401 without a caller, 403 FORBIDDEN to a non-operator and 200 to an operator, on every admin route", async () => {
		const user = `plain-${suffix}`;
		await openAccount(system, user, 10);
		const orderId = await placeOrder(system, user, 1, "operator test");
		const routes: [string, string, unknown?][] = [
			["GET", "/api/admin/outbox"],
			["GET", "/api/admin/dead-events"],
			["GET", "/api/admin/dead-events?service=payments&limit=5"],
			["POST", "/api/admin/dead-events/replay", { service: "payments", ids: [] }],
			["GET", `/api/admin/orders/${orderId}/journey`]
		];
		for (const [method, path, body] of routes) {
			expect((await system.request(method, path, { body })).status, `${method} ${path} anonymous`).toBe(401);
			const refused = await system.request(method, path, { user, body });
			expect(refused.status, `${method} ${path} non-operator`).toBe(403);
			expect(refused.body).toMatchObject({ code: 403, type: "FORBIDDEN" });
			expect((await system.request(method, path, { user: OPERATOR, body })).status, `${method} ${path} operator`).toBe(200);
		}
	});

	it("tells a caller who they are and whether an operator", async () => {
		expect((await system.request("GET", "/api/me", { user: "someone" })).body).toEqual({ userId: "someone", operator: false });
		expect((await system.request("GET", "/api/me", { user: OPERATOR })).body).toEqual({ userId: OPERATOR, operator: true });
		expect((await system.request("GET", "/api/me")).status).toBe(401);
	});

	it("keeps the gateway's rules on the admin routes: OPTIONS, 405, case-sensitive paths, security headers", async () => {
		const options = await system.request("OPTIONS", "/api/admin/dead-events/replay");
		expect(options.status).toBe(204);
		expect(options.headers.get("allow")).toBe("POST, OPTIONS");
		const wrongMethod = await system.request("DELETE", "/api/admin/outbox", { user: OPERATOR });
		expect(wrongMethod.status).toBe(405);
		expect(wrongMethod.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
		expect((await system.request("GET", "/api/ADMIN/outbox", { user: OPERATOR })).status).toBe(404);
		expect((await system.request("GET", "/api/admin/unknown", { user: OPERATOR })).status).toBe(404);
		const answer = await system.request("GET", "/api/admin/outbox", { user: OPERATOR });
		expect(answer.headers.get("cache-control")).toBe("no-store");
		expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
	});
});

describe("an order's journey", () => {
	it("shows every hop of a finished order, in time order, to its owner and to operators, and to nobody else", async () => {
		const user = `journey-${suffix}`;
		await openAccount(system, user, 10);
		const requestId = "0f8fad5b-d9cb-469f-a165-70867728950e";
		const created = await system.request("POST", "/api/orders", { user, body: { amount: 4, description: "traced" }, headers: { "X-Request-ID": requestId } });
		const orderId = created.body.id as string;
		await waitForOrderEnd(system, user, orderId);
		// Every step of a paid order: all but a cancel's (issue 18).
		const paidSteps = JOURNEY_STEPS.filter(step => step !== "cancelRequested" && step !== "refunded");
		// The result's confirmation reaches payments a few milliseconds after the order ended.
		const journey = await waitFor("every hop", async () => {
			const { body } = await system.request("GET", `/api/orders/${orderId}/journey`, { user });
			return body.hops?.length === paidSteps.length ? body : null;
		});
		expect(journey.order).toMatchObject({ id: orderId, userId: user, status: "FINISHED", amount: 4 });
		// The request id the order was placed with: its trace, and the requestId of its log lines.
		expect(journey.traceId).toBe(requestId);
		expect(journey.pending).toBeUndefined();
		expect(new Set(journey.hops.map((hop: { step: string }) => hop.step))).toEqual(new Set(paidSteps));
		expect(journey.hops[0]).toMatchObject({ step: "created", service: "orders", tookMs: 0 });
		const times = journey.hops.map((hop: { at: string }) => Date.parse(hop.at));
		expect(times).toEqual([...times].sort((a, b) => a - b));
		for (const [i, hop] of journey.hops.entries()) {
			expect(hop.tookMs, hop.step).toBeGreaterThanOrEqual(0);
			if (i > 0) expect(hop.tookMs, hop.step).toBe(times[i] - times[i - 1]);
		}
		const step = (name: string) => journey.hops.find((hop: { step: string }) => hop.step === name);
		expect(step("paymentDecided")).toMatchObject({ service: "payments", detail: "PAID" });
		expect(step("pushed")).toMatchObject({ service: "orders", detail: "FINISHED", at: journey.order.updatedAt });
		// Causes before effects: the request before its receipt, the decision before its result is applied.
		expect(Date.parse(step("requestEmitted").at)).toBeLessThanOrEqual(Date.parse(step("requestReceived").at));
		expect(Date.parse(step("resultEmitted").at)).toBeLessThanOrEqual(Date.parse(step("resultApplied").at));

		expect((await system.request("GET", `/api/admin/orders/${orderId}/journey`, { user: OPERATOR })).body).toEqual(journey);
		// The owner's route is the owner's, operators included; another's order is not found, as on GET /api/orders/:id.
		for (const caller of ["someone-else", OPERATOR]) {
			const other = await system.request("GET", `/api/orders/${orderId}/journey`, { user: caller });
			expect(other.status).toBe(404);
			expect(other.body.type).toBe("ORDER_NOT_FOUND");
		}
	});

	it("answers a clear 4xx for malformed and unknown ids", async () => {
		expect((await system.request("GET", "/api/orders/not-a-uuid/journey", { user: "someone" })).body.type).toBe("ORDER_NOT_FOUND");
		expect((await system.request("GET", "/api/admin/orders/not-a-uuid/journey", { user: OPERATOR })).status).toBe(422);
		const unknown = await system.request("GET", `/api/admin/orders/${randomUUID()}/journey`, { user: OPERATOR });
		expect(unknown.status).toBe(404);
		expect(unknown.body.type).toBe("ORDER_NOT_FOUND");
		expect((await system.request("GET", `/api/admin/orders/${randomUUID()}/journey?userId=x`, { user: OPERATOR })).status).toBe(422);
	});
});

describe("dead events", () => {
	it("shows an order waiting on a dead request, refuses hostile replays, and an operator's replay ends the order", async () => {
		const user = `dead-${suffix}`;
		await openAccount(system, user, 10);
		const broken = await breakHandler(system, "payments", "INSERT ON payment_transactions", `NEW.user_id = '${user}'`);
		let orderId: string;
		let requestEventId: string;
		try {
			orderId = await placeOrder(system, user, 3, "operator test");
			[{ request_event_id: requestEventId }] = await system.sql("orders", "SELECT request_event_id FROM orders WHERE id = $1", [orderId]);
			await waitFor("the request to be parked as dead", () => isDead(requestEventId).then(dead => dead || null));
		} finally {
			await broken.fixed();
		}

		const journey = (await system.request("GET", `/api/admin/orders/${orderId}/journey`, { user: OPERATOR })).body;
		expect(journey.order.status).toBe("NEW");
		expect(journey.pending).toMatchObject({ step: "requestReceived", why: expect.stringContaining("a broken handler (test)") });
		expect(journey.hops.find((hop: { step: string }) => hop.step === "requestEmitted").detail).toMatch(/dead: .*a broken handler \(test\)/);
		// The owner sees that payments could not process it, not the consumer's raw error (a database's message: issue 15).
		const ownJourney = (await system.request("GET", `/api/orders/${orderId}/journey`, { user })).body;
		expect(ownJourney.pending).toMatchObject({ step: "requestReceived", why: expect.stringContaining("payments could not process it") });
		expect(ownJourney.hops.find((hop: { step: string }) => hop.step === "requestEmitted").detail).toMatch(/dead$/);
		expect(JSON.stringify(ownJourney)).not.toContain("a broken handler");

		const listed = await system.request("GET", "/api/admin/dead-events?service=orders", { user: OPERATOR });
		expect(listed.body.events).toContainEqual(
			expect.objectContaining({
				service: "orders",
				id: requestEventId,
				eventName: "payment.requested",
				targetGroup: "payments",
				orderId,
				lastError: expect.stringContaining("a broken handler (test)")
			})
		);
		const listedAll = await system.request("GET", "/api/admin/dead-events", { user: OPERATOR });
		expect(listedAll.body.events.map((event: { id: string }) => event.id)).toContain(requestEventId);
		expect((await system.request("GET", "/api/admin/dead-events?service=payments", { user: OPERATOR })).body.events).toEqual([]);

		// Hostile or mistaken input: a clear 4xx, and the event stays dead.
		const hostile: [string, string, unknown?, number?][] = [
			["POST", "/api/admin/dead-events/replay", { service: "orders", ids: [requestEventId] }, 403],
			["POST", "/api/admin/dead-events/replay", { service: "billing", ids: [requestEventId] }],
			["POST", "/api/admin/dead-events/replay", { ids: [requestEventId] }],
			["POST", "/api/admin/dead-events/replay", { service: "orders", ids: ["not-a-uuid"] }],
			["POST", "/api/admin/dead-events/replay", { service: "orders", ids: requestEventId }],
			["POST", "/api/admin/dead-events/replay", { service: "orders", ids: Array.from({ length: 1001 }, () => requestEventId) }],
			["POST", "/api/admin/dead-events/replay", { service: "orders", ids: [requestEventId], all: true }],
			["POST", "/api/admin/dead-events/replay?service=orders", { ids: [requestEventId] }, 400],
			["POST", "/api/admin/dead-events/replay", { service: ["orders"] }],
			["GET", "/api/admin/dead-events?service=billing"],
			["GET", "/api/admin/dead-events?service=orders&service=payments"],
			["GET", "/api/admin/dead-events?limit=0"],
			["GET", "/api/admin/dead-events?limit=1001"],
			["GET", "/api/admin/dead-events?limit=abc"],
			["GET", "/api/admin/dead-events?limit=1&limit=2"],
			["GET", "/api/admin/outbox?verbose=1"]
		];
		for (const [method, path, body, status] of hostile) {
			const answer = await system.request(method, path, { user: status === 403 ? user : OPERATOR, body });
			const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
			if (status) expect(answer.status, label).toBe(status);
			else expect([400, 422], label).toContain(answer.status);
			expect(answer.body.message, label).toEqual(expect.any(String));
		}
		// Keys the query parser drops are no keys at all: the plain list.
		for (const query of ["__proto__=x", "constructor[prototype][x]=1"]) {
			expect((await system.request("GET", `/api/admin/dead-events?${query}`, { user: OPERATOR })).body, query).toEqual(listedAll.body);
		}
		expect(await isDead(requestEventId)).toBe(true);
		expect((await system.request("GET", `/api/orders/${orderId}`, { user })).body.status).toBe("NEW");

		const replay = await system.request("POST", "/api/admin/dead-events/replay", { user: OPERATOR, body: { service: "orders", ids: [requestEventId, randomUUID()] } });
		expect(replay.status).toBe(200);
		expect(replay.body).toEqual({ service: "orders", replayed: [requestEventId] });
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		const revived = (await system.request("GET", `/api/admin/orders/${orderId}/journey`, { user: OPERATOR })).body;
		expect(revived.pending).toBeUndefined();
		expect(revived.hops.map((hop: { step: string }) => hop.step)).toEqual(expect.arrayContaining(["requestReceived", "paymentDecided", "pushed"]));
		expect(revived.hops.find((hop: { step: string }) => hop.step === "requestEmitted").detail).toMatch(/^emitted \d+ times$/);
		// Replayed once: a second replay finds nothing dead.
		expect((await system.request("POST", "/api/admin/dead-events/replay", { user: OPERATOR, body: { service: "orders" } })).body).toEqual({ service: "orders", replayed: [] });
	});
});

describe("dead events while a service's database fails (attack on issue 16)", () => {
	it("lists the other services' dead events and names the failing one, instead of a 500 for all", async () => {
		const user = `outage-${suffix}`;
		await openAccount(system, user, 10);
		const broken = await breakHandler(system, "payments", "INSERT ON payment_transactions", `NEW.user_id = '${user}'`);
		let requestEventId: string;
		try {
			const orderId = await placeOrder(system, user, 2, "operator test");
			[{ request_event_id: requestEventId }] = await system.sql("orders", "SELECT request_event_id FROM orders WHERE id = $1", [orderId]);
			await waitFor("the request to be parked as dead", () => isDead(requestEventId).then(dead => dead || null));
		} finally {
			await broken.fixed();
		}
		const table = `outbox_events_hidden_${suffix}`;
		await system.sql("payments", `ALTER TABLE outbox_events RENAME TO ${table}`);
		try {
			const all = await system.request("GET", "/api/admin/dead-events", { user: OPERATOR });
			expect(all.status).toBe(200);
			expect(all.body.unavailable).toEqual(["payments"]);
			expect(all.body.events.map((event: { id: string }) => event.id)).toContain(requestEventId);
			// Asked for by name, the failing service is an error, told in no internal words.
			const one = await system.request("GET", "/api/admin/dead-events?service=payments", { user: OPERATOR });
			expect(one.status).toBe(500);
			expect(JSON.stringify(one.body)).not.toContain("outbox_events");
		} finally {
			await system.sql("payments", `ALTER TABLE ${table} RENAME TO outbox_events`);
		}
		expect((await system.request("GET", "/api/admin/dead-events", { user: OPERATOR })).body.unavailable).toEqual([]);
		// Not left dead for the next test.
		await system.request("POST", "/api/admin/dead-events/replay", { user: OPERATOR, body: { service: "orders", ids: [requestEventId] } });
	});
});

describe("the operator page", () => {
	it("serves the front end's page at /ops with the page security headers", async () => {
		const root = await fetch(`${system.baseUrl}/`);
		const page = await fetch(`${system.baseUrl}/ops`);
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		expect(page.headers.get("content-security-policy")).toBe(PAGE_CONTENT_SECURITY_POLICY);
		expect(page.headers.get("x-frame-options")).toBe("DENY");
		expect(await page.text()).toBe(await root.text());
		expect((await fetch(`${system.baseUrl}/ops`, { method: "HEAD" })).status).toBe(200);
		expect((await fetch(`${system.baseUrl}/ops`, { method: "POST" })).status).toBe(405);
		expect((await fetch(`${system.baseUrl}/OPS`)).status).toBe(404);
	});
});
