/**
 * What a client is told about an error, in one place (issue 15). A caller's mistake (4xx) keeps
 * its message and type, which are written for clients. Anything else says nothing about the
 * inside: an outage of a dependency (a database, a service, the broker) is a generic, retryable
 * 503, any other fault a generic 500; the details go to the server's log only. Before, a database
 * outage answered 500 with the driver's error (`SequelizeConnectionRefusedError ... ECONNREFUSED
 * 127.0.0.1:5471`) and validation errors carried the node id (host name and pid).
 *
 * A call that timed out is not an outage here, though Moleculer's RequestTimeoutError is one for
 * event handling: the action may still be running and commit, so "unavailable, retry" would invite
 * a second top-up (issue 15, second attack). It is a 504 that says so, without Retry-After.
 * What a client sent comes back bounded: a 1 MB body's validation error ran to 7.8 MB.
 */
import { Errors } from "moleculer";
import { isOutage } from "../../mixins/failure-classification";

/** How long a client should wait before retrying after a 503, in seconds. */
export const RETRY_AFTER_SECONDS = 5;

export interface PublicErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	/** Field errors of a validation failure, without the node and action fields Moleculer adds. */
	data?: Record<string, unknown>[];
}

export interface PublicError {
	status: number;
	body: PublicErrorBody;
	headers: Record<string, string>;
	/** Whether this is our fault (5xx): worth an error in the log. */
	internal: boolean;
}

const SERVICE_UNAVAILABLE: PublicErrorBody = {
	name: "ServiceUnavailableError",
	message: "The service is unavailable for the moment; retry shortly.",
	code: 503,
	type: "SERVICE_UNAVAILABLE"
};

const INTERNAL_ERROR: PublicErrorBody = {
	name: "InternalServerError",
	message: "Something went wrong on our side; the request may not have been applied.",
	code: 500,
	type: "INTERNAL_ERROR"
};

const GATEWAY_TIMEOUT: PublicErrorBody = {
	name: "GatewayTimeoutError",
	message: "The request took too long; it may still have been applied. Retry only with the same Idempotency-Key.",
	code: 504,
	type: "GATEWAY_TIMEOUT"
};

/** Bounds on what an error repeats of the request: characters of a text, field errors. */
export const MAX_ERROR_TEXT_LENGTH = 300;
export const MAX_FIELD_ERRORS = 20;

/** The keys of a validation error's entries that describe the caller's input, nothing else. */
const FIELD_ERROR_KEYS = ["type", "field", "message", "expected", "actual"] as const;

interface ErrorLike {
	name?: unknown;
	message?: unknown;
	code?: unknown;
	status?: unknown;
	type?: unknown;
	data?: unknown;
	expose?: unknown;
}

/**
 * The status a client error claims: a Moleculer error's `code`, or the `status` of an http-errors
 * error (body-parser's) that is meant to be shown (`expose`).
 */
function clientStatusOf(err: ErrorLike): number | undefined {
	const status = err instanceof Errors.MoleculerError ? err.code : err.expose === true ? err.status : undefined;
	return typeof status === "number" && Number.isInteger(status) && status >= 400 && status < 500 ? status : undefined;
}

function bounded(text: string): string {
	return text.length <= MAX_ERROR_TEXT_LENGTH ? text : `${text.slice(0, MAX_ERROR_TEXT_LENGTH)}…`;
}

/** A field error's value as shown: texts bounded, other scalars as they are, structures left out. */
function shownValue(value: unknown): unknown {
	if (typeof value === "string") return bounded(value);
	return value === null || ["number", "boolean"].includes(typeof value) ? value : undefined;
}

function fieldErrors(data: unknown): Record<string, unknown>[] | undefined {
	if (!Array.isArray(data)) return undefined;
	return data
		.filter((entry): entry is Record<string, unknown> => typeof entry === "object" && entry !== null)
		.slice(0, MAX_FIELD_ERRORS)
		.map(entry =>
			Object.fromEntries(
				FIELD_ERROR_KEYS.filter(key => Object.hasOwn(entry, key))
					.map((key): [string, unknown] => [key, shownValue(entry[key])])
					.filter(([, value]) => value !== undefined)
			)
		);
}

export function toPublicError(err: unknown): PublicError {
	const e = (typeof err === "object" && err !== null ? err : {}) as ErrorLike;
	// An explicit client error first: its message could match an outage pattern by chance.
	const clientStatus = err instanceof Errors.MoleculerClientError ? clientStatusOf(e) : undefined;
	if (err instanceof Errors.RequestTimeoutError) return { status: 504, body: GATEWAY_TIMEOUT, headers: {}, internal: true };
	if (clientStatus === undefined && isOutage(err)) {
		return { status: 503, body: SERVICE_UNAVAILABLE, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) }, internal: true };
	}
	const status = clientStatus ?? clientStatusOf(e);
	if (status === undefined) return { status: 500, body: INTERNAL_ERROR, headers: {}, internal: true };
	const data = err instanceof Errors.ValidationError ? fieldErrors(e.data) : undefined;
	// A refusal that a retry will fix (a request with the same Idempotency-Key in progress) says when.
	const retryAfter = (e.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
	const body: PublicErrorBody = {
		name: typeof e.name === "string" ? e.name : "Error",
		message: typeof e.message === "string" ? bounded(e.message) : "The request was refused.",
		code: status,
		type: typeof e.type === "string" && e.type !== "" ? e.type : `HTTP_${status}`,
		...(data && { data })
	};
	return { status, body, headers: Number.isInteger(retryAfter) ? { "Retry-After": String(retryAfter) } : {}, internal: false };
}
