/**
 * What crosses service boundaries: event names, event payloads and the request meta the gateway
 * fills in. Both sides of every event import it from here, so a payload change is a type error on
 * the producer and the consumer alike.
 */

/** Event names. Each is emitted to exactly one consuming group (the owning service name). */
export const EVENTS = Object.freeze({
	/** orders → payments: charge the user's account for an order. */
	PAYMENT_REQUESTED: "payment.requested",
	/** payments → orders: the outcome of a payment request. */
	PAYMENT_PROCESSED: "payment.processed",
	/** consumer → producer: these event ids are applied (or were already); stop re-emitting them. */
	OUTBOX_CONFIRMED: "outbox.confirmed",
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

/** Every event carries its outbox row id (`eventId`) and the producing service (`source`). */
export interface EventEnvelope<TPayload> {
	eventId: string;
	source: string;
	payload: TPayload;
}

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

export interface PaymentProcessedPayload {
	orderId: string;
	outcome: PaymentOutcome;
	/** Set when the outcome is REFUSED. */
	reason: CancelReason | null;
}

export interface OutboxConfirmedPayload {
	/** The producing service whose outbox rows are confirmed. */
	source: string;
	eventIds: string[];
}

/** Request meta set by the gateway (or by hand in the REPL: `call orders.list --#userId alice`). */
export interface RequestMeta {
	userId?: string;
	idempotencyKey?: string;
	$statusCode?: number;
	$location?: string;
}
