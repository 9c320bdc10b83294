/**
 * Cancelling an order and refunding it (issue 18): a compensating saga on the outbox and inbox,
 * on real Postgres, in one process and over RabbitMQ. Every race has one outcome:
 * - a cancel before the payment request reaches payments: the order is CANCELLED at once, payments
 *   records a void, and the request, when it comes, is refused; nothing is charged;
 * - a cancel while the payment is being decided: the decision finishes first (the per-order lock),
 *   then the payment is refunded; the cancel's answer may reach orders before the payment result,
 *   which is then ignored; the order ends CANCELLED with refundedAt;
 * - a cancel after FINISHED: 202, then REFUNDED with refundedAt once payments has refunded;
 * - two cancels at once: one cancel request; the second answers 409 (NEW) or 202 again (FINISHED);
 * - a cancel request delivered ten more times, or again under a new id: one refund;
 * - a cancel request for an order never paid (refused, or unknown to payments): nothing moves.
 * And the route itself (owner only, Idempotency-Key), the statement, and the reconciler leaving a
 * cancelled order alone. Deliveries are held back by dropping them for as long as a test says
 * (the outbox re-emits until confirmed), as a slow transport would.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "moleculer";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { EventEnvelope } from "../../mixins/messaging-contracts";
import { ORDER_EVENTS, type PaymentCancelRequestedPayload } from "../../services/orders/contracts";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import type { ReconcileRound } from "../../services/orders/orders.reconciler";
import { asMiddleware, deliveryCounter } from "../support/middlewares";
import { openAccount, openEventStream, placeOrder, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

/** Drops every delivery of `eventName` whose payload `hold` picks, while it does: the event is late, not lost. */
function holdBack<TPayload>(eventName: string) {
	const gate = asMiddleware({
		name: `HoldBack(${eventName})`,
		hold: (_payload: TPayload): boolean => false,
		dropped: 0,
		localEvent(next: (ctx: Context<EventEnvelope<TPayload>>) => Promise<void>, event: { name: string }) {
			if (event.name !== eventName) return next;
			return async (ctx: Context<EventEnvelope<TPayload>>) => {
				if (ctx.params?.payload && gate.hold(ctx.params.payload)) {
					gate.dropped++;
					return;
				}
				return next(ctx);
			};
		}
	});
	return gate;
}

let userSeq = 0;

for (const mode of ["one process", "RabbitMQ"] as const) {
	describe.skipIf(mode === "RabbitMQ" && !rabbitmqUrl)(`cancel and refund (${mode})`, () => {
		let system: TestSystem;
		const requests = holdBack<{ userId: string }>(ORDER_EVENTS.PAYMENT_REQUESTED);
		const cancelRequests = holdBack<{ orderId: string }>(ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED);
		const results = holdBack<{ orderId: string }>(PAYMENT_EVENTS.PAYMENT_PROCESSED);
		const cancelAnswers = holdBack<{ orderId: string }>(PAYMENT_EVENTS.CANCEL_PROCESSED);
		const cancelDeliveries = deliveryCounter(ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED);

		beforeAll(async () => {
			system = await startSystem({
				transporter: mode === "RabbitMQ" ? rabbitmqUrl! : undefined,
				paymentsMiddlewares: [requests, cancelRequests, cancelDeliveries],
				ordersMiddlewares: [results, cancelAnswers]
			});
		});

		afterAll(async () => {
			await system?.stop();
		});

		const newUser = async (balance: number | null) => {
			const user = `cancel-${mode === "RabbitMQ" ? "amqp" : "local"}-${++userSeq}-${Date.now()}`;
			if (balance !== null) await openAccount(system, user, balance);
			return user;
		};
		const cancel = (user: string, id: string, headers: Record<string, string> = {}) => system.request("POST", `/api/orders/${id}/cancel`, { user, headers });
		const getOrder = async (user: string, id: string) => (await system.request("GET", `/api/orders/${id}`, { user })).body;
		const balanceOf = async (user: string) => (await system.request("GET", "/api/accounts/balance", { user })).body.balance;
		const statementOf = async (user: string, query = "") => {
			const res = await system.request("GET", `/api/accounts/statement${query}`, { user });
			expect(res.status).toBe(200);
			return res.body;
		};
		/** The whole statement sums to the balance, each movement's balanceAfter is the running sum, and the journal's rows agree. */
		const expectStatementAddsUp = async (user: string) => {
			const statement = await statementOf(user, "?limit=200");
			expect(statement.total).toBe(statement.movements.length);
			let running = 0;
			for (const movement of [...statement.movements].reverse()) {
				running = Math.round((running + movement.amount) * 100) / 100;
				expect(movement.balanceAfter).toBe(running);
			}
			expect(running).toBe(statement.balance);
			expect(statement.balance).toBe(await balanceOf(user));
			return statement;
		};
		const cancelRow = async (orderId: string) =>
			(await system.sql("orders", "SELECT status, cancel_reason, cancel_outcome, cancel_event_id, refunded_at FROM orders WHERE id = $1", [orderId]))[0];
		const decisionOf = async (orderId: string) => (await system.sql("payments", "SELECT outcome, reason, refunded_at FROM payment_transactions WHERE order_id = $1", [orderId]))[0];
		const waitForCancelOutcome = (orderId: string, timeoutMs = 10_000) => waitFor(`the cancel of ${orderId} to be answered`, async () => (await cancelRow(orderId))?.cancel_outcome, timeoutMs);
		const movementsOf = (orderId: string) => system.sql("payments", "SELECT kind, amount_minor FROM account_movements WHERE order_id = $1 ORDER BY id", [orderId]);

		it("cancels a NEW order at once; its payment request, arriving later, is refused and nothing is charged", async () => {
			const user = await newUser(100);
			requests.hold = payload => payload.userId === user;
			try {
				const id = await placeOrder(system, user, 30);
				const res = await cancel(user, id);
				expect(res.status).toBe(200);
				expect(res.body).toMatchObject({ id, status: "CANCELLED", cancelReason: "CANCELLED_BY_USER", cancelRequestedAt: expect.any(String) });
				expect(res.body.refundedAt).toBeUndefined();
				expect(await waitForCancelOutcome(id)).toBe("VOIDED");
				expect(await decisionOf(id)).toMatchObject({ outcome: "REFUSED", reason: "CANCELLED_BY_USER", refunded_at: null });
			} finally {
				requests.hold = () => false;
			}
			const [order] = await system.sql("orders", "SELECT id, request_event_id FROM orders WHERE user_id = $1", [user]);
			await waitFor(
				"the late payment request to be applied",
				async () => (await system.sql("orders", "SELECT 1 FROM outbox_events WHERE id = $1 AND confirmed_at IS NOT NULL", [order.request_event_id])).length === 1
			);
			// The late request is not answered: its order left NEW with the cancel, and an orders of the
			// version before issue 18, during a rolling deploy, would park a reason CANCELLED_BY_USER as malformed.
			const answers = await system.sql("payments", "SELECT event_name, payload FROM outbox_events WHERE payload->>'orderId' = $1 ORDER BY created_at", [order.id]);
			expect(answers.map(a => [a.event_name, a.payload.outcome])).toEqual([[PAYMENT_EVENTS.CANCEL_PROCESSED, "VOIDED"]]);
			expect(await getOrder(user, order.id)).toMatchObject({ status: "CANCELLED", cancelReason: "CANCELLED_BY_USER" });
			expect(await balanceOf(user)).toBe(100);
			expect(await movementsOf(order.id)).toEqual([]);
			expect((await expectStatementAddsUp(user)).movements.map((m: { kind: string }) => m.kind)).toEqual(["TOPUP"]);
		});

		it("cancels while the payment is being decided: the payment is taken first, then refunded once, whichever answer reaches orders first", async () => {
			const user = await newUser(100);
			// The decision of this user's payment sleeps in its transaction, holding the order's lock.
			await system.sql(
				"payments",
				`CREATE OR REPLACE FUNCTION slow_decision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2.5); RETURN NEW; END $$;
				 CREATE TRIGGER slow_decision BEFORE INSERT ON payment_transactions FOR EACH ROW WHEN (NEW.user_id = '${user}') EXECUTE FUNCTION slow_decision()`
			);
			let id = "";
			// The payment result is held back until the cancel's answer has been applied: the reverse arrival order.
			results.hold = payload => payload.orderId === id;
			try {
				id = await placeOrder(system, user, 30);
				await waitFor(
					"the payment to be in the middle of its decision",
					async () => (await system.sql("payments", "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'")).length > 0
				);
				const res = await cancel(user, id);
				expect(res.status).toBe(200);
				expect(res.body).toMatchObject({ status: "CANCELLED", cancelReason: "CANCELLED_BY_USER" });
				// The cancel reached payments while the decision was being made: it waits on the order's lock.
				await waitFor(
					"the cancel to wait for the decision",
					async () =>
						(await system.sql("payments", "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted"))
							.length > 0
				);
				expect(await decisionOf(id)).toBeUndefined();
				expect(await waitForCancelOutcome(id)).toBe("REFUNDED");
				expect(await getOrder(user, id)).toMatchObject({ status: "CANCELLED", cancelReason: "CANCELLED_BY_USER", refundedAt: expect.any(String) });
			} finally {
				results.hold = () => false;
				await system.sql("payments", "DROP TRIGGER slow_decision ON payment_transactions; DROP FUNCTION slow_decision()");
			}
			const before = await cancelRow(id);
			// The payment result (PAID), arriving after the cancel's answer, changes nothing.
			await waitFor(
				"the payment result to be applied",
				async () =>
					(await system.sql("payments", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2 AND confirmed_at IS NOT NULL", [PAYMENT_EVENTS.PAYMENT_PROCESSED, id]))
						.length === 1
			);
			expect(await cancelRow(id)).toEqual(before);
			expect(await decisionOf(id)).toMatchObject({ outcome: "PAID", refunded_at: expect.any(Date) });
			expect(await movementsOf(id)).toEqual([
				{ kind: "PAYMENT", amount_minor: "-3000" },
				{ kind: "REFUND", amount_minor: "3000" }
			]);
			expect(await balanceOf(user)).toBe(100);
			expect((await expectStatementAddsUp(user)).movements.map((m: { kind: string; orderId?: string }) => [m.kind, m.orderId ?? null])).toEqual([
				["REFUND", id],
				["PAYMENT", id],
				["TOPUP", null]
			]);
		});

		it("refunds a FINISHED order: 202, the same answer while the refund is on its way, then REFUNDED with refundedAt, pushed live; 409 after", async () => {
			const user = await newUser(50);
			const id = await placeOrder(system, user, 20);
			expect(await waitForOrderEnd(system, user, id)).toMatchObject({ status: "FINISHED" });
			const stream = await openEventStream(system, user);
			// Both the cancel request and its answer are late: the outboxes re-emit them until they get through.
			cancelRequests.hold = payload => payload.orderId === id;
			cancelAnswers.hold = payload => payload.orderId === id;
			try {
				const first = await cancel(user, id);
				expect(first.status).toBe(202);
				expect(first.body).toMatchObject({ id, status: "FINISHED", cancelRequestedAt: expect.any(String) });
				expect(first.body.refundedAt).toBeUndefined();
				const [request] = await system.sql("orders", "SELECT id FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, id]);
				await waitFor("the cancel request to be re-emitted", async () => (await system.sql("orders", "SELECT 1 FROM outbox_events WHERE id = $1 AND attempts >= 2", [request.id])).length === 1);
				cancelRequests.hold = () => false;
				await waitFor("the refund to be taken", async () => (await decisionOf(id))?.refunded_at);
				await waitFor(
					"the answer to be re-emitted",
					async () =>
						(await system.sql("payments", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2 AND attempts >= 2", [PAYMENT_EVENTS.CANCEL_PROCESSED, id])).length === 1
				);
				const again = await cancel(user, id);
				expect(again.status).toBe(202);
				expect(again.body).toEqual(first.body);
			} finally {
				cancelRequests.hold = () => false;
				cancelAnswers.hold = () => false;
			}
			const refunded = await waitFor("the order to be REFUNDED", async () => {
				const order = await getOrder(user, id);
				return order.status === "REFUNDED" ? order : null;
			});
			expect(refunded).toMatchObject({ refundedAt: expect.any(String), cancelRequestedAt: expect.any(String) });
			expect(refunded.cancelReason).toBeUndefined();
			try {
				expect(await waitFor("the REFUNDED push", async () => stream.orders.find(o => o.id === id && o.status === "REFUNDED"))).toMatchObject({ refundedAt: refunded.refundedAt });
			} finally {
				stream.close();
			}
			expect(await system.sql("orders", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, id])).toHaveLength(1);
			expect(await balanceOf(user)).toBe(50);
			const conflict = await cancel(user, id);
			expect(conflict.status).toBe(409);
			expect(conflict.body).toMatchObject({ type: "ORDER_NOT_CANCELLABLE" });
			await expectStatementAddsUp(user);
		});

		it("takes one of two cancels at once: a NEW order answers 200 and 409, a FINISHED one 202 twice; one cancel request, one refund", async () => {
			const user = await newUser(100);
			requests.hold = payload => payload.userId === user;
			let fresh = "";
			try {
				fresh = await placeOrder(system, user, 10);
				const answers = await Promise.all([cancel(user, fresh), cancel(user, fresh)]);
				expect(answers.map(a => a.status).sort()).toEqual([200, 409]);
			} finally {
				requests.hold = () => false;
			}
			const paid = await placeOrder(system, user, 25);
			expect(await waitForOrderEnd(system, user, paid)).toMatchObject({ status: "FINISHED" });
			const answers = await Promise.all([cancel(user, paid), cancel(user, paid), cancel(user, paid)]);
			expect(answers.map(a => a.status)).toEqual([202, 202, 202]);
			await waitFor("the order to be REFUNDED", async () => (await getOrder(user, paid)).status === "REFUNDED");
			for (const id of [fresh, paid]) {
				expect(await system.sql("orders", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, id])).toHaveLength(1);
			}
			expect(await waitForCancelOutcome(fresh)).toBe("VOIDED");
			expect(await movementsOf(paid)).toEqual([
				{ kind: "PAYMENT", amount_minor: "-2500" },
				{ kind: "REFUND", amount_minor: "2500" }
			]);
			expect(await balanceOf(user)).toBe(100);
			await expectStatementAddsUp(user);
		});

		it("refunds once a cancel request delivered ten more times, and once more under a new event id", async () => {
			const user = await newUser(80);
			const id = await placeOrder(system, user, 30);
			await waitForOrderEnd(system, user, id);
			expect((await cancel(user, id)).status).toBe(202);
			await waitFor("the order to be REFUNDED", async () => (await getOrder(user, id)).status === "REFUNDED");
			const { refunded_at } = await cancelRow(id);
			const [row] = await system.sql("orders", "SELECT id, payload FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, id]);
			const envelope: EventEnvelope<PaymentCancelRequestedPayload> = { eventId: row.id, source: "orders", payload: row.payload };
			const before = cancelDeliveries.count;
			await Promise.all(Array.from({ length: 10 }, () => system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, envelope, { groups: ["payments"] })));
			await waitFor("ten duplicate deliveries to be handled", async () => cancelDeliveries.count >= before + 10);
			const [copy] = await system.sql(
				"orders",
				"INSERT INTO outbox_events (event_name, target_group, payload) SELECT event_name, target_group, payload FROM outbox_events WHERE id = $1 RETURNING id",
				[row.id]
			);
			await waitFor("the copy to be confirmed", async () => (await system.sql("orders", "SELECT 1 FROM outbox_events WHERE id = $1 AND confirmed_at IS NOT NULL", [copy.id])).length === 1);
			const answers = await system.sql("payments", "SELECT payload FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [PAYMENT_EVENTS.CANCEL_PROCESSED, id]);
			expect(answers.map(a => a.payload.outcome)).toEqual(["REFUNDED", "REFUNDED"]);
			await waitFor(
				"both answers to be confirmed",
				async () =>
					(await system.sql("payments", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2 AND confirmed_at IS NULL", [PAYMENT_EVENTS.CANCEL_PROCESSED, id]))
						.length === 0
			);
			expect(await movementsOf(id)).toEqual([
				{ kind: "PAYMENT", amount_minor: "-3000" },
				{ kind: "REFUND", amount_minor: "3000" }
			]);
			expect(await cancelRow(id)).toMatchObject({ status: "REFUNDED", refunded_at });
			expect(await balanceOf(user)).toBe(80);
			await expectStatementAddsUp(user);
		});

		it("moves nothing for a cancel request of an order never paid: refused (NOTHING_TO_REFUND) or unknown to payments (VOIDED, its request charging nothing later)", async () => {
			const user = await newUser(5);
			const refused = await placeOrder(system, user, 10);
			expect(await waitForOrderEnd(system, user, refused)).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
			expect((await cancel(user, refused)).status).toBe(409);
			const unknown = randomUUID();
			for (const orderId of [refused, unknown]) {
				const payload: PaymentCancelRequestedPayload = { orderId, userId: user, amountMinor: 1000 };
				await system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, { eventId: randomUUID(), source: "orders", payload }, { groups: ["payments"] });
			}
			const outcomeOf = (orderId: string) =>
				waitFor(`payments' answer for ${orderId}`, async () => {
					const [answer] = await system.sql("payments", "SELECT payload FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [PAYMENT_EVENTS.CANCEL_PROCESSED, orderId]);
					return answer?.payload.outcome;
				});
			expect(await outcomeOf(refused)).toBe("NOTHING_TO_REFUND");
			expect(await outcomeOf(unknown)).toBe("VOIDED");
			expect(await decisionOf(unknown)).toMatchObject({ outcome: "REFUSED", reason: "CANCELLED_BY_USER" });
			// The unknown order's payment request, should it come now, charges nothing and gets no answer.
			const request = { eventId: randomUUID(), source: "orders", payload: { orderId: unknown, userId: user, amountMinor: 100 } };
			await system.brokers.orders.emit(ORDER_EVENTS.PAYMENT_REQUESTED, request, { groups: ["payments"] });
			await waitFor("the late request to be applied", async () => (await system.sql("payments", "SELECT 1 FROM inbox_events WHERE event_id = $1", [request.eventId])).length === 1);
			expect(await system.sql("payments", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [PAYMENT_EVENTS.PAYMENT_PROCESSED, unknown])).toEqual([]);
			expect(await system.sql("payments", "SELECT 1 FROM account_movements WHERE order_id = ANY($1::uuid[])", [[refused, unknown]])).toEqual([]);
			expect(await decisionOf(refused)).toMatchObject({ outcome: "REFUSED", reason: "INSUFFICIENT_FUNDS", refunded_at: null });
			expect(await getOrder(user, refused)).toMatchObject({ status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
			expect((await getOrder(user, refused)).refundedAt).toBeUndefined();
			expect(await balanceOf(user)).toBe(5);
			await expectStatementAddsUp(user);
		});
	});
}

describe("the cancel route and the statement", () => {
	let system: TestSystem;
	const requests = holdBack<{ userId: string }>(ORDER_EVENTS.PAYMENT_REQUESTED);

	beforeAll(async () => {
		system = await startSystem({ paymentsMiddlewares: [requests] });
	});

	afterAll(async () => {
		await system?.stop();
	});

	const newUser = () => `cancel-route-${++userSeq}-${Date.now()}`;
	const cancel = (user: string, id: string, headers: Record<string, string> = {}) => system.request("POST", `/api/orders/${id}/cancel`, { user, headers });

	it("is the owner's only: another user's, an unknown or a malformed id is 404, as for GET", async () => {
		const owner = newUser();
		await openAccount(system, owner, 10);
		const id = await placeOrder(system, owner, 1);
		for (const [user, target] of [
			[newUser(), id],
			[owner, randomUUID()],
			[owner, "not-a-uuid"]
		]) {
			const res = await cancel(user, target);
			expect(res.status).toBe(404);
			expect(res.body).toMatchObject({ type: "ORDER_NOT_FOUND" });
		}
		expect((await system.request("POST", `/api/orders/${id}/cancel`, {})).status).toBe(401);
	});

	it("answers an Idempotency-Key retry with its first answer, and a cancel without it with 409", async () => {
		const user = newUser();
		await openAccount(system, user, 10);
		requests.hold = payload => payload.userId === user;
		try {
			const id = await placeOrder(system, user, 1);
			const key = { "Idempotency-Key": `cancel-${id}` };
			const first = await cancel(user, id, key);
			expect(first.status).toBe(200);
			expect(first.body).toMatchObject({ status: "CANCELLED" });
			const retry = await cancel(user, id, key);
			expect(retry.status).toBe(200);
			expect(retry.body).toEqual(first.body);
			expect((await cancel(user, id)).status).toBe(409);
			const other = await placeOrder(system, user, 1);
			expect((await cancel(user, other, key)).status).toBe(422);
			expect(await system.sql("orders", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, id])).toHaveLength(1);
		} finally {
			requests.hold = () => false;
		}
	});

	it("leaves a cancelled order to nobody: the reconciler neither requests its payment again nor ends it", async () => {
		const user = newUser();
		await openAccount(system, user, 10);
		requests.hold = payload => payload.userId === user;
		try {
			const id = await placeOrder(system, user, 1);
			expect((await cancel(user, id)).status).toBe(200);
			await system.sql("orders", "UPDATE orders SET created_at = created_at - interval '1 hour' WHERE id = $1", [id]);
			const round = await system.brokers.orders.call<ReconcileRound, object>("orders.reconcile", {});
			expect(round.orders.map(o => o.orderId)).not.toContain(id);
			// A round that read the order while still NEW, and wants to request its payment again, finds it cancelled.
			const reconciler = system.brokers.orders.getLocalService("orders") as unknown as { resumePaymentRequest(order: object): Promise<string> };
			const stale = { id, user_id: user, amount_minor: "100", created_at: new Date().toISOString(), request_state: "MISSING", request_event_id: null, trace_id: null };
			expect(await reconciler.resumePaymentRequest(stale)).toBe("ended");
			expect(await system.sql("orders", "SELECT 1 FROM outbox_events WHERE event_name = $1 AND payload->>'orderId' = $2", [ORDER_EVENTS.PAYMENT_REQUESTED, id])).toHaveLength(1);
		} finally {
			requests.hold = () => false;
		}
	});

	it("shows the statement newest first, a page at a time, summing to the balance; 404 without an account, 422 for a bad page", async () => {
		const user = newUser();
		expect((await system.request("GET", "/api/accounts/statement", { user })).status).toBe(404);
		await openAccount(system, user, 10);
		expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount: 2.5 } })).status).toBe(200);
		const id = await placeOrder(system, user, 4);
		expect(await waitForOrderEnd(system, user, id)).toMatchObject({ status: "FINISHED" });
		const all = (await system.request("GET", "/api/accounts/statement", { user })).body;
		expect(all).toMatchObject({ balance: 8.5, total: 3, limit: 50, offset: 0 });
		expect(all.movements).toEqual([
			{ kind: "PAYMENT", amount: -4, balanceAfter: 8.5, at: expect.any(String), orderId: id },
			{ kind: "TOPUP", amount: 2.5, balanceAfter: 12.5, at: expect.any(String) },
			{ kind: "TOPUP", amount: 10, balanceAfter: 10, at: expect.any(String) }
		]);
		expect(Date.parse(all.movements[0].at)).toBeGreaterThanOrEqual(Date.parse(all.movements[1].at));
		const page = (await system.request("GET", "/api/accounts/statement?limit=1&offset=1", { user })).body;
		expect(page).toMatchObject({ balance: 8.5, total: 3, limit: 1, offset: 1, movements: [all.movements[1]] });
		for (const query of ["?limit=0", "?limit=201", "?offset=-1", "?limit=abc", "?other=1"]) {
			expect((await system.request("GET", `/api/accounts/statement${query}`, { user })).status).toBe(422);
		}
	});
});
