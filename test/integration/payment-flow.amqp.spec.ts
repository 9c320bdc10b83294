/**
 * The payment flow across three brokers (gateway, orders, payments) over real RabbitMQ and real
 * Postgres: the outcomes, duplicate deliveries, events lost in transport, and concurrent orders
 * on one account.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { type EventEnvelope } from "../../mixins/messaging-contracts";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { ORDER_EVENTS } from "../../services/orders/contracts";
import { deliveryCounter, dropFirstDelivery } from "../support/middlewares";
import { openEventStream, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

let userSeq = 0;
const newUser = () => `amqp-user-${++userSeq}-${Date.now()}`;

async function userWithBalance(system: TestSystem, amount: number): Promise<string> {
	const user = newUser();
	expect((await system.request("POST", "/api/accounts", { user, body: {} })).status).toBe(201);
	expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount } })).status).toBe(200);
	return user;
}

async function placeOrder(system: TestSystem, user: string, amount: number, description = "test order") {
	const res = await system.request("POST", "/api/orders", { user, body: { amount, description } });
	expect(res.status).toBe(201);
	return res.body as { id: string };
}

const balanceOf = async (system: TestSystem, user: string) => (await system.request("GET", "/api/accounts/balance", { user })).body.balance;

describe.skipIf(!rabbitmqUrl)("payment flow over RabbitMQ", () => {
	let system: TestSystem;
	const paymentRequests = deliveryCounter(ORDER_EVENTS.PAYMENT_REQUESTED);
	const paymentResults = deliveryCounter(PAYMENT_EVENTS.PAYMENT_PROCESSED);

	beforeAll(async () => {
		system = await startSystem({ transporter: rabbitmqUrl!, paymentsMiddlewares: [paymentRequests], ordersMiddlewares: [paymentResults] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("runs on three nodes", () => {
		const nodes = system.brokers.api.registry.nodes
			.toArray()
			.filter(node => node.available)
			.map(node => node.id);
		expect(nodes).toHaveLength(3);
	});

	it("pays the seed scenario: account, top-up 1000, order 100 → FINISHED, balance 900", async () => {
		const user = await userWithBalance(system, 1000);
		const order = await placeOrder(system, user, 100);
		expect(await waitForOrderEnd(system, user, order.id)).toMatchObject({ status: "FINISHED" });
		expect(await balanceOf(system, user)).toBe(900);
	});

	it("cancels for insufficient funds and for a missing account, balance untouched", async () => {
		const user = await userWithBalance(system, 10);
		const tooMuch = await placeOrder(system, user, 10.01);
		expect(await waitForOrderEnd(system, user, tooMuch.id)).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
		expect(await balanceOf(system, user)).toBe(10);

		const stranger = newUser();
		const orphan = await placeOrder(system, stranger, 1);
		expect(await waitForOrderEnd(system, stranger, orphan.id)).toMatchObject({ status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND" });
		expect((await system.request("GET", "/api/accounts/balance", { user: stranger })).status).toBe(404);
	});

	it("applies a payment request delivered ten more times once", async () => {
		const user = await userWithBalance(system, 500);
		const order = await placeOrder(system, user, 100);
		await waitForOrderEnd(system, user, order.id);
		const [row] = await system.sql("orders", "SELECT id, payload FROM outbox_events WHERE payload->>'orderId' = $1", [order.id]);
		const envelope: EventEnvelope<unknown> = { eventId: row.id, source: "orders", payload: row.payload };

		const before = paymentRequests.count;
		await Promise.all(Array.from({ length: 10 }, () => system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_REQUESTED, envelope, { groups: ["payments"] })));
		await waitFor("ten duplicate deliveries to be handled", async () => paymentRequests.count >= before + 10);

		expect(await balanceOf(system, user)).toBe(400);
		expect(await system.sql("payments", "SELECT outcome FROM payment_transactions WHERE order_id = $1", [order.id])).toEqual([{ outcome: "PAID" }]);
		expect(await system.sql("payments", "SELECT event_id FROM inbox_events WHERE event_id = $1", [row.id])).toHaveLength(1);
		expect(await system.sql("payments", "SELECT id FROM outbox_events WHERE payload->>'orderId' = $1", [order.id])).toHaveLength(1);
	});

	it("applies a payment result delivered ten more times once", async () => {
		const user = await userWithBalance(system, 5);
		const order = await placeOrder(system, user, 10);
		const ended = await waitForOrderEnd(system, user, order.id);
		const [row] = await system.sql("payments", "SELECT id, payload FROM outbox_events WHERE payload->>'orderId' = $1", [order.id]);
		// A forged PAID result under the real event id: the inbox must skip it without looking at it.
		const envelope = { eventId: row.id, source: "payments", payload: { ...row.payload, outcome: "PAID", reason: null } };

		const ordersService = system.brokers.orders.getLocalService("orders") as unknown as { applyPaymentResult: () => Promise<void> };
		const applied = vi.spyOn(ordersService, "applyPaymentResult");
		const before = paymentResults.count;
		await Promise.all(Array.from({ length: 10 }, () => system.brokers.payments.emit(PAYMENT_EVENTS.PAYMENT_PROCESSED, envelope, { groups: ["orders"] })));
		await waitFor("ten duplicate deliveries to be handled", async () => paymentResults.count >= before + 10);
		// The inbox stopped them before the order was looked at (not only the NEW-status guard).
		expect(applied).not.toHaveBeenCalled();
		applied.mockRestore();

		const after = (await system.request("GET", `/api/orders/${order.id}`, { user })).body;
		expect(after).toEqual(ended);
		expect(after).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
	});

	it("answers a new request for an order already decided with the stored result, without charging again", async () => {
		const user = await userWithBalance(system, 300);
		const order = await placeOrder(system, user, 100);
		await waitForOrderEnd(system, user, order.id);
		// A second payment request for the same order under a new event id (e.g. replayed by hand).
		const [copy] = await system.sql(
			"orders",
			`INSERT INTO outbox_events (event_name, target_group, payload)
			 SELECT event_name, target_group, payload FROM outbox_events WHERE payload->>'orderId' = $1 RETURNING id`,
			[order.id]
		);
		await waitFor("the copy to be confirmed", async () => (await system.sql("orders", "SELECT 1 FROM outbox_events WHERE id = $1 AND confirmed_at IS NOT NULL", [copy.id])).length === 1);
		expect(await balanceOf(system, user)).toBe(200);
		const results = await system.sql("payments", "SELECT payload FROM outbox_events WHERE payload->>'orderId' = $1", [order.id]);
		expect(results.map(r => r.payload.outcome)).toEqual(["PAID", "PAID"]);
		expect(await system.sql("payments", "SELECT 1 FROM payment_transactions WHERE order_id = $1", [order.id])).toHaveLength(1);
	});

	it("pushes the status change to the owner's live stream on the gateway node", async () => {
		const user = await userWithBalance(system, 10);
		const stream = await openEventStream(system, user);
		try {
			const order = await placeOrder(system, user, 20);
			const pushed = await waitFor("the push", async () => stream.orders.find(o => o.id === order.id));
			expect(pushed).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
		} finally {
			stream.close();
		}
	});

	it("forgets a live stream its client closed: the gateway's own stream is never a copy sent through RabbitMQ", async () => {
		const user = await userWithBalance(system, 10);
		const gateway = system.brokers.api.getLocalService("api") as unknown as { orderEventStreams: { size: number } };
		// More streams, one after another, than a user may hold open at once (EVENT_STREAMS_PER_USER, 10).
		for (let i = 0; i < 12; i++) {
			const stream = await openEventStream(system, user);
			expect(stream.status).toBe(200);
			await waitFor("the stream to be registered", async () => gateway.orderEventStreams.size === 1);
			stream.close();
			await waitFor("the closed stream to be forgotten", async () => gateway.orderEventStreams.size === 0);
		}
	});

	it("never overspends: 40 concurrent orders of 100 on a balance of 1000 pay exactly 10", async () => {
		const user = await userWithBalance(system, 1000);
		const orders = await Promise.all(Array.from({ length: 40 }, (_, i) => placeOrder(system, user, 100, `concurrent ${i}`)));
		const ended = await Promise.all(orders.map(order => waitForOrderEnd(system, user, order.id, 20_000)));
		expect(ended.filter(o => o.status === "FINISHED")).toHaveLength(10);
		expect(ended.filter(o => o.status === "CANCELLED" && o.cancelReason === "INSUFFICIENT_FUNDS")).toHaveLength(30);
		expect(await balanceOf(system, user)).toBe(0);
		const [paid] = await system.sql("payments", "SELECT count(*)::int AS n, sum(amount_minor)::int AS total FROM payment_transactions WHERE user_id = $1 AND outcome = 'PAID'", [user]);
		expect(paid).toEqual({ n: 10, total: 100_000 });
	});
});

describe.skipIf(!rabbitmqUrl)("events lost in transport over RabbitMQ", () => {
	let system: TestSystem;
	const lostRequests = dropFirstDelivery(ORDER_EVENTS.PAYMENT_REQUESTED);
	const lostResults = dropFirstDelivery(PAYMENT_EVENTS.PAYMENT_PROCESSED);

	beforeAll(async () => {
		system = await startSystem({ transporter: rabbitmqUrl!, paymentsMiddlewares: [lostRequests], ordersMiddlewares: [lostResults] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("re-emits a lost request and a lost result until confirmed, and the order still ends", async () => {
		const user = await userWithBalance(system, 1000);
		const order = await placeOrder(system, user, 100);
		expect(await waitForOrderEnd(system, user, order.id)).toMatchObject({ status: "FINISHED" });
		expect(await balanceOf(system, user)).toBe(900);

		const [request] = await system.sql("orders", "SELECT id, attempts, confirmed_at FROM outbox_events WHERE payload->>'orderId' = $1", [order.id]);
		expect(lostRequests.dropped.has(request.id)).toBe(true);
		expect(request.attempts).toBeGreaterThanOrEqual(2);
		const [result] = await system.sql("payments", "SELECT id, attempts FROM outbox_events WHERE payload->>'orderId' = $1", [order.id]);
		expect(lostResults.dropped.has(result.id)).toBe(true);
		expect(result.attempts).toBeGreaterThanOrEqual(2);
		await waitFor("both events to be confirmed", async () => {
			const pending = [
				...(await system.sql("orders", "SELECT 1 FROM outbox_events WHERE confirmed_at IS NULL")),
				...(await system.sql("payments", "SELECT 1 FROM outbox_events WHERE confirmed_at IS NULL"))
			];
			return pending.length === 0;
		});
	});
});

describe("events lost in transport in one process (no transporter)", () => {
	let system: TestSystem;
	const lostRequests = dropFirstDelivery(ORDER_EVENTS.PAYMENT_REQUESTED);
	const lostResults = dropFirstDelivery(PAYMENT_EVENTS.PAYMENT_PROCESSED);

	beforeAll(async () => {
		system = await startSystem({ paymentsMiddlewares: [lostRequests], ordersMiddlewares: [lostResults] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("re-emits a lost request and a lost result, and the order still ends", async () => {
		const user = await userWithBalance(system, 50);
		const order = await placeOrder(system, user, 20);
		expect(await waitForOrderEnd(system, user, order.id)).toMatchObject({ status: "FINISHED" });
		expect(lostRequests.dropped.size).toBe(1);
		expect(lostResults.dropped.size).toBe(1);
		expect(await balanceOf(system, user)).toBe(30);
	});
});

describe.skipIf(!rabbitmqUrl)("a service gone for a while (RabbitMQ)", () => {
	let system: TestSystem;

	beforeAll(async () => {
		system = await startSystem({ transporter: rabbitmqUrl! });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("answers its routes with 503, not 404, until it is back", async () => {
		const user = await userWithBalance(system, 10);
		await system.brokers.orders.stop();
		await waitFor("the gateway to notice", async () => !system.brokers.api.registry.hasService("orders", null as unknown as string));
		await new Promise(resolve => setTimeout(resolve, 1000)); // past moleculer-web's route regeneration
		const res = await system.request("GET", "/api/orders", { user });
		expect(res.status).toBe(503);
		expect(res.body.type).toBe("SERVICE_UNAVAILABLE");
		const created = await system.request("POST", "/api/orders", { user, body: { amount: 1, description: "later" } });
		expect(created.status).toBe(503);
		expect((await system.request("GET", "/api/accounts/balance", { user })).status).toBe(200);
	});
});
