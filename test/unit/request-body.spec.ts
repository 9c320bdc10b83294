import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it, vi } from "vitest";
import { findForbiddenKey, guarded, isUtf8Json, jsonNestingDepth, MAX_JSON_DEPTH, rejectDeeplyNestedJson } from "../../services/api/request-body";

describe("JSON nesting depth", () => {
	it.each([
		['{"a":1}', 1],
		['{"a":[1,{"b":[]}]}', 4],
		['"[[[[["', 0],
		['{"a":"x\\\\\\"[[["}', 1],
		["[".repeat(50) + "]".repeat(50), 50]
	])("measures %s as %d", (text, depth) => {
		expect(jsonNestingDepth(text)).toBe(depth);
	});

	it("refuses bodies deeper than the limit with a 400 error", () => {
		const deep = Buffer.from("[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1));
		expect(() => rejectDeeplyNestedJson(null, null, deep)).toThrow(expect.objectContaining({ status: 400 }));
		expect(() => rejectDeeplyNestedJson(null, null, Buffer.from('{"amount":1}'))).not.toThrow();
	});
});

describe("the key walk", () => {
	it("finds a forbidden key at any depth, and overflows no stack on 100,000 levels (issue 15, second attack)", () => {
		expect(findForbiddenKey(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))).toBe("__proto__");
		expect(findForbiddenKey(JSON.parse('{"a":[{"b":{"c":1}}]}'))).toBeUndefined();
		const deep = JSON.parse(`{"z":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
		expect(findForbiddenKey(deep)).toBeUndefined();
	});
});

describe("the accepted body type", () => {
	const request = (contentType?: string) => ({ headers: contentType === undefined ? {} : { "content-type": contentType } }) as IncomingMessage;

	it.each(["application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", 'application/json; charset="utf-8"'])("accepts %s", type => {
		expect(isUtf8Json(request(type))).toBe(true);
	});

	it.each([
		"application/json; charset=utf-7",
		"application/json; charset=utf-16le",
		"application/json; charset=utf-16",
		"application/json; charset=latin1",
		"text/plain",
		"application/jsonx",
		undefined
	])("refuses %s (issue 15, second attack: other charsets were decoded past the depth check)", type => {
		expect(isUtf8Json(request(type))).toBe(false);
	});
});

describe("a guarded route middleware", () => {
	const req = {} as IncomingMessage;
	const res = {} as ServerResponse;

	it("passes its exception on as the request's error, also when called from another module's callback (issue 15, second attack)", async () => {
		const next = vi.fn();
		const throwing = guarded(() => {
			throw new RangeError("Maximum call stack size exceeded");
		});
		// As body-parser calls the next middleware: from a callback of its own, where nothing catches.
		await new Promise<void>(resolve => setImmediate(() => resolve(throwing.call(undefined, req, res, next))));
		expect(next).toHaveBeenCalledWith(expect.any(RangeError));
	});

	it("passes the request on once, and leaves a later exception to the middleware that threw it", () => {
		const next = vi.fn(() => {
			throw new Error("the successor's");
		});
		const passing = guarded((_req, _res, pass) => pass());
		expect(() => passing.call(undefined, req, res, next)).toThrow("the successor's");
		expect(next).toHaveBeenCalledTimes(1);
	});
});
