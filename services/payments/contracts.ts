/**
 * The payments service's events and public actions. Both sides of every event import it from here,
 * so a payload change is a type error on the producer and the consumer alike.
 */
import type { ValidationSchema } from "fastest-validator";

/** The events payments emits. */
export const PAYMENT_EVENTS = Object.freeze({
	/** payments → orders (from the outbox): the outcome of a payment request. */
	PAYMENT_PROCESSED: "payment.processed",
	/**
	 * payments → orders (from the outbox): what a cancel request did with the order's payment
	 * (issue 18): voided it before it was decided, refunded it, or found nothing to refund.
	 */
	CANCEL_PROCESSED: "payment.cancelProcessed"
});

export const PAYMENT_OUTCOMES = Object.freeze({ PAID: "PAID", REFUSED: "REFUSED" } as const);
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[keyof typeof PAYMENT_OUTCOMES];

export const CANCEL_REASONS = Object.freeze({
	INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
	ACCOUNT_NOT_FOUND: "ACCOUNT_NOT_FOUND",
	/** The owner cancelled the order (orders sets it; payments stores it on a voided payment). */
	CANCELLED_BY_USER: "CANCELLED_BY_USER"
} as const);
export type CancelReason = (typeof CANCEL_REASONS)[keyof typeof CANCEL_REASONS];

/** Checked by the consumer's inbox: unknown fields stripped; an event that fails it is rejected for good. */
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

/** What a cancel request did with the order's payment; each order's is decided once. */
export const CANCEL_OUTCOMES = Object.freeze({
	/** No payment decided yet: a refusal (reason CANCELLED_BY_USER) was recorded, so the payment request, when it comes, charges nothing (and is not answered: the order left NEW with the cancel). */
	VOIDED: "VOIDED",
	/** The payment had been taken: the amount went back to the account (once per order). */
	REFUNDED: "REFUNDED",
	/** The payment had been refused: nothing was taken, nothing moves. */
	NOTHING_TO_REFUND: "NOTHING_TO_REFUND"
} as const);
export type CancelOutcome = (typeof CANCEL_OUTCOMES)[keyof typeof CANCEL_OUTCOMES];

/** Checked by the consumer's inbox: unknown fields stripped; an event that fails it is rejected for good. */
export const CANCEL_PROCESSED_SCHEMA: ValidationSchema = {
	orderId: "uuid",
	outcome: { type: "enum", values: Object.values(CANCEL_OUTCOMES) }
};

export interface CancelProcessedPayload {
	orderId: string;
	outcome: CancelOutcome;
}

/** The kinds of an account's movements (the statement); OPENING stands for a balance from before the journal that its rows could not explain. */
export const MOVEMENT_KINDS = Object.freeze({ OPENING: "OPENING", TOPUP: "TOPUP", PAYMENT: "PAYMENT", REFUND: "REFUND" } as const);
export type MovementKind = (typeof MOVEMENT_KINDS)[keyof typeof MOVEMENT_KINDS];

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
 * (services/orders/order-journey.ts: `PaymentTrail`). Public to the other services, not routed by the gateway.
 */
export const PAYMENT_TRAIL_ACTION = "payments.paymentTrail";

export interface PaymentTrailParams {
	orderId: string;
	/** The order's `payment.requested` event, whose receipt payments' inbox recorded. */
	requestEventId: string | null;
}
