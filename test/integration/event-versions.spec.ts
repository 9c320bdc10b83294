/**
 * Issue 14, a rolling deploy: the consumers of this version apply the events of a producer one
 * schema version behind (version 1: no event meta) and one ahead (fields this code does not know,
 * in the envelope, the payload and the meta), for every event type. Only a payload missing what
 * the consumer needs is malformed. (The other direction, this version's events at a consumer of
 * version 1, is in test/unit/mixins/outbox.mixin.spec.ts.)
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_SCHEMA_VERSION, type EventEnvelope } from "../../mixins/messaging-contracts";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { ORDER_EVENTS } from "../../services/orders/contracts";
import { startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

let system: TestSystem;

beforeAll(async () => {
	system = await startSystem();
});

afterAll(async () => {
	await system?.stop();
});

/** An event as a producer of some version emits it: its envelope, and what travels in its meta. */
type Producer = (eventId: string, source: string, payload: Record<string, unknown>) => { envelope: EventEnvelope<unknown>; meta: object };

const PRODUCERS: [string, Producer][] = [
	["one version behind", (eventId, source, payload) => ({ envelope: { eventId, source, payload }, meta: {} })],
	[
		"one version ahead",
		(eventId, source, payload) => ({
			envelope: {
				eventId,
				source,
				traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				payload: { ...payload, currency: "EUR", channel: { kind: "web" } }
			} as EventEnvelope<unknown>,
			meta: { eventMeta: { schemaVersion: EVENT_SCHEMA_VERSION + 1, attempt: 1, priority: "high" } }
		})
	]
];

/** A NEW order that nothing has asked payments to pay (written directly). */
async function orderWithoutRequest(user: string, amountMinor: number): Promise<string> {
	const id = randomUUID();
	await system.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, $2, $3, 'versioned')", [id, user, amountMinor]);
	return id;
}

describe.each(PRODUCERS)("a producer %s", (_name, envelopeOf) => {
	it("has its payment.requested applied: the account is charged once and the order ends", async () => {
		const user = `v-${randomUUID().slice(0, 8)}`;
		await system.request("POST", "/api/accounts", { user, body: {} });
		await system.request("POST", "/api/accounts/topup", { user, body: { amount: 10 } });
		const orderId = await orderWithoutRequest(user, 300);
		const eventId = randomUUID();
		const { envelope, meta } = envelopeOf(eventId, "orders", { orderId, userId: user, amountMinor: 300 });
		await system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_REQUESTED, envelope, { groups: ["payments"], meta });

		await waitFor("the payment to be decided", async () => (await system.sql("payments", "SELECT 1 FROM payment_transactions WHERE order_id = $1", [orderId])).length === 1);
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(7);
		expect(await system.sql("payments", "SELECT event_id FROM inbox_events WHERE event_id = $1", [eventId])).toHaveLength(1);
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
	});

	it("has its payment.processed applied: the order ends", async () => {
		const user = `v-${randomUUID().slice(0, 8)}`;
		const orderId = await orderWithoutRequest(user, 100);
		const { envelope, meta } = envelopeOf(randomUUID(), "payments", { orderId, outcome: "REFUSED", reason: "INSUFFICIENT_FUNDS" });
		await system.brokers.payments.emit(PAYMENT_EVENTS.PAYMENT_PROCESSED, envelope, { groups: ["orders"], meta });
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
	});

	it("has its payment.cancelRequested applied: an order payments never saw is voided (issue 18)", async () => {
		const orderId = randomUUID();
		const { envelope, meta } = envelopeOf(randomUUID(), "orders", { orderId, userId: "v-cancel", amountMinor: 100 });
		await system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, envelope, { groups: ["payments"], meta });
		const decision = await waitFor("the void", async () => (await system.sql("payments", "SELECT outcome, reason FROM payment_transactions WHERE order_id = $1", [orderId]))[0]);
		expect(decision).toEqual({ outcome: "REFUSED", reason: "CANCELLED_BY_USER" });
	});

	it("has its payment.cancelProcessed applied: a FINISHED order whose refund was asked ends REFUNDED (issue 18)", async () => {
		const user = `v-${randomUUID().slice(0, 8)}`;
		const orderId = await orderWithoutRequest(user, 100);
		await system.sql("orders", "UPDATE orders SET status = 'FINISHED', cancel_requested_at = now() WHERE id = $1", [orderId]);
		const { envelope, meta } = envelopeOf(randomUUID(), "payments", { orderId, outcome: "REFUNDED" });
		await system.brokers.payments.emit(PAYMENT_EVENTS.CANCEL_PROCESSED, envelope, { groups: ["orders"], meta });
		const refunded = await waitFor("the refund to be applied", async () => {
			const { body } = await system.request("GET", `/api/orders/${orderId}`, { user });
			return body.status === "REFUNDED" ? body : null;
		});
		expect(refunded.refundedAt).toEqual(expect.any(String));
	});
});

describe("a payload missing what the consumer needs", () => {
	it("is parked at once as malformed, naming the field", async () => {
		const [row] = await system.sql("payments", "INSERT INTO outbox_events (event_name, target_group, payload) VALUES ($1, 'orders', $2) RETURNING id", [
			PAYMENT_EVENTS.PAYMENT_PROCESSED,
			JSON.stringify({ orderId: randomUUID(), currency: "EUR" }) // no outcome
		]);
		const dead = await waitFor("the event to be parked", async () => {
			const [state] = await system.sql("payments", "SELECT dead_at, last_error FROM outbox_events WHERE id = $1", [row.id]);
			return state.dead_at ? state : null;
		});
		expect(dead.last_error).toMatch(/^Malformed event: .*outcome/);
	});
});
