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
