/**
 * The reconciler (issue 14: "never NEW forever" an invariant), on the whole system in one process
 * and real Postgres. Orders are made overdue by moving their creation back an hour, and rounds are
 * run by hand (`orders.reconcile`): an order whose payment result was parked as dead ends and the
 * dead event leaves the dead list without a replay; a dead payment request is revived; an order
 * whose request was applied but whose decision is gone (or that never had a linked request) is
 * requested again and charged once; young and ended orders are left alone; one instance per
 * interval runs the timer's round; a round that cannot reach payments does nothing and the next
 * works; every periodic statement reads through an index.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAYMENT_EVENTS, PAYMENT_DECISIONS_ACTION, type PaymentDecision } from "../../services/payments/contracts";
import { ORDER_EVENTS } from "../../services/orders/contracts";
import { claimMaintenanceRun } from "../../mixins/retention-sql";
import { reviveDeadEvents } from "../../mixins/outbox-sql";
import { selectPaymentDecisions } from "../../services/payments/payments-sql";
import { countOverdueOrders, linkPaymentRequest, lockNewOrder, selectDeadCancelRequests, selectOverdueOrders } from "../../services/orders/reconciliation-sql";
import type { SqlQuery } from "../../platform/sql";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import { createOrdersService } from "../../services/orders/orders.service";
import { RECONCILER_METRICS, type ReconcileRound, type ReconcilerMethods, type ReconcilerOptions } from "../../services/orders/orders.reconciler";
import { asMiddleware } from "../support/middlewares";
import { breakHandler, openAccount, placeOrder, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const OUTBOX = { pollIntervalMs: 100, batchSize: 100, retry: { baseMs: 200, maxMs: 400 }, parking: { maxFailures: 2, minAgeMs: 0 } };
/** No round on the timer unless a test asks for one; an hour-old order is overdue. */
const RECONCILER: ReconcilerOptions = { intervalMs: 600_000, overdueAfterMs: 60_000, batchSize: 100, callTimeoutMs: 500 };

/** While set, payments answers the reconciler's question only after the caller has given up. */
let paymentsHangs = false;
const hangingPayments = asMiddleware({
	name: "HangingPayments",
	localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
		if (action.name !== PAYMENT_DECISIONS_ACTION) return next;
		return async (ctx: Context) => {
			if (paymentsHangs) await new Promise(resolve => setTimeout(resolve, RECONCILER.callTimeoutMs + 200));
			return next(ctx);
		};
	}
});

let system: TestSystem;
const suffix = randomBytes(3).toString("hex");

beforeAll(async () => {
	system = await startSystem({ outbox: OUTBOX, reconciler: RECONCILER, paymentsMiddlewares: [hangingPayments] });
});

afterAll(async () => {
	await system?.stop();
});

/** A NEW order written directly, as an order placed before requests were linked: no request_event_id. */
async function unlinkedOrder(user: string, amountMinor: number, age = "1 hour"): Promise<string> {
	const id = randomUUID();
	await system.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description, created_at) VALUES ($1, $2, $3, 'unlinked', now() - $4::interval)", [id, user, amountMinor, age]);
	return id;
}

const makeOverdue = (orderId: string) => system.sql("orders", "UPDATE orders SET created_at = created_at - interval '1 hour' WHERE id = $1", [orderId]);
const reconcile = () => system.brokers.orders.call<ReconcileRound, object>("orders.reconcile", {});
const actionFor = (round: ReconcileRound, orderId: string) => round.orders.find(order => order.orderId === orderId)?.action;
const order = async (id: string) => (await system.sql("orders", "SELECT status, cancel_reason, request_event_id, updated_at FROM orders WHERE id = $1", [id]))[0];
const balance = async (user: string) => (await system.request("GET", "/api/accounts/balance", { user })).body.balance;
const decisionsOf = async (orderId: string) => system.sql("payments", "SELECT outcome, result_event_id FROM payment_transactions WHERE order_id = $1", [orderId]);

async function waitForDead(database: "orders" | "payments", where: string, value: string) {
	return waitFor(`the ${database} event to be parked as dead`, async () => {
		const [row] = await system.sql(database, `SELECT id, attempts, failures, dead_at, confirmed_at FROM outbox_events WHERE ${where}`, [value]);
		return row?.dead_at ? row : null;
	});
}

describe("the reconciler", () => {
	it("ends an order whose payment result was parked as dead, and confirms the dead event without a replay", async () => {
		const user = `dead-result-${suffix}`;
		await openAccount(system, user, 10);
		const broken = await breakHandler(system, "orders", "UPDATE ON orders", "NEW.description = 'result handler broken'");
		let orderId: string;
		let dead: { id: string; attempts: number; failures: number };
		try {
			orderId = await placeOrder(system, user, 4, "result handler broken");
			dead = await waitForDead("payments", "event_name = 'payment.processed' AND payload->>'orderId' = $1", orderId);
		} finally {
			await broken.fixed();
		}
		expect((await order(orderId)).status).toBe("NEW"); // and so it would stay: nothing re-emits a dead event
		await makeOverdue(orderId);

		expect(actionFor(await reconcile(), orderId)).toBe("applied");
		expect(await order(orderId)).toMatchObject({ status: "FINISHED" });
		expect(await balance(user)).toBe(6);
		// Applied under the dead event's own id, and confirmed to payments: off the dead list. A replay
		// would have reset its attempts and failures; they are as they were when it was parked.
		expect(await system.sql("orders", "SELECT 1 FROM inbox_events WHERE event_id = $1", [dead.id])).toHaveLength(1);
		const healed = await waitFor("the dead event to be confirmed", async () => {
			const [row] = await system.sql("payments", "SELECT attempts, failures, confirmed_at FROM outbox_events WHERE id = $1", [dead.id]);
			return row.confirmed_at ? row : null;
		});
		expect(healed).toMatchObject({ attempts: dead.attempts, failures: dead.failures });
		const listed = await system.brokers.payments.call<{ id: string }[], object>("payments.deadEvents", {});
		expect(listed.map(event => event.id)).not.toContain(dead.id);
	});

	it("revives an order's payment request parked as dead, and the order ends", async () => {
		const user = `dead-request-${suffix}`;
		await openAccount(system, user, 10);
		const broken = await breakHandler(system, "payments", "INSERT ON payment_transactions", `NEW.user_id = '${user}'`);
		let orderId: string;
		let requestEventId: string;
		try {
			orderId = await placeOrder(system, user, 3, "request handler broken");
			requestEventId = (await order(orderId)).request_event_id;
			await waitForDead("orders", "id = $1", requestEventId);
		} finally {
			await broken.fixed();
		}
		await makeOverdue(orderId);

		expect(actionFor(await reconcile(), orderId)).toBe("revived");
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		expect(await balance(user)).toBe(7);
		expect((await order(orderId)).request_event_id).toBe(requestEventId); // the same request, sent again
	});

	it("revives a cancel request parked as dead, and the refund is made once (issue 18)", async () => {
		const user = `dead-cancel-${suffix}`;
		await openAccount(system, user, 10);
		const orderId = await placeOrder(system, user, 4, "refund handler broken");
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		const broken = await breakHandler(system, "payments", "UPDATE ON payment_transactions", `NEW.user_id = '${user}' AND NEW.refunded_at IS NOT NULL`);
		try {
			expect((await system.request("POST", `/api/orders/${orderId}/cancel`, { user })).status).toBe(202);
			await waitForDead("orders", "event_name = 'payment.cancelRequested' AND payload->>'orderId' = $1", orderId);
		} finally {
			await broken.fixed();
		}
		// Not yet overdue: left alone.
		expect(actionFor(await reconcile(), orderId)).toBeUndefined();
		await system.sql("orders", "UPDATE orders SET cancel_requested_at = cancel_requested_at - interval '1 hour' WHERE id = $1", [orderId]);

		expect(actionFor(await reconcile(), orderId)).toBe("revived");
		const refunded = await waitFor("the refund", async () => {
			const { body } = await system.request("GET", `/api/orders/${orderId}`, { user });
			return body.status === "REFUNDED" ? body : null;
		});
		expect(refunded.refundedAt).toEqual(expect.any(String));
		expect(await balance(user)).toBe(10);
		expect(await system.sql("payments", "SELECT kind FROM account_movements WHERE order_id = $1 ORDER BY id", [orderId])).toEqual([{ kind: "PAYMENT" }, { kind: "REFUND" }]);
		expect(actionFor(await reconcile(), orderId)).toBeUndefined();
	});

	const lostRequests: [string, (user: string) => Promise<string>][] = [
		["an order from before requests were linked", user => unlinkedOrder(user, 200)],
		[
			"a request applied whose decision is gone (payments restored from a backup)",
			async user => {
				const orderId = await unlinkedOrder(user, 200);
				const [request] = await system.sql("orders", "INSERT INTO outbox_events (event_name, target_group, payload, confirmed_at) VALUES ($1, 'payments', '{}', now()) RETURNING id", [
					ORDER_EVENTS.PAYMENT_REQUESTED
				]);
				await system.sql("orders", "UPDATE orders SET request_event_id = $2 WHERE id = $1", [orderId, request.id]);
				return orderId;
			}
		],
		[
			"a request deleted by retention once confirmed, with no decision",
			async user => {
				const orderId = await unlinkedOrder(user, 200);
				await system.sql("orders", "UPDATE orders SET request_event_id = $2 WHERE id = $1", [orderId, randomUUID()]);
				return orderId;
			}
		]
	];

	it.each(lostRequests)("requests the payment again for %s, and it is charged once", async (_case, setUp) => {
		const user = `lost-request-${randomBytes(3).toString("hex")}`;
		await openAccount(system, user, 10);
		const orderId = await setUp(user);
		const before = (await order(orderId)).request_event_id;

		expect(actionFor(await reconcile(), orderId)).toBe("requested");
		const after = (await order(orderId)).request_event_id;
		expect(after).not.toBe(before);
		expect(await system.sql("orders", "SELECT event_name FROM outbox_events WHERE id = $1", [after])).toEqual([{ event_name: ORDER_EVENTS.PAYMENT_REQUESTED }]);
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		expect(await balance(user)).toBe(8);
		expect(await decisionsOf(orderId)).toHaveLength(1);
	});

	it("leaves young orders and ended orders alone", async () => {
		const user = `left-alone-${suffix}`;
		await openAccount(system, user, 10);
		const young = await unlinkedOrder(user, 100, "1 second");
		const ended = await placeOrder(system, user, 1, "ended");
		await waitForOrderEnd(system, user, ended);
		await makeOverdue(ended);
		const endedBefore = await order(ended);
		const [{ events }] = await system.sql("orders", "SELECT count(*)::int AS events FROM outbox_events");

		const round = await reconcile();
		expect(actionFor(round, young)).toBeUndefined();
		expect(actionFor(round, ended)).toBeUndefined();
		expect(await order(young)).toMatchObject({ status: "NEW", request_event_id: null });
		expect(await order(ended)).toEqual(endedBefore);
		expect((await system.sql("orders", "SELECT count(*)::int AS events FROM outbox_events"))[0].events).toBe(events);
		expect(await balance(user)).toBe(9);
	});

	it("does nothing when payments cannot answer in time, and the next round does the work", async () => {
		const user = `unreachable-${suffix}`;
		await openAccount(system, user, 10);
		const orderId = await unlinkedOrder(user, 500);
		paymentsHangs = true;
		let round: ReconcileRound;
		try {
			round = await reconcile();
		} finally {
			paymentsHangs = false;
		}
		expect(round.paymentsUnreachable).toMatch(/timed? ?out/i);
		expect(round.orders).toEqual([]);
		expect(await order(orderId)).toMatchObject({ status: "NEW", request_event_id: null });

		expect(actionFor(await reconcile(), orderId)).toBe("requested");
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		expect(await balance(user)).toBe(5);
	});
});

describe("a round", () => {
	let small: TestSystem;
	afterAll(async () => {
		await small?.stop();
	});

	it("goes on where the last full round stopped, so orders it can do nothing for do not hold the others back", async () => {
		small = await startSystem({ outbox: OUTBOX, reconciler: { ...RECONCILER, batchSize: 2 } });
		const user = `backlog-${suffix}`;
		await small.request("POST", "/api/accounts", { user, body: {} });
		await small.request("POST", "/api/accounts/topup", { user, body: { amount: 10 } });
		// The two oldest have requests the outbox will send in an hour: nothing to do for them yet.
		const waiting: string[] = [];
		for (const age of ["3 hours", "2 hours"]) {
			const [row] = await small.sql(
				"orders",
				`WITH request AS (
					INSERT INTO outbox_events (event_name, target_group, payload, next_attempt_at) VALUES ($1, 'payments', '{}', now() + interval '1 hour') RETURNING id
				)
				INSERT INTO orders (id, user_id, amount_minor, description, created_at, request_event_id)
				SELECT gen_random_uuid(), $2, 100, 'waiting', now() - $3::interval, id FROM request RETURNING id`,
				[ORDER_EVENTS.PAYMENT_REQUESTED, user, age]
			);
			waiting.push(row.id);
		}
		const stuck = randomUUID();
		await small.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description, created_at) VALUES ($1, $2, 100, 'stuck', now() - interval '1 hour')", [stuck, user]);
		const round = () => small.brokers.orders.call<ReconcileRound, object>("orders.reconcile", {});

		expect((await round()).orders).toEqual(waiting.map(orderId => ({ orderId, action: "waiting" })));
		expect((await round()).orders).toEqual([{ orderId: stuck, action: "requested" }]);
		expect(await waitForOrderEnd(small, user, stuck)).toMatchObject({ status: "FINISHED" });
		expect((await round()).orders).toEqual(waiting.map(orderId => ({ orderId, action: "waiting" }))); // and over again
	});
});

describe("payments.paymentDecisions", () => {
	it("answers each decided order with the id of the event written with the decision", async () => {
		const user = `decisions-${suffix}`;
		await openAccount(system, user, 1);
		const paid = await placeOrder(system, user, 1, "paid");
		await waitForOrderEnd(system, user, paid);
		const refused = await placeOrder(system, user, 1, "refused");
		await waitForOrderEnd(system, user, refused);
		const undecided = randomUUID();

		const decisions = await system.brokers.orders.call<PaymentDecision[], object>(PAYMENT_DECISIONS_ACTION, { orderIds: [paid, refused, undecided] });
		const resultEvents = await system.sql("payments", "SELECT id, payload->>'orderId' AS order_id FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = ANY($2)", [
			PAYMENT_EVENTS.PAYMENT_PROCESSED,
			[paid, refused]
		]);
		const eventOf = (orderId: string) => resultEvents.find(event => event.order_id === orderId)?.id;
		expect(decisions.sort((a, b) => (a.outcome < b.outcome ? -1 : 1))).toEqual([
			{ orderId: paid, outcome: "PAID", reason: null, eventId: eventOf(paid) },
			{ orderId: refused, outcome: "REFUSED", reason: "INSUFFICIENT_FUNDS", eventId: eventOf(refused) }
		]);
	});

	it("refuses malformed questions, and the gateway does not route it", async () => {
		const ask = (orderIds: unknown) => system.brokers.orders.call(PAYMENT_DECISIONS_ACTION, { orderIds });
		await expect(ask([])).rejects.toMatchObject({ name: "ValidationError" });
		await expect(ask(["not-a-uuid"])).rejects.toMatchObject({ name: "ValidationError" });
		await expect(ask(Array.from({ length: 101 }, () => randomUUID()))).rejects.toMatchObject({ name: "ValidationError" });
		const viaGateway = await system.request("POST", "/api/payments/paymentDecisions", { user: "someone", body: { orderIds: [randomUUID()] } });
		expect(viaGateway.status).toBe(404);
	});
});

describe("the reconciler's timer", () => {
	/** A second orders instance on the same database, alone on its broker (it cannot reach payments). */
	async function secondInstance(reconciler: ReconcilerOptions) {
		const broker = new ServiceBroker({
			...createBrokerOptions(loadConfiguration({})),
			nodeID: `orders-2-${suffix}`,
			logger: false,
			metrics: { enabled: true, reporter: [] }
		});
		broker.createService(createOrdersService({ databaseUrl: system.databaseUrls.orders, outbox: OUTBOX, reconciler }));
		await broker.start();
		return { broker, service: broker.getLocalService("orders") as unknown as ReconcilerMethods };
	}

	it("runs on one instance per interval", async () => {
		const second = await secondInstance(RECONCILER);
		try {
			await system.sql("orders", "DELETE FROM maintenance_runs WHERE job = 'reconcile'");
			const first = system.brokers.orders.getLocalService("orders") as unknown as ReconcilerMethods;
			expect(await first.runScheduledReconciliation()).not.toBeNull();
			expect(await second.service.runScheduledReconciliation()).toBeNull();
			expect(await first.runScheduledReconciliation()).toBeNull();
		} finally {
			await second.broker.stop();
		}
	});

	it("runs every interval, sets the overdue gauge, survives an unreachable payments, and stops with its service", async () => {
		const orderId = await unlinkedOrder(`timer-${suffix}`, 100);
		const lastRun = async () => (await system.sql("orders", "SELECT last_run_at FROM maintenance_runs WHERE job = 'reconcile'"))[0]?.last_run_at?.getTime() ?? 0;
		const second = await secondInstance({ ...RECONCILER, intervalMs: 200 });
		let stoppedAt: number;
		try {
			// Each round fails to ask payments (not on this broker): logged, and the timer goes on.
			const before = await lastRun();
			const first = await waitFor("a round", async () => ((await lastRun()) > before ? lastRun() : 0));
			await waitFor("the next round", async () => (await lastRun()) > first);
			const gauge = second.broker.metrics.getMetric(RECONCILER_METRICS.OVERDUE)?.get({ service: "orders" })?.value;
			expect(gauge).toBeGreaterThanOrEqual(1);
		} finally {
			await second.broker.stop();
			stoppedAt = await lastRun();
		}
		await new Promise(resolve => setTimeout(resolve, 600));
		expect(await lastRun()).toBe(stoppedAt);
		expect(await order(orderId)).toMatchObject({ status: "NEW", request_event_id: null });
	});
});

describe("the reconciler's statements", () => {
	/** The plan of a statement with sequential scans off: a Seq Scan left in it means no index can serve it. */
	async function plan(database: "orders" | "payments", query: SqlQuery): Promise<string> {
		const client = new Client({ connectionString: system.databaseUrls[database] });
		await client.connect();
		try {
			await client.query("SET enable_seqscan = off");
			const { rows } = await client.query(`EXPLAIN ${query.text}`, query.values);
			return rows.map(row => row["QUERY PLAN"]).join("\n");
		} finally {
			await client.end();
		}
	}

	const periodic: [string, "orders" | "payments", SqlQuery, RegExp][] = [
		["the overdue scan", "orders", selectOverdueOrders(60_000, 100, null), /orders_new_created_idx[\s\S]*outbox_events_pkey/],
		[
			"the overdue scan from where the last stopped",
			"orders",
			selectOverdueOrders(60_000, 100, { createdAt: "2026-01-01 00:00:00.123456+00", id: randomUUID() }),
			/orders_new_created_idx.*\n\s*Index Cond: .*ROW\(created_at, id\) >/
		],
		["the overdue gauge", "orders", countOverdueOrders(60_000), /orders_new_created_idx/],
		["the claim of the interval's run", "orders", claimMaintenanceRun("reconcile", 30_000), /maintenance_runs_pkey/],
		["the revival of a dead request", "orders", reviveDeadEvents([randomUUID()]), /Index/],
		["the link to a new request", "orders", linkPaymentRequest(randomUUID(), randomUUID()), /orders_pkey/],
		["the lock of an order still NEW", "orders", lockNewOrder(randomUUID()), /Index Scan using orders_/],
		["the dead cancel requests", "orders", selectDeadCancelRequests(60_000, 100), /orders_cancel_pending_idx[\s\S]*Index Scan using outbox_events_/],
		["payments' answer", "payments", selectPaymentDecisions([randomUUID(), randomUUID()]), /payment_transactions_pkey/]
	];

	it.each(periodic)("reads %s through an index", async (_name, database, query, index) => {
		const text = await plan(database, query);
		expect(text).not.toMatch(/Seq Scan/);
		expect(text).toMatch(index);
	});
});
