/**
 * The orders service's events and the order as the API shows it. Both sides of every event import
 * it from here, so a payload change is a type error on the producer and the consumer alike.
 */
import type { ValidationSchema } from "fastest-validator";
import type { CancelReason } from "../payments/contracts";

/** The events orders emits. */
export const ORDER_EVENTS = Object.freeze({
	/** orders → payments (from the outbox): charge the user's account for an order. */
	PAYMENT_REQUESTED: "payment.requested",
	/**
	 * orders → payments (from the outbox, issue 18): the owner cancelled the order; void its payment
	 * if it is not decided yet, else refund it if it was taken. Written in the cancel's transaction.
	 */
	PAYMENT_CANCEL_REQUESTED: "payment.cancelRequested",
	/**
	 * orders → every gateway (broadcast): an order changed status, for the live view. Best effort
	 * (at-most-once, not from the outbox): clients re-read the orders when the live channel drops.
	 */
	ORDER_STATUS_CHANGED: "order.statusChanged"
});

/**
 * NEW → FINISHED (paid) or CANCELLED (refused, or cancelled by its owner); FINISHED → REFUNDED
 * (cancelled by its owner once paid, when payments has refunded it).
 */
export const ORDER_STATUSES = Object.freeze(["NEW", "FINISHED", "CANCELLED", "REFUNDED"] as const);
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order as the API shows it (and as the live channel pushes it). */
export interface OrderView {
	id: string;
	userId: string;
	amount: number;
	description: string;
	status: OrderStatus;
	cancelReason?: CancelReason;
	/** When its owner asked to cancel it (absent: never). */
	cancelRequestedAt?: Date;
	/** When its money went back to the account (absent: never taken, or not yet back). */
	refundedAt?: Date;
	createdAt: Date;
	updatedAt: Date;
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

/** The same fields as a payment request: payments records a void with them. */
export const PAYMENT_CANCEL_REQUESTED_SCHEMA: ValidationSchema = PAYMENT_REQUESTED_SCHEMA;

export type PaymentCancelRequestedPayload = PaymentRequestedPayload;

export interface PaymentRequestedPayload {
	orderId: string;
	userId: string;
	/** Integer minor units (cents). */
	amountMinor: number;
}
