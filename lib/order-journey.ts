/**
 * An order's journey (issue 16): the hops it went through, from the timestamps the system already
 * writes, and what it waits for while it is NEW. Pure: orders and payments read their rows
 * (`orders.journey`, `payments.paymentTrail`) and this puts them together.
 *
 * Hops come in time order (steps of one instant in the order of the flow), each `tookMs` the time
 * since the hop before: a confirmation comes after the next event was written, and the two sides'
 * times come from two databases' clocks, so the flow's order is not always the time order. Rows
 * past retention (confirmed outbox rows 24 h, inbox ids 7 days) are simply missing hops.
 *
 * The owner's view (`errors: false`) leaves out the consumers' error messages: they are whatever a
 * handler threw (`relation "accounts" does not exist`, a driver's message naming a host), internals
 * a user must not see (issue 15). Operators see them (attack on issue 16).
 */
import type { CancelReason, OrderStatus, OrderView, PaymentOutcome } from "./contracts";

export const JOURNEY_STEPS = Object.freeze([
	"created",
	"requestEmitted",
	"requestReceived",
	"paymentDecided",
	"requestConfirmed",
	"resultEmitted",
	"resultApplied",
	"resultConfirmed",
	"pushed"
] as const);
export type JourneyStep = (typeof JOURNEY_STEPS)[number];

export interface JourneyHop {
	step: JourneyStep;
	service: "orders" | "payments";
	/** ISO-8601. */
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
	/** The order's trace id (the request id it was placed with, lib/tracing.ts); null for orders from before it was kept, or past retention. */
	traceId: string | null;
	hops: JourneyHop[];
	pending?: JourneyPending;
}

export interface JourneyFacts {
	order: { status: OrderStatus; createdAt: Date | string; updatedAt: Date | string };
	/** The order's `payment.requested` outbox row (null: deleted by retention, or never linked). */
	request: OutboxTrail | null;
	/** Null when payments could not be asked. */
	payments: PaymentTrail | null;
	/** When orders' inbox recorded the payment result. */
	resultAppliedAt: string | null;
}

const iso = (time: Date | string) => new Date(time).toISOString();

export interface JourneyOptions {
	/** Whether to tell the consumers' error messages (operators); false for the order's owner. Default: true. */
	errors?: boolean;
}

/** "emitted 3 times", "dead: <error>" ("dead" without errors), both, or nothing. */
function outboxDetail(row: OutboxTrail, errors: boolean): string | undefined {
	const dead = errors ? `dead: ${row.lastError ?? "no error recorded"}` : "dead";
	const parts = [...(row.attempts > 1 ? [`emitted ${row.attempts} times`] : []), ...(row.deadAt ? [dead] : [])];
	return parts.length > 0 ? parts.join("; ") : undefined;
}

/** Why an outbox row is still unconfirmed: for the operator with its last error, for the owner without. */
function waitingOn(row: OutboxTrail, consumer: string, errors: boolean): string {
	if (row.deadAt) {
		return errors
			? `parked as dead after ${row.attempts} attempt(s), last error: ${row.lastError ?? "none recorded"}; replay it (the reconciler revives or settles it too)`
			: `parked as dead after ${row.attempts} attempt(s); an operator's replay or the reconciler takes it up again`;
	}
	return `waiting for ${consumer} (attempt ${row.attempts}${errors && row.lastError ? `, last error: ${row.lastError}` : ""})`;
}

function pendingOf({ order, request, payments }: JourneyFacts, errors: boolean): JourneyPending | undefined {
	if (order.status !== "NEW") return undefined;
	const created = iso(order.createdAt);
	if (!payments) return { step: "requestReceived", since: created, why: "payments cannot be asked now" };
	const { decision, result } = payments;
	if (!decision) {
		if (request && !request.confirmedAt) {
			return { step: "requestReceived", since: iso(request.deadAt ?? request.lastEmittedAt ?? request.createdAt), why: waitingOn(request, "payments", errors) };
		}
		return { step: "paymentDecided", since: created, why: "payments has no decision and no request is in flight; the reconciler requests the payment again" };
	}
	if (result && !result.confirmedAt) {
		return { step: "resultApplied", since: iso(result.deadAt ?? result.lastEmittedAt ?? result.createdAt), why: waitingOn(result, "orders", errors) };
	}
	return { step: "resultApplied", since: iso(decision.decidedAt), why: "the result is not in flight; the reconciler applies payments' decision" };
}

export function journeyOf(facts: JourneyFacts, { errors = true }: JourneyOptions = {}): { hops: JourneyHop[]; pending?: JourneyPending } {
	const { order, request, payments, resultAppliedAt } = facts;
	const hops: Omit<JourneyHop, "tookMs">[] = [{ step: "created", service: "orders", at: iso(order.createdAt) }];
	const add = (step: JourneyStep, service: JourneyHop["service"], at: Date | string | null | undefined, detail?: string) => {
		if (at) hops.push({ step, service, at: iso(at), ...(detail !== undefined && { detail }) });
	};
	// An event is emitted as its row commits (a replay or a revive writes `createdAt` anew). The
	// request is written in the order's transaction, which stamps the order a moment later
	// (clock_timestamp()) than the row (now()): it cannot have gone out before the order was written.
	if (request) add("requestEmitted", "orders", new Date(Math.max(Date.parse(iso(request.createdAt)), Date.parse(iso(order.createdAt)))), outboxDetail(request, errors));
	add("requestReceived", "payments", payments?.requestReceivedAt);
	const decision = payments?.decision;
	if (decision) add("paymentDecided", "payments", decision.decidedAt, decision.reason ? `${decision.outcome}: ${decision.reason}` : decision.outcome);
	add("requestConfirmed", "orders", request?.confirmedAt);
	const result = payments?.result;
	if (result) add("resultEmitted", "payments", result.createdAt, outboxDetail(result, errors));
	add("resultApplied", "orders", resultAppliedAt);
	add("resultConfirmed", "payments", result?.confirmedAt);
	if (order.status !== "NEW") add("pushed", "orders", order.updatedAt, order.status);

	const flowOrder = (step: JourneyStep) => JOURNEY_STEPS.indexOf(step);
	const sorted = hops.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || flowOrder(a.step) - flowOrder(b.step));
	const timed = sorted.map((hop, i) => ({ ...hop, tookMs: i === 0 ? 0 : Date.parse(hop.at) - Date.parse(sorted[i - 1]!.at) }));
	const pending = pendingOf(facts, errors);
	return { hops: timed, ...(pending && { pending }) };
}
