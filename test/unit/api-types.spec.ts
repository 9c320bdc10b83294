/**
 * The front end's API types (frontend/src/api-types.ts) are generated from the gateway's OpenAPI
 * document, built in-process (test/integration/openapi.spec.ts checks it is the one served): a
 * change to an action's schema or `openapi` note without `npm run api-types` fails here.
 */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { API_TYPES_FILE, generateApiTypes } from "../../tools/api-types";

describe("the front end's generated API types", () => {
	it("are what `npm run api-types` generates now (run it and commit the file when this fails)", async () => {
		expect(await readFile(API_TYPES_FILE, "utf8")).toBe(await generateApiTypes());
	});
});
