/**
 * SQL of the orders service's reconciler: pure builders. It runs on a timer, so every statement
 * reads through an index, never a scan of a growing table (test/integration/reconciler.spec.ts
 * checks their plans): the orders still NEW through their partial index, everything else by
 * primary key.
 */
import type { SqlQuery } from "../../platform/sql";
import type { StoredTraceContext } from "../../platform/tracing";

/** Where an order's payment request stands in the orders outbox. */
export const REQUEST_STATES = Object.freeze({
	/** Unconfirmed and alive: the relay is still re-emitting it. */
	PENDING: "PENDING",
	/** Parked as dead: nobody re-emits it. */
	DEAD: "DEAD",
	/** Confirmed: payments applied it. */
	CONFIRMED: "CONFIRMED",
	/** No row: deleted by retention once confirmed, or an order placed before requests were linked. */
	MISSING: "MISSING"
} as const);
export type RequestState = (typeof REQUEST_STATES)[keyof typeof REQUEST_STATES];

/** With the trace the order's request was written in (platform/tracing.ts): what the reconciler does continues it. */
export type OverdueOrderRow = StoredTraceContext & {
	id: string;
	user_id: string;
	amount_minor: string; // pg returns BIGINT as a string
	/** As Postgres prints it: exact to the microsecond, for a scan position. */
	created_at: string;
} & ({ request_state: typeof REQUEST_STATES.MISSING; request_event_id: string | null } | { request_state: Exclude<RequestState, typeof REQUEST_STATES.MISSING>; request_event_id: string });

/** Where a scan stopped: the last order it returned. */
export interface ScanPosition {
	createdAt: string;
	id: string;
}

/**
 * Up to `limit` orders still NEW that are older than `olderThanMs`, oldest first (after `after`,
 * when given), each with its request's state (a primary key lookup in the outbox). The state is
 * read before payments is asked: a request confirmed by then was applied by then, so payments'
 * answer includes its decision.
 */
export function selectOverdueOrders(olderThanMs: number, limit: number, after: ScanPosition | null): SqlQuery {
	return {
		text: `SELECT o.id, o.user_id, o.amount_minor, o.created_at::text AS created_at, o.request_event_id, e.trace_id, e.trace_parent_span_id, e.trace_sampled,
				CASE
					WHEN e.id IS NULL THEN 'MISSING'
					WHEN e.confirmed_at IS NOT NULL THEN 'CONFIRMED'
					WHEN e.dead_at IS NOT NULL THEN 'DEAD'
					ELSE 'PENDING'
				END AS request_state
			FROM orders o LEFT JOIN outbox_events e ON e.id = o.request_event_id
			WHERE o.status = 'NEW' AND o.created_at < now() - make_interval(secs => $1::float8 / 1000)
				${after ? "AND (o.created_at, o.id) > ($3::timestamptz, $4::uuid)" : ""}
			ORDER BY o.created_at, o.id
			LIMIT $2::int`,
		values: after ? [olderThanMs, limit, after.createdAt, after.id] : [olderThanMs, limit]
	};
}

/** For the gauge: how many orders are still NEW after `olderThanMs` (read from the partial index alone). */
export function countOverdueOrders(olderThanMs: number): SqlQuery {
	return {
		text: "SELECT count(*)::int AS overdue FROM orders WHERE status = 'NEW' AND created_at < now() - make_interval(secs => $1::float8 / 1000)",
		values: [olderThanMs]
	};
}

/**
 * Points an order at its new payment request. Not only while NEW: should it have ended in the
 * meantime, payments answers the extra request with the decision it made, which changes nothing.
 */
export function linkPaymentRequest(orderId: string, requestEventId: string): SqlQuery {
	return {
		text: "UPDATE orders SET request_event_id = $2::uuid WHERE id = $1::uuid",
		values: [orderId, requestEventId]
	};
}

/**
 * Locks the order if it is still NEW: a cancel (issue 18) that ends it meanwhile waits, or is
 * waited for, and a cancelled order is never asked to be paid again. No row: it ended.
 */
export function lockNewOrder(orderId: string): SqlQuery {
	return { text: "SELECT id FROM orders WHERE id = $1::uuid AND status = 'NEW' FOR UPDATE", values: [orderId] };
}

/**
 * Orders whose cancel (issue 18) has waited for payments' answer longer than `olderThanMs` while
 * its `payment.cancelRequested` row is parked as dead (nobody re-emits it): up to `limit`, the
 * oldest first, through the partial index of the unanswered cancels and the outbox's primary key.
 */
export function selectDeadCancelRequests(olderThanMs: number, limit: number): SqlQuery {
	return {
		text: `SELECT o.id, o.cancel_event_id
			FROM orders o JOIN outbox_events e ON e.id = o.cancel_event_id
			WHERE o.cancel_requested_at IS NOT NULL AND o.cancel_outcome IS NULL
				AND o.cancel_requested_at < now() - make_interval(secs => $1::float8 / 1000)
				AND e.dead_at IS NOT NULL AND e.confirmed_at IS NULL
			ORDER BY o.cancel_requested_at, o.id
			LIMIT $2::int`,
		values: [olderThanMs, limit]
	};
}
