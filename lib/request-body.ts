import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors } from "moleculer";

/**
 * Guards for request bodies that the JSON parser accepts but that would hurt later: deeply
 * nested values (thousands of `[`) make fastest-validator's error formatting overflow the
 * stack, which would be a 500 for the caller's mistake. Bodies nested deeper than any real
 * request are refused as 400 before they are parsed.
 */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of arrays and objects in a JSON text (brackets inside strings ignored). */
export function jsonNestingDepth(text: string): number {
	let depth = 0;
	let deepest = 0;
	let inString = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (inString) {
			if (c === 0x5c) i++; // backslash: skip the escaped character
			else if (c === 0x22) inString = false;
		} else if (c === 0x22) inString = true;
		else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
		else if (c === 0x5d || c === 0x7d) depth--;
	}
	return deepest;
}

/** body-parser's `verify` hook: throws a 400 error for bodies nested deeper than MAX_JSON_DEPTH. */
export function rejectDeeplyNestedJson(_req: unknown, _res: unknown, body: Buffer): void {
	if (jsonNestingDepth(body.toString("utf8")) > MAX_JSON_DEPTH) {
		throw Object.assign(new Error(`The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`), { status: 400, type: "entity.too.deep" });
	}
}

/**
 * Keys refused anywhere in a body: assigned onto an object (moleculer-web merges the body into
 * the action's params with Object.assign), `__proto__` replaces the prototype, and a body
 * `{"__proto__": {...}}` was taken as if its content were the body (issue 15).
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** The first forbidden key in a parsed JSON value (own keys; JSON.parse makes `__proto__` one). */
export function findForbiddenKey(value: unknown): string | undefined {
	if (typeof value !== "object" || value === null) return undefined;
	for (const key of Object.keys(value)) {
		if (FORBIDDEN_KEYS.has(key)) return key;
		const inner = findForbiddenKey((value as Record<string, unknown>)[key]);
		if (inner !== undefined) return inner;
	}
	return undefined;
}

/** Methods whose requests carry their fields in a body; the others take them from the URL only. */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

interface ParsedRequest extends IncomingMessage {
	body?: unknown;
	query?: Record<string, unknown>;
}

function hasContent(req: IncomingMessage): boolean {
	const length = req.headers["content-length"];
	return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function isJson(req: IncomingMessage): boolean {
	return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase() === "application/json";
}

const refused = (message: string, status: number, type: string) => new Errors.MoleculerClientError(message, status, type);

/**
 * The body contract of the `/api` route, after the JSON parser (a moleculer-web route middleware):
 * a POST's fields come from its JSON body only (moleculer-web would let the query string supply
 * or override them), a body of another type is 415 (the JSON parser skips it, and the action
 * would answer "amount required"), a GET has no body, and forbidden keys are 400.
 */
export function enforceJsonBodyContract(req: ParsedRequest, _res: ServerResponse, next: (err?: Error) => void): void {
	if (!BODY_METHODS.has(req.method ?? "")) {
		if (hasContent(req)) return next(refused(`A ${req.method} request takes no body; its fields go in the URL.`, 400, "BODY_NOT_ALLOWED"));
		return next();
	}
	if (Object.keys(req.query ?? {}).length > 0) {
		return next(refused("A request with a body takes its fields from the JSON body only, not from the query string.", 400, "QUERY_NOT_ALLOWED"));
	}
	if (hasContent(req) && !isJson(req)) return next(refused("The body must be JSON, sent as 'Content-Type: application/json'.", 415, "UNSUPPORTED_MEDIA_TYPE"));
	const key = findForbiddenKey(req.body);
	if (key !== undefined) return next(refused(`The body must not contain the key '${key}'.`, 400, "FORBIDDEN_KEY"));
	next();
}
