import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors } from "moleculer";

/**
 * Guards for request bodies that the JSON parser accepts but that would hurt later: deeply
 * nested values (thousands of `[`) make fastest-validator's error formatting overflow the
 * stack, which would be a 500 for the caller's mistake. Bodies nested deeper than any real
 * request are refused as 400 before they are parsed.
 *
 * Issue 15 (second attack): body-parser decodes any `charset=utf-*` with iconv-lite, while the
 * depth check reads the raw bytes as UTF-8; in UTF-7 `[` is `+AFs-`, so 50,000 levels passed it
 * and the key walk below overflowed the stack inside body-parser's callback, ending the process.
 * Only UTF-8 reaches the parser now (anything else is 415), and the walk is iterative.
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
			if (c === 0x5c)
				i++; // backslash: skip the escaped character
			else if (c === 0x22) inString = false;
		} else if (c === 0x22) inString = true;
		else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
		else if (c === 0x5d || c === 0x7d) depth--;
	}
	return deepest;
}

/**
 * body-parser's `verify` hook: throws a 400 error for bodies nested deeper than MAX_JSON_DEPTH.
 * The bytes are the body as sent: UTF-8, which `isUtf8Json` makes sure of.
 */
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

/**
 * A forbidden key anywhere in a parsed JSON value (own keys; JSON.parse makes `__proto__` one).
 * Iterative: no depth of nesting can overflow the stack.
 */
export function findForbiddenKey(value: unknown): string | undefined {
	const pending = [value];
	while (pending.length > 0) {
		const current = pending.pop();
		if (typeof current !== "object" || current === null) continue;
		for (const [key, inner] of Object.entries(current)) {
			if (FORBIDDEN_KEYS.has(key)) return key;
			pending.push(inner);
		}
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

/**
 * Whether the body is JSON in UTF-8 (RFC 8259 §8.1: JSON between systems is UTF-8): the media type
 * `application/json`, with no charset or `utf-8`. Also the JSON parser's `type` check, so that no
 * other charset is ever decoded.
 */
export function isUtf8Json(req: IncomingMessage): boolean {
	const [mediaType, ...parameters] = (req.headers["content-type"] ?? "").toLowerCase().split(";");
	if (mediaType.trim() !== "application/json") return false;
	return parameters.every(parameter => {
		const [name, value] = parameter.split("=").map(part => part.trim());
		return name !== "charset" || value?.replace(/^"(.*)"$/, "$1") === "utf-8";
	});
}

function isJsonObject(value: unknown): boolean {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

const refused = (message: string, status: number, type: string) => new Errors.MoleculerClientError(message, status, type);

/**
 * The body contract of the `/api` route, after the JSON parser (a moleculer-web route middleware):
 * a POST's fields come from its JSON body only (moleculer-web would let the query string supply
 * or override them), a body of another type or charset is 415 (the JSON parser skips it, and the
 * action would answer "amount required"), the body is an object, a GET has no body, and forbidden
 * keys are 400.
 */
export function enforceJsonBodyContract(req: ParsedRequest, _res: ServerResponse, next: (err?: Error) => void): void {
	if (!BODY_METHODS.has(req.method ?? "")) {
		if (hasContent(req)) return next(refused(`A ${req.method} request takes no body; its fields go in the URL.`, 400, "BODY_NOT_ALLOWED"));
		return next();
	}
	if (Object.keys(req.query ?? {}).length > 0) {
		return next(refused("A request with a body takes its fields from the JSON body only, not from the query string.", 400, "QUERY_NOT_ALLOWED"));
	}
	if (hasContent(req) && !isUtf8Json(req)) {
		return next(refused("The body must be JSON in UTF-8, sent as 'Content-Type: application/json'.", 415, "UNSUPPORTED_MEDIA_TYPE"));
	}
	// moleculer-web would copy an array's indexes into the params: 1 MB of `[0,0,...]` cost 0.3 s
	// and a 7.8 MB validation error listing every index.
	if (req.body !== undefined && !isJsonObject(req.body)) return next(refused("The JSON body must be an object.", 400, "BODY_NOT_OBJECT"));
	const key = findForbiddenKey(req.body);
	if (key !== undefined) return next(refused(`The body must not contain the key '${key}'.`, 400, "FORBIDDEN_KEY"));
	next();
}

/** A request as moleculer-web has routed it: its alias knows the path's parameters (path-to-regexp's keys). */
export interface AliasedRequest extends ParsedRequest {
	$alias?: { keys?: { name: string | number }[] };
}

/**
 * A field of the body or the query string named like one of the path's parameters, if any.
 * moleculer-web merges the path's parameters over both, so the path's value won silently: a
 * cancel with `{"id": <another order>}` cancelled the path's order, a body the API says it
 * refuses (hostile review of issue 18).
 */
export function repeatedPathParameter(req: AliasedRequest): string | undefined {
	const sent = new Set([...Object.keys(isJsonObject(req.body) ? (req.body as object) : {}), ...Object.keys(req.query ?? {})]);
	return req.$alias?.keys?.map(key => String(key.name)).find(name => sent.has(name));
}

export type RouteMiddleware<This> = (this: This, req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => void;

/**
 * A route middleware whose exception becomes the request's error. body-parser calls the next
 * middleware from its own callback, where an exception is uncaught and ends the process (issue 15,
 * second attack: a stack overflow in the body checks did). An exception after it passed the request
 * on is its successor's, guarded too.
 */
export function guarded<This>(middleware: RouteMiddleware<This>): RouteMiddleware<This> {
	return function (this: This, req, res, next) {
		let passed = false;
		try {
			middleware.call(this, req, res, err => {
				passed = true;
				next(err);
			});
		} catch (err) {
			if (passed) throw err;
			next(err as Error);
		}
	};
}
