import type { OrderStatus, OrderView } from "./contracts";
import type { CancelReason, PaymentOutcome } from "../payments/contracts";

export const JOURNEY_STEPS = Object.freeze([
	"created",
	"requestEmitted",
	"requestReceived",
	"paymentDecided",
	"requestConfirmed",
	"resultEmitted",
	"resultApplied",
	"resultConfirmed",
	"pushed",
	// Issue 18: its owner cancelled it, and the money went back (orders' own times).
	"cancelRequested",
	"refunded"
] as const);
export type JourneyStep = (typeof JOURNEY_STEPS)[number];

/** The hop each step follows for certain, whatever the clocks say; a confirmation follows its receipt. */
const CAUSED_BY: Readonly<Record<JourneyStep, JourneyStep | null>> = Object.freeze({
	created: null,
	requestEmitted: "created",
	requestReceived: "requestEmitted",
	paymentDecided: "requestReceived",
	requestConfirmed: "requestReceived",
	resultEmitted: "paymentDecided",
	resultApplied: "resultEmitted",
	resultConfirmed: "resultApplied",
	pushed: "resultApplied",
	cancelRequested: "created",
	refunded: "cancelRequested"
});

export interface JourneyHop {
	step: JourneyStep;
	service: "orders" | "payments";
	/** ISO-8601; never before the hop that caused it (`CAUSED_BY`), whose time it takes when its clock says earlier. */
	at: string;
	/** Since the hop before (0 for the first). */
	tookMs: number;
	detail?: string;
}

/** What the order waits for while it is NEW. */
export interface JourneyPending {
	step: JourneyStep;
	/** ISO-8601. */
	since: string;
	why?: string;
}

/** An outbox row as the journey needs it; times are ISO-8601 (or anything `Date` parses). */
export interface OutboxTrail {
	createdAt: string;
	lastEmittedAt: string | null;
	attempts: number;
	confirmedAt: string | null;
	deadAt: string | null;
	lastError: string | null;
}

/** Payments' side of an order (`payments.paymentTrail`). */
export interface PaymentTrail {
	/** When payments' inbox recorded the order's payment request. */
	requestReceivedAt: string | null;
	decision: { outcome: PaymentOutcome; reason: CancelReason | null; decidedAt: string; resultEventId: string | null } | null;
	/** The outbox row of the `payment.processed` event written with the decision. */
	result: OutboxTrail | null;
}

/** What `orders.journey` answers. */
export interface Journey {
	order: OrderView;
	/** The order's trace id (the request id it was placed with, platform/tracing.ts); null for orders from before it was kept, or past retention. */
	traceId: string | null;
	hops: JourneyHop[];
	pending?: JourneyPending;
}

/** Who the journey is for: an operator sees the consumers' errors and what to do; the order's owner neither. */
export type JourneyAudience = "operator" | "owner";

export interface JourneyFacts {
	order: { status: OrderStatus; createdAt: Date | string; updatedAt: Date | string; cancelRequestedAt?: Date | string | null; refundedAt?: Date | string | null };
	/** The order's `payment.requested` outbox row (null: deleted by retention, or never linked). */
	request: OutboxTrail | null;
	/** Null when payments could not be asked. */
	payments: PaymentTrail | null;
	/** When orders' inbox recorded the payment result. */
	resultAppliedAt: string | null;
}

const iso = (time: Date | string) => new Date(time).toISOString();

/** "emitted 3 times", "dead: <error>" ("dead" for the owner), both, or nothing. */
function outboxDetail(row: OutboxTrail, audience: JourneyAudience): string | undefined {
	const dead = audience === "operator" ? `dead: ${row.lastError ?? "no error recorded"}` : "dead";
	const parts = [...(row.attempts > 1 ? [`emitted ${row.attempts} times`] : []), ...(row.deadAt ? [dead] : [])];
	return parts.length > 0 ? parts.join("; ") : undefined;
}

/** Why an outbox row is still unconfirmed: for an operator with the consumer's last error and what to do. */
function waitingOn(row: OutboxTrail, consumer: string, audience: JourneyAudience): string {
	if (audience === "owner") {
		return row.deadAt ? `${consumer} could not process it after ${row.attempts} attempt(s); it is retried later` : `waiting for ${consumer} (attempt ${row.attempts})`;
	}
	if (row.deadAt) return `parked as dead after ${row.attempts} attempt(s), last error: ${row.lastError ?? "none recorded"}; replay it (the reconciler revives or settles it too)`;
	return `waiting for ${consumer} (attempt ${row.attempts}${row.lastError ? `, last error: ${row.lastError}` : ""})`;
}

function pendingOf({ order, request, payments }: JourneyFacts, audience: JourneyAudience): JourneyPending | undefined {
	if (order.status !== "NEW") return undefined;
	const created = iso(order.createdAt);
	if (!payments) return { step: "requestReceived", since: created, why: "payments cannot be asked now" };
	const { decision, result } = payments;
	if (!decision) {
		if (request && !request.confirmedAt) {
			return { step: "requestReceived", since: iso(request.deadAt ?? request.lastEmittedAt ?? request.createdAt), why: waitingOn(request, "payments", audience) };
		}
		return { step: "paymentDecided", since: created, why: "payments has no decision and no request is in flight; the reconciler requests the payment again" };
	}
	if (result && !result.confirmedAt) {
		return { step: "resultApplied", since: iso(result.deadAt ?? result.lastEmittedAt ?? result.createdAt), why: waitingOn(result, "orders", audience) };
	}
	return { step: "resultApplied", since: iso(decision.decidedAt), why: "the result is not in flight; the reconciler applies payments' decision" };
}

export function journeyOf(facts: JourneyFacts, audience: JourneyAudience): { hops: JourneyHop[]; pending?: JourneyPending } {
	const { order, request, payments, resultAppliedAt } = facts;
	const hops: Omit<JourneyHop, "tookMs">[] = [];
	/** When each step present happened, no earlier than the nearest present step that caused it. */
	const times = new Map<JourneyStep, number>();
	const causeTime = (step: JourneyStep): number | undefined => {
		for (let cause = CAUSED_BY[step]; cause; cause = CAUSED_BY[cause]) if (times.has(cause)) return times.get(cause);
		return undefined;
	};
	// Called in the flow's order, so that every cause present is timed before its effects.
	const add = (step: JourneyStep, service: JourneyHop["service"], at: Date | string | null | undefined, detail?: string) => {
		if (!at) return;
		const ms = Math.max(Date.parse(iso(at)), causeTime(step) ?? -Infinity);
		times.set(step, ms);
		hops.push({ step, service, at: new Date(ms).toISOString(), ...(detail !== undefined && { detail }) });
	};
	add("created", "orders", order.createdAt);
	// An event is emitted as its row commits (a replay or a revive writes `createdAt` anew); the
	// request is stamped at its transaction's start, a moment before the order it is written with.
	if (request) add("requestEmitted", "orders", request.createdAt, outboxDetail(request, audience));
	add("requestReceived", "payments", payments?.requestReceivedAt);
	const decision = payments?.decision;
	if (decision) add("paymentDecided", "payments", decision.decidedAt, decision.reason ? `${decision.outcome}: ${decision.reason}` : decision.outcome);
	add("requestConfirmed", "orders", request?.confirmedAt);
	const result = payments?.result;
	if (result) add("resultEmitted", "payments", result.createdAt, outboxDetail(result, audience));
	add("resultApplied", "orders", resultAppliedAt);
	add("resultConfirmed", "payments", result?.confirmedAt);
	if (order.status !== "NEW") add("pushed", "orders", order.updatedAt, order.status);
	add("cancelRequested", "orders", order.cancelRequestedAt);
	add("refunded", "orders", order.refundedAt);

	const flowOrder = (step: JourneyStep) => JOURNEY_STEPS.indexOf(step);
	const sorted = hops.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || flowOrder(a.step) - flowOrder(b.step));
	const timed = sorted.map((hop, i) => ({ ...hop, tookMs: i === 0 ? 0 : Date.parse(hop.at) - Date.parse(sorted[i - 1].at) }));
	const pending = pendingOf(facts, audience);
	return { hops: timed, ...(pending && { pending }) };
}
