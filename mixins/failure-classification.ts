/**
 * What an error says about whose fault it is, in one place: the inbox asks it before an event's
 * failure may count towards parking, and the gateway before it answers 503 instead of 500.
 *
 * - `outage`: the infrastructure failed, not the event or the request (a database unreachable,
 *   restarting or overloaded, a conflict that a retry resolves, the broker away). It never counts
 *   towards parking an event; the work is simply retried with backoff. A client gets 503.
 * - `malformed`: the event itself can never be applied (its envelope or payload is unusable).
 * - `failure`: anything else (a bug, data the code did not expect). Counted, and an event is parked
 *   only after repeated failures and a minimum age.
 */
import { Errors } from "moleculer";
import { sqlStateOf } from "../platform/sql";

export const FAILURE_KINDS = Object.freeze({ OUTAGE: "outage", MALFORMED: "malformed", FAILURE: "failure" } as const);
export type FailureKind = (typeof FAILURE_KINDS)[keyof typeof FAILURE_KINDS];

/**
 * SQLSTATE classes that are the server's state, not the statement's fault:
 * 08 connection_exception, 40 transaction_rollback (serialization_failure, deadlock_detected),
 * 53 insufficient_resources (too_many_connections, disk_full, out_of_memory),
 * 57 operator_intervention (query_canceled by statement_timeout, admin_shutdown, crash_shutdown,
 * cannot_connect_now while starting or recovering), 28 invalid_authorization_specification (a
 * credential rotated under the service: its operators' fault, never the event's).
 */
const OUTAGE_SQLSTATE_CLASSES = new Set(["08", "28", "40", "53", "57"]);
/**
 * Single codes of other classes: 55P03 lock_not_available (lock_timeout), 55006 object_in_use,
 * 3D000 invalid_catalog_name (the database is gone or not restored yet), 25006 read_only_sql_transaction
 * (a demoted primary after a failover), 58000 system_error, 58030 io_error.
 */
const OUTAGE_SQLSTATES = new Set(["55P03", "55006", "3D000", "25006", "58000", "58030"]);

/** Socket-level errors of the driver or of Node. */
const OUTAGE_NETWORK_CODES = new Set([
	"ECONNREFUSED",
	"ECONNRESET",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"EHOSTUNREACH",
	"EHOSTDOWN",
	"ENETUNREACH",
	"ENETDOWN",
	"ENOTFOUND",
	"EAI_AGAIN",
	"EADDRNOTAVAIL"
]);

/** Sequelize's connection errors (pool acquire timeout, refused, host not found...), by name: no instanceof across copies. */
const OUTAGE_ERROR_NAMES = new Set([
	"SequelizeConnectionError",
	"SequelizeConnectionRefusedError",
	"SequelizeConnectionAcquireTimeoutError",
	"SequelizeConnectionTimedOutError",
	"SequelizeHostNotFoundError",
	"SequelizeHostNotReachableError",
	"SequelizeAccessDeniedError",
	"SequelizeInvalidConnectionError",
	"TimeoutError" // sequelize-pool's acquire timeout, before Sequelize wraps it
]);

/** pg's messages for a connection that died or never came, which carry no code. */
const OUTAGE_MESSAGES = [
	/^Connection terminated/i,
	/connection (?:timeout|error)/i,
	/Client has encountered a connection error/i,
	/Client was closed and is not queryable/i,
	/timeout exceeded when trying to connect/i,
	/Connection ended/i,
	/^ResourceRequest timed out/i,
	/pool is draining/i // a graceful stop closing the pool
];

function isOutageError(err: unknown, depth: number): boolean {
	if (err === null || typeof err !== "object" || depth > 4) return false;
	const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; parent?: unknown; original?: unknown; retryable?: unknown };
	const sqlState = sqlStateOf(err);
	if (sqlState !== undefined && /^[0-9A-Z]{5}$/.test(sqlState)) {
		if (OUTAGE_SQLSTATE_CLASSES.has(sqlState.slice(0, 2)) || OUTAGE_SQLSTATES.has(sqlState)) return true;
	}
	if (typeof e.code === "string" && OUTAGE_NETWORK_CODES.has(e.code)) return true;
	if (typeof e.name === "string" && OUTAGE_ERROR_NAMES.has(e.name)) return true;
	// Moleculer's own "try again" errors: a request timeout, no instance of a service, the broker
	// disconnected. Not its generic server error, which is retryable too but says nothing of why.
	if (err instanceof Errors.ServiceNotAvailableError || err instanceof Errors.ServiceNotFoundError) return true;
	if (err instanceof Errors.MoleculerRetryableError && err.constructor !== Errors.MoleculerServerError) return true;
	if (typeof e.message === "string" && OUTAGE_MESSAGES.some(pattern => pattern.test(e.message as string))) return true;
	return [e.cause, e.parent, e.original].some(inner => inner !== err && isOutageError(inner, depth + 1));
}

/** True when the error is the infrastructure's (see FAILURE_KINDS.OUTAGE), also when wrapped (`cause`, `parent`, `original`). */
export function isOutage(err: unknown): boolean {
	return isOutageError(err, 0);
}

/** The kind of an error thrown while applying an event (malformed events are told apart before applying). */
export function classifyFailure(err: unknown): FailureKind {
	return isOutage(err) ? FAILURE_KINDS.OUTAGE : FAILURE_KINDS.FAILURE;
}
