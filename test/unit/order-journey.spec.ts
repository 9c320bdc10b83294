/** An order's journey from the timestamps both services wrote (issue 16): hops in time order, what a NEW order waits for. */
import { describe, expect, it } from "vitest";
import { journeyOf, type JourneyFacts, type OutboxTrail } from "../../services/orders/order-journey";

const at = (ms: number) => new Date(Date.parse("2026-12-03T08:40:00.000Z") + ms).toISOString();
const row = (createdMs: number, more: Partial<OutboxTrail> = {}): OutboxTrail => ({
	createdAt: at(createdMs),
	lastEmittedAt: at(createdMs),
	attempts: 1,
	confirmedAt: null,
	deadAt: null,
	lastError: null,
	...more
});

function finished(): JourneyFacts {
	return {
		order: { status: "FINISHED", createdAt: at(2), updatedAt: at(30) },
		// Written in the order's transaction, stamped a moment before the order.
		request: row(0, { confirmedAt: at(25) }),
		payments: {
			requestReceivedAt: at(10),
			decision: { outcome: "PAID", reason: null, decidedAt: at(10), resultEventId: "00000000-0000-4000-8000-000000000001" },
			result: row(10, { confirmedAt: at(40) })
		},
		resultAppliedAt: at(28)
	};
}

describe("journeyOf", () => {
	it("puts a finished order's hops in time order, same instants in the flow's order, each with the time since the one before", () => {
		const { hops, pending } = journeyOf(finished(), "operator");
		expect(pending).toBeUndefined();
		expect(hops.map(hop => [hop.step, hop.tookMs])).toEqual([
			["created", 0],
			["requestEmitted", 0],
			["requestReceived", 8],
			["paymentDecided", 0],
			["resultEmitted", 0],
			["requestConfirmed", 15],
			["resultApplied", 3],
			["pushed", 2],
			["resultConfirmed", 10]
		]);
		expect(hops.find(hop => hop.step === "paymentDecided")).toMatchObject({ service: "payments", detail: "PAID" });
		expect(hops.find(hop => hop.step === "pushed")).toMatchObject({ service: "orders", detail: "FINISHED", at: at(30) });
	});

	it("shows a refunded order's cancel and refund after its payment (issue 18)", () => {
		const facts = finished();
		facts.order = { status: "REFUNDED", createdAt: at(2), updatedAt: at(90), cancelRequestedAt: at(60), refundedAt: at(90) };
		const { hops, pending } = journeyOf(facts, "owner");
		expect(pending).toBeUndefined();
		expect(hops.slice(-3).map(hop => [hop.step, hop.service, hop.at])).toEqual([
			["cancelRequested", "orders", at(60)],
			["pushed", "orders", at(90)],
			["refunded", "orders", at(90)]
		]);
		expect(hops.find(hop => hop.step === "pushed")).toMatchObject({ detail: "REFUNDED" });
	});

	it("never puts a hop before the hop that caused it when payments' database clock is behind orders' (issue 16)", () => {
		const facts = finished();
		const behind = (time: string) => new Date(Date.parse(time) - 20).toISOString();
		const payments = facts.payments!;
		facts.payments = {
			requestReceivedAt: behind(payments.requestReceivedAt!),
			decision: { ...payments.decision!, decidedAt: behind(payments.decision!.decidedAt) },
			result: { ...payments.result!, createdAt: behind(payments.result!.createdAt), confirmedAt: behind(payments.result!.confirmedAt!) }
		};
		const { hops } = journeyOf(facts, "operator");
		expect(hops.map(hop => [hop.step, hop.at, hop.tookMs])).toEqual([
			["created", at(2), 0],
			["requestEmitted", at(2), 0],
			["requestReceived", at(2), 0],
			["paymentDecided", at(2), 0],
			["resultEmitted", at(2), 0],
			["requestConfirmed", at(25), 23],
			["resultApplied", at(28), 3],
			["resultConfirmed", at(28), 0],
			["pushed", at(30), 2]
		]);
	});

	it("says how often an event was emitted and a refusal's reason, and leaves out the hops whose rows are gone", () => {
		const facts = finished();
		facts.order.status = "CANCELLED";
		facts.request = null; // deleted by retention
		facts.payments!.requestReceivedAt = null;
		facts.payments!.decision = { ...facts.payments!.decision!, outcome: "REFUSED", reason: "INSUFFICIENT_FUNDS" };
		facts.payments!.result = row(10, { attempts: 3, confirmedAt: at(40) });
		const { hops } = journeyOf(facts, "operator");
		expect(hops.map(hop => hop.step)).toEqual(["created", "paymentDecided", "resultEmitted", "resultApplied", "pushed", "resultConfirmed"]);
		expect(hops.find(hop => hop.step === "paymentDecided")?.detail).toBe("REFUSED: INSUFFICIENT_FUNDS");
		expect(hops.find(hop => hop.step === "resultEmitted")?.detail).toBe("emitted 3 times");
		expect(hops.find(hop => hop.step === "pushed")?.detail).toBe("CANCELLED");
	});

	it("tells what a NEW order waits for: payments, a dead request, a dead result, or the reconciler", () => {
		const base: JourneyFacts = {
			order: { status: "NEW", createdAt: at(2), updatedAt: at(2) },
			request: row(0, { attempts: 4, lastEmittedAt: at(900), lastError: "boom" }),
			payments: { requestReceivedAt: null, decision: null, result: null },
			resultAppliedAt: null
		};
		expect(journeyOf(base, "operator").pending).toEqual({ step: "requestReceived", since: at(900), why: "waiting for payments (attempt 4, last error: boom)" });

		const dead = journeyOf({ ...base, request: row(0, { attempts: 3, deadAt: at(1000), lastError: "a bug" }) }, "operator");
		expect(dead.pending).toMatchObject({ step: "requestReceived", since: at(1000), why: expect.stringContaining("parked as dead after 3 attempt(s), last error: a bug") });
		expect(dead.hops.find(hop => hop.step === "requestEmitted")?.detail).toBe("emitted 3 times; dead: a bug");

		expect(journeyOf({ ...base, payments: null }, "operator").pending).toEqual({ step: "requestReceived", since: at(2), why: "payments cannot be asked now" });
		expect(journeyOf({ ...base, request: row(0, { confirmedAt: at(20) }) }, "operator").pending).toMatchObject({ step: "paymentDecided", why: expect.stringContaining("reconciler") });

		const decided = { requestReceivedAt: at(10), decision: { outcome: "PAID" as const, reason: null, decidedAt: at(10), resultEventId: null } };
		const deadResult = journeyOf({ ...base, request: row(0, { confirmedAt: at(20) }), payments: { ...decided, result: row(10, { deadAt: at(50), lastError: "orders broke" }) } }, "operator");
		expect(deadResult.pending).toMatchObject({ step: "resultApplied", since: at(50), why: expect.stringContaining("orders broke") });
		expect(journeyOf({ ...base, payments: { ...decided, result: null } }, "operator").pending).toMatchObject({ step: "resultApplied", since: at(10) });
	});

	it("tells an order's owner no consumer's error message, only operators (a handler's SQL error reached the user: issue 15, no internals in public answers)", () => {
		const leak = 'relation "accounts" does not exist';
		const base: JourneyFacts = {
			order: { status: "NEW", createdAt: at(2), updatedAt: at(2) },
			request: row(0, { attempts: 4, lastError: leak }),
			payments: { requestReceivedAt: null, decision: null, result: null },
			resultAppliedAt: null
		};
		const decided = { requestReceivedAt: at(10), decision: { outcome: "PAID" as const, reason: null, decidedAt: at(10), resultEventId: null } };
		const cases: JourneyFacts[] = [
			base,
			{ ...base, request: row(0, { attempts: 3, deadAt: at(1000), lastError: leak }) },
			{ ...base, request: row(0, { confirmedAt: at(20), attempts: 2, lastError: leak }), payments: { ...decided, result: row(10, { attempts: 2, lastError: leak }) } },
			{ ...base, request: row(0, { confirmedAt: at(20) }), payments: { ...decided, result: row(10, { attempts: 2, deadAt: at(50), lastError: leak }) } }
		];
		for (const facts of cases) {
			const owner = journeyOf(facts, "owner");
			expect(JSON.stringify(owner)).not.toContain("accounts");
			expect(owner.pending?.why).toEqual(expect.any(String));
			expect(JSON.stringify(journeyOf(facts, "operator"))).toContain("accounts");
		}
		const deadForOwner = journeyOf(cases[1], "owner");
		expect(deadForOwner.pending).toMatchObject({ step: "requestReceived", since: at(1000), why: "payments could not process it after 3 attempt(s); it is retried later" });
		expect(deadForOwner.hops.find(hop => hop.step === "requestEmitted")?.detail).toBe("emitted 3 times; dead");
		expect(journeyOf(base, "owner").pending?.why).toBe("waiting for payments (attempt 4)");
	});
});
