/**
 * What the outbox and inbox put around every event, and the answers a consumer sends back. The
 * events themselves are the services' contracts (services/<service>/contracts.ts).
 */
import type { FailureKind } from "./failure-classification";

/** The outbox's own events: a consumer's answers to a producer. */
export const MESSAGING_EVENTS = Object.freeze({
	/** consumer → producer: these event ids are applied (or were already); stop re-emitting them. */
	OUTBOX_CONFIRMED: "outbox.confirmed",
	/** consumer → producer: this event could not be applied (for good, if `permanent`). */
	OUTBOX_REJECTED: "outbox.rejected"
});

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

export interface OutboxRejectedPayload {
	/** The producing service whose outbox row this is. */
	source: string;
	eventId: string;
	reason: string;
	/** The event can never be applied (malformed): kept for producers of version 1, which read only this. */
	permanent: boolean;
	/**
	 * Why (mixins/failure-classification.ts): `malformed` parks it at once, `failure` counts towards
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
