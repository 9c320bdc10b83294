/**
 * SQL of the outbox: pure builders, run by the outbox mixin. Table names are fixed (each service
 * has its own database), every value is a bound, cast parameter.
 */
import type { FailureKind } from "./failure-classification";
import type { SqlQuery } from "../platform/sql";
import type { StoredTraceContext, TraceContext } from "../platform/tracing";

/** A delay's jitter: a random share between half and all of it, so the retries of a burst spread out. */
/** The channel the outbox listens on for rows that became due (migration messaging/0003); one per database. */
export const OUTBOX_DUE_CHANNEL = "outbox_due";

const JITTER = "(0.5 + random() / 2)";

/** An outbox row as the relay emits it, with the trace it was written in (platform/tracing.ts). */
export interface OutboxRow extends StoredTraceContext {
	id: string;
	event_name: string;
	target_group: string;
	payload: unknown;
	attempts: number;
}

const ROW_COLUMNS = ["id", "event_name", "target_group", "payload", "attempts", "trace_id", "trace_parent_span_id", "trace_sampled"];
const INSERTED_COLUMNS = ROW_COLUMNS.join(", ");
const CLAIMED_COLUMNS = ROW_COLUMNS.map(column => `o.${column}`).join(", ");

/**
 * Adds an event already claimed by its writer: the process that commits it emits it at once, and
 * the lease (the first retry delay, with jitter) keeps every relay off it until then. Should the
 * writer die before emitting, the lease runs out and any relay picks it up. Leases count from
 * `clock_timestamp()`, not the transaction's start (`now()`): a slow transaction would otherwise
 * commit a row already due, and a relay would emit it beside its writer.
 */
export function insertOutboxEvent(eventName: string, targetGroup: string, payload: unknown, leaseMs: number, trace?: TraceContext): SqlQuery {
	return {
		name: "outbox.insertOutboxEvent",
		text: `INSERT INTO outbox_events (event_name, target_group, payload, attempts, last_emitted_at, next_attempt_at, trace_id, trace_parent_span_id, trace_sampled)
			VALUES ($1::text, $2::text, $3::jsonb, 1, now(), clock_timestamp() + make_interval(secs => $4::float8 * ${JITTER} / 1000), $5::text, $6::text, $7::boolean)
			RETURNING ${INSERTED_COLUMNS}`,
		values: [eventName, targetGroup, JSON.stringify(payload), leaseMs, trace?.traceId ?? null, trace?.parentSpanId ?? null, trace?.sampled ?? false]
	};
}

export interface RetryPolicy {
	/** Delay before the first re-emit of an unconfirmed event. */
	baseMs: number;
	/** Cap of the exponential delay. */
	maxMs: number;
}

/**
 * Claims up to `limit` due, unconfirmed events for one consumer group (one with a live instance),
 * by the group's own index, in one statement, and schedules each one's next attempt: the new
 * `next_attempt_at` is the lease, so a concurrent relay (SKIP LOCKED while this runs, not due after
 * it commits) never emits the same row in the same round. The delay doubles per attempt up to the
 * cap, with jitter of up to half so retries of a burst spread out.
 */
export function claimDueEvents(limit: number, retry: RetryPolicy, targetGroup: string): SqlQuery {
	return {
		name: "outbox.claimDueEvents",
		text: `WITH due AS (
				SELECT id FROM outbox_events
				WHERE target_group = $4::text AND confirmed_at IS NULL AND dead_at IS NULL AND next_attempt_at <= now()
				ORDER BY next_attempt_at
				LIMIT $1::int
				FOR UPDATE SKIP LOCKED
			)
			UPDATE outbox_events AS o
			SET attempts = o.attempts + 1,
				last_emitted_at = now(),
				next_attempt_at = clock_timestamp() + make_interval(secs =>
					least($3::float8, $2::float8 * power(2, least(o.attempts, 30))) * ${JITTER} / 1000)
			FROM due WHERE o.id = due.id
			RETURNING ${CLAIMED_COLUMNS}`,
		values: [limit, retry.baseMs, retry.maxMs, targetGroup]
	};
}

export function confirmEvents(eventIds: string[]): SqlQuery {
	return {
		name: "outbox.confirmEvents",
		text: `UPDATE outbox_events SET confirmed_at = now()
			WHERE id = ANY($1::uuid[]) AND confirmed_at IS NULL RETURNING id, target_group`,
		values: [eventIds]
	};
}

/**
 * How many of the given events their consumer has not answered yet for their latest attempt:
 * neither confirmed nor rejected (the relay's flow control).
 */
export function countUnanswered(eventIds: string[]): SqlQuery {
	return {
		text: `SELECT count(*)::int AS unanswered FROM outbox_events
			WHERE id = ANY($1::uuid[]) AND confirmed_at IS NULL AND dead_at IS NULL AND answered_attempt < attempts`,
		values: [eventIds]
	};
}

/** For the metrics: how many events wait for confirmation, and for how long the oldest has (by the pending index). */
export function selectPendingSummary(): SqlQuery {
	return {
		text: `SELECT count(*) FILTER (WHERE dead_at IS NULL)::int AS pending,
				coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0)::float8 AS oldest_age_seconds,
				count(*) FILTER (WHERE dead_at IS NOT NULL)::int AS dead
			FROM outbox_events WHERE confirmed_at IS NULL`,
		values: []
	};
}

/** For inspection: the oldest unconfirmed events. */
export function selectPendingEvents(limit: number): SqlQuery {
	return {
		text: `SELECT id, event_name, target_group, payload, attempts, failures, last_error, created_at, last_emitted_at, next_attempt_at
			FROM outbox_events WHERE confirmed_at IS NULL AND dead_at IS NULL ORDER BY created_at LIMIT $1::int`,
		values: [limit]
	};
}

export interface ParkingPolicy {
	/** Failures (one at most per attempt) after which an event may be parked... */
	maxFailures: number;
	/** ...once it is at least this old, so that a burst of failures cannot park it. */
	minAgeMs: number;
}

/**
 * A consumer could not apply an event (mixins/failure-classification.ts says what `kind` means).
 * Every answer records its reason and which attempt it answered. A `malformed` event is parked as
 * dead at once (and counted). A `failure` counts once per attempt, however many queued copies of that attempt
 * fail (`answered_attempt`), and parks the event once it has failed `maxFailures` times and is
 * `minAgeMs` old. An `outage` never counts: the event is retried with backoff until it is applied.
 * A consumer that sends no attempt (version 1) answers the latest one.
 */
export function recordEventFailure(eventId: string, reason: string, kind: FailureKind, attempt: number | null, parking: ParkingPolicy): SqlQuery {
	return {
		text: `WITH answer AS (
				SELECT id, coalesce($4::int, attempts) AS attempt,
					$3::text <> 'outage' AND coalesce($4::int, attempts) > answered_attempt AS counted
				FROM outbox_events WHERE id = $1::uuid AND confirmed_at IS NULL AND dead_at IS NULL
				FOR UPDATE
			)
			UPDATE outbox_events AS o SET
				last_error = $2::text,
				failures = o.failures + answer.counted::int,
				answered_attempt = greatest(o.answered_attempt, answer.attempt),
				dead_at = CASE
					WHEN $3::text = 'malformed' THEN now()
					WHEN answer.counted AND o.failures + 1 >= $5::int AND o.created_at <= now() - make_interval(secs => $6::float8 / 1000) THEN now()
				END
			FROM answer WHERE o.id = answer.id
			RETURNING o.id, o.event_name, o.target_group, o.failures, o.dead_at, o.trace_id, answer.counted`,
		values: [eventId, reason.slice(0, 2000), kind, attempt, parking.maxFailures, parking.minAgeMs]
	};
}

/** A dead event as `selectDeadEvents` lists it (its times are strings once they crossed the transporter). */
export interface DeadEventRow {
	id: string;
	event_name: string;
	target_group: string;
	payload: { orderId?: unknown } | null;
	attempts: number;
	failures: number;
	last_error: string | null;
	created_at: Date | string;
	dead_at: Date | string;
}

/** The outbox's backlog (`selectPendingSummary`). */
export interface PendingSummaryRow {
	pending: number;
	oldest_age_seconds: number;
	dead: number;
}

export function selectDeadEvents(limit: number): SqlQuery {
	return {
		text: `SELECT id, event_name, target_group, payload, attempts, failures, last_error, created_at, dead_at
			FROM outbox_events WHERE dead_at IS NOT NULL AND confirmed_at IS NULL ORDER BY dead_at DESC LIMIT $1::int`,
		values: [limit]
	};
}

/**
 * An outbox row as an order's journey shows it (services/orders/order-journey.ts: `OutboxTrail`), a JSON
 * object or NULL, for the row `alias` of a statement that joins `outbox_events` by primary key.
 */
export function outboxTrailJson(alias: string): string {
	return `CASE WHEN ${alias}.id IS NULL THEN NULL ELSE json_build_object(
		'createdAt', ${alias}.created_at, 'lastEmittedAt', ${alias}.last_emitted_at, 'attempts', ${alias}.attempts,
		'confirmedAt', ${alias}.confirmed_at, 'deadAt', ${alias}.dead_at, 'lastError', ${alias}.last_error) END`;
}

/**
 * Gives dead events (all, or the given ones) a fresh start: due now, failures reset, and aged from
 * now, or the next retention run would park them again as past the redelivery horizon. Attempts go
 * on counting, and every attempt so far counts as answered: a copy from before the revive, still
 * queued, answers an attempt already answered and is not counted against the fresh start.
 */
export function reviveDeadEvents(eventIds: string[] | null): SqlQuery {
	return {
		text: `UPDATE outbox_events SET dead_at = NULL, failures = 0, answered_attempt = attempts, last_error = NULL,
				next_attempt_at = now(), created_at = now()
			WHERE dead_at IS NOT NULL AND confirmed_at IS NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
			RETURNING id`,
		values: [eventIds]
	};
}

/**
 * Parks events unconfirmed for longer than the redelivery horizon: past it, the consumer's inbox
 * may no longer remember them, so re-emitting could apply one twice.
 */
export function expireStaleEvents(maxAgeMs: number): SqlQuery {
	return {
		text: `UPDATE outbox_events SET dead_at = now(), last_error = 'Expired: unconfirmed for longer than the redelivery horizon'
			WHERE confirmed_at IS NULL AND dead_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000)
			RETURNING id`,
		values: [maxAgeMs]
	};
}
