import { describe, expect, it } from "vitest";
import { jsonNestingDepth, MAX_JSON_DEPTH, rejectDeeplyNestedJson } from "../../lib/request-body";

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
