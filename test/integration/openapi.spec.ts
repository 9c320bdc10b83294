/**
 * The generated OpenAPI document against the running gateway: it lists exactly the routes the
 * gateway has, each documented operation answers with a documented status, success bodies match
 * their documented schemas, and Swagger UI is served.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGatewayDocument } from "../../tools/api-types";
import { openAccount, placeOrder, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

type Schema = Record<string, any>;

let system: TestSystem;
let document: Schema;

beforeAll(async () => {
	system = await startSystem();
	document = (await system.request("GET", "/openapi.json")).body;
});

afterAll(async () => {
	await system?.stop();
});

function resolve(schema: Schema): Schema {
	if (!schema.$ref) return schema;
	return (schema.$ref as string)
		.slice(2)
		.split("/")
		.reduce((node: Schema, key) => node[key], document);
}

/** Problems of `value` against a JSON schema (the subset the document uses). */
function mismatches(value: unknown, schema: Schema, at = "body"): string[] {
	const s = resolve(schema);
	if (s.enum) return s.enum.includes(value) ? [] : [`${at}: ${JSON.stringify(value)} not in ${s.enum}`];
	switch (s.type) {
		case "array":
			return Array.isArray(value) ? value.flatMap((item, i) => mismatches(item, s.items, `${at}[${i}]`)) : [`${at}: not an array`];
		case "object": {
			if (typeof value !== "object" || value === null) return [`${at}: not an object`];
			const problems = (s.required ?? []).filter((key: string) => !(key in value)).map((key: string) => `${at}.${key}: missing`);
			for (const [key, item] of Object.entries(value)) {
				if (s.properties?.[key]) problems.push(...mismatches(item, s.properties[key], `${at}.${key}`));
				else if (s.additionalProperties === false) problems.push(`${at}.${key}: not documented`);
			}
			return problems;
		}
		case "number":
		case "integer":
			return typeof value === "number" ? [] : [`${at}: not a number`];
		case "string":
			return typeof value === "string" ? [] : [`${at}: not a string`];
		default:
			return [];
	}
}

/** A valid value for a documented parameter or property. */
function example(schema: Schema): unknown {
	if (schema.format === "uuid") return "00000000-0000-4000-8000-000000000000";
	if (schema.type === "number" || schema.type === "integer") return schema.minimum ?? 1;
	if (schema.type === "string") return "example";
	return undefined;
}

describe("GET /openapi.json", () => {
	it("is a valid OpenAPI 3.1 document", async () => {
		const result = await new Validator().validate(structuredClone(document));
		expect(result.errors ?? []).toEqual([]);
		expect(result.valid).toBe(true);
		expect(document.openapi).toBe("3.1.0");
	});

	it("is the document the front end's types are generated from, built without a running system", () => {
		expect(buildGatewayDocument()).toEqual(document);
	});

	it("documents exactly the gateway's /api routes", async () => {
		const documented = Object.entries(document.paths as Record<string, Schema>)
			.flatMap(([path, operations]) => Object.keys(operations).map(method => `${method.toUpperCase()} ${path}`))
			.sort();
		const gateway = system.brokers.api.getLocalService("api") as unknown as { aliases: { method: string; fullPath: string }[] };
		const routed = gateway.aliases
			.filter(alias => alias.fullPath.startsWith("/api/"))
			.map(alias => `${alias.method} ${alias.fullPath.replace(/:(\w+)/g, "{$1}")}`)
			.sort();
		expect(documented).toEqual(routed);
		expect(documented).toEqual([
			"GET /api/accounts/balance",
			"GET /api/accounts/statement",
			"GET /api/admin/dead-events",
			"GET /api/admin/orders/{id}/journey",
			"GET /api/admin/outbox",
			"GET /api/events",
			"GET /api/me",
			"GET /api/orders",
			"GET /api/orders/{id}",
			"GET /api/orders/{id}/journey",
			"POST /api/accounts",
			"POST /api/accounts/topup",
			"POST /api/admin/dead-events/replay",
			"POST /api/orders",
			"POST /api/orders/{id}/cancel"
		]);
	});

	it("documents the input rules from the validation schemas", () => {
		const body = document.paths["/api/orders"].post.requestBody.content["application/json"].schema;
		expect(body).toMatchObject({
			type: "object",
			required: ["amount", "description"],
			additionalProperties: false,
			properties: {
				amount: { type: "number", exclusiveMinimum: 0, maximum: 1_000_000_000, description: expect.stringMatching(/two decimal places/) },
				description: { type: "string", minLength: 1, maxLength: 500 }
			}
		});
		const limit = document.paths["/api/orders"].get.parameters.find((p: Schema) => p.name === "limit");
		expect(limit).toMatchObject({ in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 200, default: 50 } });
	});

	it("answers every documented operation with a documented status and body", async () => {
		const user = `openapi-${Date.now()}`;
		// Operations in an order that makes the happy path reachable: the account first.
		const operations = Object.entries(document.paths as Record<string, Schema>)
			.flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op: op as Schema })))
			.sort((a, b) => (a.path === "/api/accounts" && a.method === "post" ? -1 : b.path === "/api/accounts" && b.method === "post" ? 1 : 0));
		for (const { path, method, op } of operations) {
			const parameters = (op.parameters as Schema[]).map(resolve);
			let url = path;
			const query = new URLSearchParams();
			for (const p of parameters) {
				if (p.in === "path") url = url.replace(`{${p.name}}`, String(example(p.schema)));
				if (p.in === "query" && p.required) query.set(p.name, String(example(p.schema)));
			}
			const bodySchema = op.requestBody?.content["application/json"].schema;
			const body = bodySchema ? Object.fromEntries((bodySchema.required ?? []).map((key: string) => [key, example(bodySchema.properties[key])])) : undefined;
			const abort = new AbortController();
			const response = await fetch(`${system.baseUrl}${url}${query.size ? `?${query}` : ""}`, {
				method: method.toUpperCase(),
				headers: { "X-User-Id": user, ...(body && { "Content-Type": "application/json" }) },
				body: body && JSON.stringify(body),
				signal: abort.signal
			});
			const label = `${method.toUpperCase()} ${url}`;
			expect(Object.keys(op.responses), label).toContain(String(response.status));
			const documented = op.responses[String(response.status)];
			const contentType = Object.keys(documented.content ?? {})[0];
			if (contentType === "text/event-stream") {
				expect(response.headers.get("content-type"), label).toContain("text/event-stream");
				abort.abort();
			} else if (contentType) {
				expect(mismatches(await response.json(), documented.content[contentType].schema), label).toEqual([]);
			}
		}
	});

	it("documents the statuses, the cancel's answers and the statement as they are (issue 18)", async () => {
		const { Order: order, OrderStatus: status, CancelReason: reason } = document.components.schemas;
		expect(order.properties.status).toEqual({ $ref: "#/components/schemas/OrderStatus" });
		expect(status.enum).toEqual(["NEW", "FINISHED", "CANCELLED", "REFUNDED"]);
		expect(reason.enum).toEqual(["INSUFFICIENT_FUNDS", "ACCOUNT_NOT_FOUND", "CANCELLED_BY_USER"]);
		const cancel = document.paths["/api/orders/{id}/cancel"].post;
		expect(Object.keys(cancel.responses)).toEqual(expect.arrayContaining(["200", "202", "404", "409"]));
		expect(cancel.parameters).toContainEqual({ $ref: "#/components/parameters/IdempotencyKey" });

		const user = `openapi-cancel-${Date.now()}`;
		await openAccount(system, user, 10);
		const place = () => placeOrder(system, user, 3, "x");
		const paid = await place();
		await waitForOrderEnd(system, user, paid);
		const answers = [await system.request("POST", `/api/orders/${paid}/cancel`, { user })];
		const refunded = await waitFor("the cancel to end", async () => {
			const { body } = await system.request("GET", `/api/orders/${paid}`, { user });
			return body.status !== "FINISHED" || !body.cancelRequestedAt ? body : null;
		});
		answers.push(await system.request("POST", `/api/orders/${await place()}/cancel`, { user }));
		answers.push(await system.request("POST", `/api/orders/${paid}/cancel`, { user }));
		expect(answers.map(a => a.status)).toEqual([202, expect.any(Number), 409]);
		for (const answer of answers) {
			expect(mismatches(answer.body, cancel.responses[String(answer.status)].content["application/json"].schema), String(answer.status)).toEqual([]);
		}
		expect(mismatches(refunded, order)).toEqual([]);
		const statement = await system.request("GET", "/api/accounts/statement", { user });
		expect(statement.body.movements.length).toBeGreaterThanOrEqual(3);
		const documented = document.paths["/api/accounts/statement"].get.responses["200"].content["application/json"].schema;
		expect(mismatches(statement.body, documented)).toEqual([]);
	});

	it("documents the identity header and its errors on every operation", async () => {
		for (const [path, ops] of Object.entries(document.paths as Record<string, Schema>)) {
			for (const [method, op] of Object.entries(ops)) {
				expect(op.parameters[0], `${method} ${path}`).toEqual({ $ref: "#/components/parameters/UserId" });
				expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["400", "401"]));
			}
		}
		expect((await system.request("GET", "/api/orders")).status).toBe(401);
	});
});

describe("Swagger UI", () => {
	it("is served at /docs and reads /openapi.json", async () => {
		const page = await fetch(`${system.baseUrl}/docs`);
		expect(page.status).toBe(200);
		const html = await page.text();
		// Issue 15: no inline script, so that the page's CSP can forbid them.
		expect(html).not.toMatch(/<script>/);
		let scripts = "";
		for (const asset of html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)) {
			const response = await fetch(`${system.baseUrl}${asset[1]}`);
			expect(response.status, asset[1]).toBe(200);
			if (asset[1].endsWith(".js")) scripts += await response.text();
		}
		expect(scripts).toContain('"/openapi.json"');
		expect((await fetch(`${system.baseUrl}/docs/../../package.json`)).status).toBe(404);
	});
});
