/**
 * What crosses service boundaries: event names, event payloads and the request meta the gateway
 * fills in. Both sides of every event import it from here, so a payload change is a type error on
 * the producer and the consumer alike.
 */
import type { ValidationSchema } from "fastest-validator";
import type { FailureKind } from "./failure-classification";

/** Event names. Each is emitted to exactly one consuming group (the owning service name). */
export const EVENTS = Object.freeze({
	/** orders → payments: charge the user's account for an order. */
	PAYMENT_REQUESTED: "payment.requested",
	/** payments → orders: the outcome of a payment request. */
	PAYMENT_PROCESSED: "payment.processed",
	/** consumer → producer: these event ids are applied (or were already); stop re-emitting them. */
	OUTBOX_CONFIRMED: "outbox.confirmed",
	/** consumer → producer: this event could not be applied (for good, if `permanent`). */
	OUTBOX_REJECTED: "outbox.rejected",
	/**
	 * orders → every gateway (broadcast): an order changed status, for the live view. Best effort
	 * (at-most-once, not from the outbox): clients re-read the orders when the live channel drops.
	 */
	ORDER_STATUS_CHANGED: "order.statusChanged"
});

export type OrderStatus = "NEW" | "FINISHED" | "CANCELLED";

/** An order as the API shows it (and as the live channel pushes it). */
export interface OrderView {
	id: string;
	userId: string;
	amount: number;
	description: string;
	status: OrderStatus;
	cancelReason?: CancelReason;
	createdAt: Date;
	updatedAt: Date;
}

/**
 * The version of the event contracts this code writes. A consumer reads every version (tolerant
 * reader): fields it does not know are stripped, so a producer one version ahead (a rolling
 * deploy) is applied; only a missing or unusable field it needs makes an event malformed.
 * Version 1: events without `eventMeta`.
 */
export const EVENT_SCHEMA_VERSION = 2;

/** Every event carries its outbox row id (`eventId`) and the producing service (`source`). */
export interface EventEnvelope<TPayload> {
	eventId: string;
	source: string;
	payload: TPayload;
}

/**
 * What an event says about itself beyond its envelope, in the event's `ctx.meta`: consumers of
 * version 1 check the envelope strictly (no field they do not know), so anything new travels
 * beside it, where they do not look.
 */
export interface EventMeta {
	/** The contracts' version the producer wrote; absent in version 1. */
	schemaVersion?: number;
	/** Which emission of the outbox row this copy is (1: the first), so that a failure is counted once per attempt, not per copy. */
	attempt?: number;
}

/**
 * Validation schemas of the payloads (fastest-validator), checked by the consumer's inbox: only
 * the fields the consumer needs, unknown ones stripped. An event that fails them is rejected for
 * good, never retried.
 */
export const PAYMENT_REQUESTED_SCHEMA: ValidationSchema = {
	orderId: "uuid",
	userId: { type: "string", min: 1, max: 64 },
	amountMinor: { type: "number", integer: true, positive: true }
};

export interface PaymentRequestedPayload {
	orderId: string;
	userId: string;
	/** Integer minor units (cents). */
	amountMinor: number;
}

export const PAYMENT_OUTCOMES = Object.freeze({ PAID: "PAID", REFUSED: "REFUSED" } as const);
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[keyof typeof PAYMENT_OUTCOMES];

export const CANCEL_REASONS = Object.freeze({
	INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
	ACCOUNT_NOT_FOUND: "ACCOUNT_NOT_FOUND"
} as const);
export type CancelReason = (typeof CANCEL_REASONS)[keyof typeof CANCEL_REASONS];

export const PAYMENT_PROCESSED_SCHEMA: ValidationSchema = {
	orderId: "uuid",
	outcome: { type: "enum", values: Object.values(PAYMENT_OUTCOMES) },
	reason: { type: "enum", values: Object.values(CANCEL_REASONS), nullable: true }
};

export interface PaymentProcessedPayload {
	orderId: string;
	outcome: PaymentOutcome;
	/** Set when the outcome is REFUSED. */
	reason: CancelReason | null;
}

export interface OutboxRejectedPayload {
	/** The producing service whose outbox row this is. */
	source: string;
	eventId: string;
	reason: string;
	/** The event can never be applied (malformed): kept for producers of version 1, which read only this. */
	permanent: boolean;
	/**
	 * Why (lib/failure-classification.ts): `malformed` parks it at once, `failure` counts towards
	 * parking, `outage` never counts. Absent from consumers of version 1: read as `failure` (they may refuse an event only for being newer).
	 */
	kind?: FailureKind;
	/** The attempt the rejected copy carried (absent when the event carried none). */
	attempt?: number;
}

export interface OutboxConfirmedPayload {
	/** The producing service whose outbox rows are confirmed. */
	source: string;
	eventIds: string[];
}

/** Request meta set by the gateway (or by hand in the REPL: `call orders.list --#userId alice`). */
export interface RequestMeta {
	userId?: string;
	/** The caller may use the operator routes (set by the gateway, lib/authentication.ts). */
	operator?: boolean;
	idempotencyKey?: string;
	$statusCode?: number;
	$location?: string;
}

/**
 * orders → payments, the action `payments.paymentDecisions` (the reconciler's question): the
 * payment decisions made for these orders. Public to the other services, not routed by the gateway.
 */
export const PAYMENT_DECISIONS_ACTION = "payments.paymentDecisions";

/** Most orders one question may name. */
export const PAYMENT_DECISIONS_MAX_ORDERS = 100;

export interface PaymentDecisionsParams {
	orderIds: string[];
}

/** One decision: an order without one is absent from the answer. */
export interface PaymentDecision {
	orderId: string;
	outcome: PaymentOutcome;
	reason: CancelReason | null;
	/**
	 * The id of the `payment.processed` event written with the decision, so that the consumer's
	 * inbox treats the decision and that event as one; null for decisions made before it was stored.
	 */
	eventId: string | null;
}

/**
 * orders → payments, the action `payments.paymentTrail`: payments' side of an order's journey
 * (lib/order-journey.ts: `PaymentTrail`). Public to the other services, not routed by the gateway.
 */
export const PAYMENT_TRAIL_ACTION = "payments.paymentTrail";

export interface PaymentTrailParams {
	orderId: string;
	/** The order's `payment.requested` event, whose receipt payments' inbox recorded. */
	requestEventId: string | null;
}
