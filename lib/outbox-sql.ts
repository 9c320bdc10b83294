/**
 * SQL of the outbox, the inbox and idempotency keys: pure builders, run by the mixins. Table names
 * are fixed (each service has its own database), every value is a bound, cast parameter.
 */
import type { SqlQuery } from "./sql";

export interface OutboxRow {
	id: string;
	event_name: string;
	target_group: string;
	payload: unknown;
	attempts: number;
}

export function insertOutboxEvent(eventName: string, targetGroup: string, payload: unknown): SqlQuery {
	return {
		text: `INSERT INTO outbox_events (event_name, target_group, payload)
			VALUES ($1::text, $2::text, $3::jsonb) RETURNING id`,
		values: [eventName, targetGroup, JSON.stringify(payload)]
	};
}

export interface RetryPolicy {
	/** Delay before the first re-emit of an unconfirmed event. */
	baseMs: number;
	/** Cap of the exponential delay. */
	maxMs: number;
}

/**
 * Claims up to `limit` due, unconfirmed events in one statement and schedules each one's next
 * attempt: the new `next_attempt_at` is the lease, so a concurrent relay (SKIP LOCKED while this
 * runs, not due after it commits) never emits the same row in the same round. The delay doubles
 * per attempt up to the cap, with jitter of up to half so retries of a burst spread out.
 */
export function claimDueEvents(limit: number, retry: RetryPolicy): SqlQuery {
	return {
		text: `WITH due AS (
				SELECT id FROM outbox_events
				WHERE confirmed_at IS NULL AND next_attempt_at <= now()
				ORDER BY next_attempt_at
				LIMIT $1::int
				FOR UPDATE SKIP LOCKED
			)
			UPDATE outbox_events AS o
			SET attempts = o.attempts + 1,
				last_emitted_at = now(),
				next_attempt_at = now() + make_interval(secs =>
					least($3::float8, $2::float8 * power(2, least(o.attempts, 30))) * (0.5 + random() / 2) / 1000)
			FROM due WHERE o.id = due.id
			RETURNING o.id, o.event_name, o.target_group, o.payload, o.attempts`,
		values: [limit, retry.baseMs, retry.maxMs]
	};
}

export function confirmEvents(eventIds: string[]): SqlQuery {
	return {
		text: `UPDATE outbox_events SET confirmed_at = now()
			WHERE id = ANY($1::uuid[]) AND confirmed_at IS NULL RETURNING id`,
		values: [eventIds]
	};
}

/** Records an event id as applied; returns a row only the first time (the caller then applies it). */
export function recordInboxEvent(eventId: string, eventName: string, source: string): SqlQuery {
	return {
		text: `INSERT INTO inbox_events (event_id, event_name, source) VALUES ($1::uuid, $2::text, $3::text)
			ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
		values: [eventId, eventName, source]
	};
}

export interface IdempotencyRecord {
	request_hash: string;
	response_status: number;
	response_body: unknown;
	response_location: string | null;
}

/**
 * Serialises requests with one key until the end of their transaction, so that a concurrent retry
 * waits for the first request and then finds its stored response.
 */
export function lockIdempotencyKey(userId: string, operation: string, key: string): SqlQuery {
	return { text: "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", values: [`${userId}\u0000${operation}\u0000${key}`] };
}

export function selectIdempotencyRecord(userId: string, operation: string, key: string): SqlQuery {
	return {
		text: `SELECT request_hash, response_status, response_body, response_location
			FROM idempotency_keys WHERE user_id = $1::text AND operation = $2::text AND key = $3::text`,
		values: [userId, operation, key]
	};
}

/** Stores the response of an operation under the client's key, in the operation's transaction. */
export function insertIdempotencyRecord(userId: string, operation: string, key: string, record: IdempotencyRecord): SqlQuery {
	return {
		text: `INSERT INTO idempotency_keys (user_id, operation, key, request_hash, response_status, response_body, response_location)
			VALUES ($1::text, $2::text, $3::text, $4::text, $5::int, $6::jsonb, $7::text)`,
		values: [userId, operation, key, record.request_hash, record.response_status, JSON.stringify(record.response_body), record.response_location]
	};
}

/** For the metrics: how many events wait for confirmation, and for how long the oldest has. */
export function selectPendingSummary(): SqlQuery {
	return {
		text: `SELECT count(*)::int AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age_seconds
			FROM outbox_events WHERE confirmed_at IS NULL`,
		values: []
	};
}

/** For inspection: the oldest unconfirmed events. */
export function selectPendingEvents(limit: number): SqlQuery {
	return {
		text: `SELECT id, event_name, target_group, payload, attempts, created_at, last_emitted_at, next_attempt_at
			FROM outbox_events WHERE confirmed_at IS NULL ORDER BY created_at LIMIT $1::int`,
		values: [limit]
	};
}
