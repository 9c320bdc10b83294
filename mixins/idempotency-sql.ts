/** SQL of idempotency keys: pure builders, run by the idempotency mixin. */
import type { SqlQuery } from "../platform/sql";

export interface IdempotencyRecord {
	request_hash: string;
	response_status: number;
	response_body: unknown;
	response_location: string | null;
}

/** JSON keeps the three apart whatever they contain (a text parameter cannot hold NUL). */
const lockKey = (userId: string, operation: string, key: string) => JSON.stringify([userId, operation, key]);

/**
 * Serialises requests with one key until the end of their transaction, so that a concurrent retry
 * waits for the first request and then finds its stored response. This is the first try, which
 * does not wait: `locked` is false when another request holds the key.
 */
export function tryLockIdempotencyKey(userId: string, operation: string, key: string): SqlQuery {
	return {
		name: "idempotency.tryLockIdempotencyKey",
		text: "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0)) AS locked",
		values: [lockKey(userId, operation, key)]
	};
}

/** Waits for the key's lock, for as long as the transaction's lock_timeout allows. */
export function lockIdempotencyKey(userId: string, operation: string, key: string): SqlQuery {
	return { text: "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", values: [lockKey(userId, operation, key)] };
}

/**
 * Sets the transaction's lock_timeout and returns the one it replaces (`previous`), to be set back
 * with `restoreLockTimeout`: read from the session, not assumed (a pooler in front of Postgres may
 * have dropped the connection's own settings).
 */
export function setLockTimeout(ms: number): SqlQuery {
	return {
		text: `WITH previous AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value)
			SELECT value AS previous, set_config('lock_timeout', $1::text, true) FROM previous`,
		values: [`${ms}ms`]
	};
}

export function restoreLockTimeout(previous: string): SqlQuery {
	return { text: "SELECT set_config('lock_timeout', $1::text, true)", values: [previous] };
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
