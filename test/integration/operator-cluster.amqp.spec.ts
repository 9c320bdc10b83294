/**
 * The operator API over RabbitMQ, one broker per service, in JWT mode (issue 16): operators by
 * their token's role claim; the outbox activity, summed from each instance by its node id
 * (`disableBalancer` sends every call through the transporter), counts an emit and a re-emit; a
 * service with no instance up is reported `available: false` rather than failing the page.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { authenticatorFor } from "../support/configuration";
import { ACTIVITY_WINDOW_BUCKETS, type ActivityBucket } from "../../mixins/outbox-activity";
import { dropFirstDelivery } from "../support/middlewares";
import { startSystem, waitFor, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");
const SECRET = "an-operator-test-secret-of-some-length";
const key = new TextEncoder().encode(SECRET);
const suffix = randomBytes(3).toString("hex");

/** A token for `subject` with these extra claims. */
function token(subject: string, claims: Record<string, unknown> = {}): Promise<string> {
	return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(subject).setIssuedAt().setExpirationTime("5m").sign(key);
}

const total = (buckets: ActivityBucket[], kind: keyof Omit<ActivityBucket, "at">) => buckets.reduce((sum, bucket) => sum + bucket[kind], 0);

describe.skipIf(!rabbitmqUrl)("the operator API on a cluster over RabbitMQ, JWT mode", () => {
	let system: TestSystem;
	/** Payments loses the first delivery of every request: each order's request is re-emitted once. */
	const dropRequests = dropFirstDelivery("payment.requested");
	let operatorToken: string;
	const as = (bearer: string) => ({ Authorization: `Bearer ${bearer}` });

	beforeAll(async () => {
		const authenticator = authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_ROLE_CLAIM: "groups", JWT_ADMIN_ROLE: "ops" });
		system = await startSystem({ transporter: rabbitmqUrl!, paymentsMiddlewares: [dropRequests], api: { authenticator } });
		operatorToken = await token(`operator-${suffix}`, { groups: ["staff", "ops"] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("lets through only tokens whose role claim names the operator role", async () => {
		const user = `jwt-user-${suffix}`;
		const callers: [string, Record<string, string>, number][] = [
			["no token", {}, 401],
			["no role claim", as(await token(user)), 403],
			["another role", as(await token(user, { groups: ["staff"] })), 403],
			["the role under another claim", as(await token(user, { roles: ["ops"], admin: true })), 403],
			["the role as a string", as(await token(user, { groups: "ops" })), 200],
			["the role in an array", as(operatorToken), 200]
		];
		for (const path of ["/api/admin/outbox", "/api/admin/dead-events"]) {
			for (const [who, headers, status] of callers) expect((await system.request("GET", path, { headers })).status, `${path}: ${who}`).toBe(status);
		}
		// A client-sent X-User-Id of an operator means nothing in JWT mode.
		expect((await system.request("GET", "/api/admin/outbox", { user: `operator-${suffix}` })).status).toBe(401);
		expect((await system.request("GET", "/api/me", { headers: as(operatorToken) })).body).toEqual({ userId: `operator-${suffix}`, operator: true });
		expect((await system.request("GET", "/api/me", { headers: as(await token(user)) })).body).toEqual({ userId: user, operator: false });
	});

	it("counts an emit and a re-emit in the outbox activity, summed over the instances", async () => {
		const user = `activity-${suffix}`;
		const headers = as(await token(user));
		expect((await system.request("POST", "/api/accounts", { headers, body: {} })).status).toBe(201);
		expect((await system.request("POST", "/api/accounts/topup", { headers, body: { amount: 10 } })).status).toBe(200);
		const created = await system.request("POST", "/api/orders", { headers, body: { amount: 2, description: "activity" } });
		expect(created.status).toBe(201);
		await waitFor("the order to end", async () => {
			const { body } = await system.request("GET", `/api/orders/${created.body.id}`, { headers });
			return body.status !== "NEW" ? body : null;
		});
		expect(dropRequests.dropped.size).toBe(1);

		const overview = await waitFor("the result's confirmation to be counted", async () => {
			const { body } = await system.request("GET", "/api/admin/outbox", { headers: as(operatorToken) });
			return total(body.services[1].activity, "confirmed") >= 1 ? body : null;
		});
		expect(overview.bucketSeconds).toBe(10);
		expect(overview.services.map((entry: { service: string }) => entry.service)).toEqual(["orders", "payments"]);
		const [orders, payments] = overview.services;
		expect(orders).toMatchObject({ available: true, pending: 0, dead: 0 });
		expect(orders.activity).toHaveLength(ACTIVITY_WINDOW_BUCKETS);
		const starts = orders.activity.map((bucket: ActivityBucket) => Date.parse(bucket.at));
		for (const [i, start] of starts.entries()) {
			expect(start % 10_000).toBe(0);
			if (i > 0) expect(start - starts[i - 1]).toBe(10_000);
		}
		expect(Date.now() - starts.at(-1)).toBeLessThan(20_000);
		// The request: emitted once, lost, re-emitted (counted as emitted again), confirmed.
		expect(total(orders.activity, "emitted")).toBe(2);
		expect(total(orders.activity, "reemitted")).toBe(1);
		expect(total(orders.activity, "confirmed")).toBe(1);
		expect(total(payments.activity, "emitted")).toBe(1);
		expect(total(payments.activity, "reemitted")).toBe(0);
		expect(payments).toMatchObject({ available: true });
	});

	it("reports a service with no instance up as unavailable, with zeros, and the others as usual", async () => {
		await system.brokers.payments.stop();
		const overview = await waitFor("payments to leave the registry", async () => {
			const { body } = await system.request("GET", "/api/admin/outbox", { headers: as(operatorToken) });
			return body.services?.[1].available === false ? body : null;
		});
		const [orders, payments] = overview.services;
		expect(orders.available).toBe(true);
		expect(payments).toMatchObject({ service: "payments", available: false, pending: 0, oldestPendingAgeSeconds: 0, dead: 0 });
		expect(payments.activity).toHaveLength(ACTIVITY_WINDOW_BUCKETS);
		expect(total(payments.activity, "emitted")).toBe(0);
		// Dead events of every service: the ones that can be asked; of payments alone: unavailable, saying nothing inside.
		const all = await system.request("GET", "/api/admin/dead-events", { headers: as(operatorToken) });
		expect(all.status).toBe(200);
		expect(all.body.unavailable).toEqual(["payments"]);
		const down = await system.request("GET", "/api/admin/dead-events?service=payments", { headers: as(operatorToken) });
		expect(down.status).toBe(503);
		expect(down.body.type).toBe("SERVICE_UNAVAILABLE");
	});
});
