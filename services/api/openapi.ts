/**
 * The gateway's OpenAPI 3 document, generated at request time from what the services declare:
 * each action's `rest` route, its fastest-validator `params` (the single source of truth for
 * input) and its `openapi` note (summary, responses). Nothing here lists routes or fields by
 * hand, so the document cannot drift from the code; only the response body shapes are written
 * out, and the OpenAPI test checks real responses against them. The front end's API types are
 * generated from this document (tools/api-types.ts).
 */
import { USER_ID_PATTERN } from "../../platform/identity";
import { ORDER_STATUSES } from "../orders/contracts";
import { JOURNEY_STEPS } from "../orders/order-journey";
import { CANCEL_REASONS } from "../payments/contracts";
import { OUTBOX_SERVICES } from "./api.operator";

export type ResponseSchemaName = "Order" | "OrderList" | "Account" | "Statement" | "Me" | "Journey" | "OutboxOverview" | "DeadEventList" | "ReplayResult";

export interface OpenApiOperationDoc {
	summary: string;
	/** Status → description, success and action-specific errors alike. */
	responses: Record<number, string>;
	/** The success body, one of the component schemas below. */
	body?: ResponseSchemaName;
	/** The operation honours an Idempotency-Key header. */
	idempotent?: boolean;
	/** The success body is an event stream rather than JSON. */
	eventStream?: boolean;
}

/** An action as the registry lists it (remote ones included). */
export interface ActionInfo {
	name: string;
	rest?: string | { method?: string; path?: string } | null;
	params?: Record<string, unknown>;
	openapi?: OpenApiOperationDoc;
}

export interface ServiceInfo {
	name: string;
	settings?: { rest?: string };
	actions?: Record<string, ActionInfo>;
}

/** A gateway route with generated aliases: its path, which actions it lets through, and whether it is for operators only. */
export interface OpenApiRoute {
	path: string;
	includes(actionName: string): boolean;
	operator?: boolean;
}

type JsonSchema = Record<string, unknown>;

/** One fastest-validator rule (shorthand string or object) as JSON Schema. */
export function ruleToJsonSchema(rule: unknown): { schema: JsonSchema; optional: boolean } {
	if (typeof rule === "string") {
		const [type, ...flags] = rule.split("|");
		return { schema: ruleToJsonSchema({ type }).schema, optional: flags.includes("optional") };
	}
	const r = (rule ?? {}) as Record<string, unknown> & { props?: Record<string, unknown> };
	const optional = r.optional === true || r.default !== undefined;
	const base: JsonSchema = { ...(r.default !== undefined && { default: r.default }), ...(typeof r.description === "string" && { description: r.description }) };
	switch (r.type) {
		case "string":
			return { optional, schema: { ...base, type: "string", ...(r.min !== undefined && { minLength: r.min }), ...(r.max !== undefined && { maxLength: r.max }) } };
		case "uuid":
			return { optional, schema: { ...base, type: "string", format: "uuid" } };
		case "number": {
			const schema: JsonSchema = { ...base, type: r.integer ? "integer" : "number" };
			if (r.positive) schema.exclusiveMinimum = 0;
			if (r.min !== undefined) schema.minimum = r.min;
			if (r.max !== undefined) schema.maximum = r.max;
			return { optional, schema };
		}
		case "enum":
			return { optional, schema: { ...base, enum: r.values } };
		case "array":
			return { optional, schema: { ...base, type: "array", items: ruleToJsonSchema(r.items).schema, ...(r.max !== undefined && { maxItems: r.max }) } };
		case "object":
			return { optional, schema: { ...base, ...paramsToJsonSchema(r.props ?? {}, r.strict === true) } };
		default:
			return { optional, schema: base };
	}
}

/** An action's `params` as an object schema; `$$strict` forbids other properties. */
export function paramsToJsonSchema(params: Record<string, unknown>, strict = params.$$strict === true): JsonSchema {
	const properties: Record<string, JsonSchema> = {};
	const required: string[] = [];
	for (const [name, rule] of Object.entries(params)) {
		if (name.startsWith("$$")) continue;
		const { schema, optional } = ruleToJsonSchema(rule);
		properties[name] = schema;
		if (!optional) required.push(name);
	}
	return { type: "object", properties, ...(required.length > 0 && { required }), ...(strict && { additionalProperties: false }) };
}

function parseRest(rest: ActionInfo["rest"]): { method: string; path: string } | null {
	if (!rest) return null;
	if (typeof rest === "string") {
		const [method, path] = rest.includes(" ") ? rest.split(" ") : ["*", rest];
		return { method: method.toLowerCase(), path };
	}
	return { method: (rest.method ?? "*").toLowerCase(), path: rest.path ?? "/" };
}

function joinPath(...parts: string[]): string {
	return ("/" + parts.join("/")).replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
}

const ERROR_RESPONSE = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };

const COMPONENTS = {
	schemas: {
		Error: {
			type: "object",
			required: ["name", "message", "code"],
			properties: { name: { type: "string" }, message: { type: "string" }, code: { type: "integer" }, type: { type: "string" }, data: {} }
		},
		ValidationError: {
			type: "object",
			description: "moleculer-web's ValidationError: each failing field in data",
			required: ["name", "message", "code", "type", "data"],
			properties: {
				name: { type: "string" },
				message: { type: "string" },
				code: { type: "integer" },
				type: { type: "string" },
				data: { type: "array", items: { $ref: "#/components/schemas/FieldError" } }
			}
		},
		FieldError: {
			type: "object",
			description: "One failing field (fastest-validator's error)",
			required: ["type", "message", "field"],
			properties: { type: { type: "string", description: "The rule that failed, such as numberPositive" }, message: { type: "string" }, field: { type: "string" } }
		},
		Account: {
			type: "object",
			required: ["userId", "balance", "createdAt", "updatedAt"],
			additionalProperties: false,
			properties: {
				userId: { type: "string" },
				balance: { type: "number", description: "At most two decimal places." },
				createdAt: { type: "string", format: "date-time" },
				updatedAt: { type: "string", format: "date-time" }
			}
		},
		OrderStatus: {
			type: "string",
			enum: [...ORDER_STATUSES],
			description: "NEW → FINISHED (paid) or CANCELLED (refused, or cancelled by you); FINISHED → REFUNDED (cancelled by you, money back)"
		},
		CancelReason: { type: "string", enum: Object.values(CANCEL_REASONS), description: "Why a CANCELLED order was cancelled" },
		Order: {
			type: "object",
			required: ["id", "userId", "amount", "description", "status", "createdAt", "updatedAt"],
			additionalProperties: false,
			properties: {
				id: { type: "string", format: "uuid" },
				userId: { type: "string" },
				amount: { type: "number", description: "At most two decimal places." },
				description: { type: "string" },
				status: { $ref: "#/components/schemas/OrderStatus" },
				cancelReason: { $ref: "#/components/schemas/CancelReason" },
				cancelRequestedAt: { type: "string", format: "date-time", description: "When you asked to cancel it" },
				refundedAt: { type: "string", format: "date-time", description: "When its money went back to your account" },
				createdAt: { type: "string", format: "date-time" },
				updatedAt: { type: "string", format: "date-time" }
			}
		},
		OrderList: { type: "array", items: { $ref: "#/components/schemas/Order" } },
		Statement: {
			type: "object",
			required: ["balance", "total", "limit", "offset", "movements"],
			additionalProperties: false,
			properties: {
				balance: { type: "number", description: "Your balance now: the sum of all your movements. At most two decimal places." },
				total: { type: "integer", description: "How many movements your account has in all" },
				limit: { type: "integer" },
				offset: { type: "integer" },
				movements: {
					type: "array",
					description: "Newest first",
					items: {
						type: "object",
						required: ["kind", "amount", "balanceAfter", "at"],
						additionalProperties: false,
						properties: {
							kind: { enum: ["TOPUP", "PAYMENT", "REFUND", "OPENING"], description: "OPENING: a balance from before the statement existed that its records could not explain" },
							amount: { type: "number", description: "Signed: a payment is negative. At most two decimal places." },
							balanceAfter: { type: "number", description: "The balance this movement left" },
							at: { type: "string", format: "date-time" },
							orderId: { type: "string", format: "uuid", description: "The order a payment or refund is for" }
						}
					}
				}
			}
		},
		Me: {
			type: "object",
			required: ["userId", "operator"],
			additionalProperties: false,
			properties: { userId: { type: "string" }, operator: { type: "boolean", description: "Whether you may use the /api/admin routes" } }
		},
		JourneyStep: { type: "string", enum: [...JOURNEY_STEPS], description: "A step of an order's way through the services, in the order they happen" },
		JourneyHop: {
			type: "object",
			required: ["step", "service", "at", "tookMs"],
			additionalProperties: false,
			properties: {
				step: { $ref: "#/components/schemas/JourneyStep" },
				service: { $ref: "#/components/schemas/OutboxService" },
				at: { type: "string", format: "date-time" },
				tookMs: { type: "number", description: "Since the hop before (0 for the first)" },
				detail: { type: "string", description: 'Such as "PAID", "REFUSED: INSUFFICIENT_FUNDS", "emitted 3 times"' }
			}
		},
		Journey: {
			type: "object",
			required: ["order", "traceId", "hops"],
			additionalProperties: false,
			properties: {
				order: { $ref: "#/components/schemas/Order" },
				traceId: { type: ["string", "null"] },
				hops: {
					type: "array",
					description: "In time order; only the hops that happened (rows past retention are missing)",
					items: { $ref: "#/components/schemas/JourneyHop" }
				},
				pending: {
					type: "object",
					description: "While the order is NEW: the step it waits for, and why",
					required: ["step", "since"],
					additionalProperties: false,
					properties: { step: { $ref: "#/components/schemas/JourneyStep" }, since: { type: "string", format: "date-time" }, why: { type: "string" } }
				}
			}
		},
		OutboxService: { type: "string", enum: [...OUTBOX_SERVICES], description: "A service with an outbox" },
		ActivityBucket: {
			type: "object",
			description: "One 10-second interval of a service's outbox activity, summed over its instances",
			required: ["at", "emitted", "reemitted", "confirmed", "dead", "reconciled"],
			additionalProperties: false,
			properties: {
				at: { type: "string", format: "date-time", description: "The interval's start" },
				emitted: { type: "integer" },
				reemitted: { type: "integer" },
				confirmed: { type: "integer" },
				dead: { type: "integer" },
				reconciled: { type: "integer" }
			}
		},
		ServiceOps: {
			type: "object",
			description: "A service's outbox as operators see it",
			required: ["service", "available", "pending", "oldestPendingAgeSeconds", "dead", "activity"],
			additionalProperties: false,
			properties: {
				service: { $ref: "#/components/schemas/OutboxService" },
				available: { type: "boolean", description: "False when no instance is up (then the figures are zeros)" },
				pending: { type: "integer" },
				oldestPendingAgeSeconds: { type: "number", description: "0 when nothing is pending" },
				dead: { type: "integer" },
				activity: { type: "array", description: "The last 10 minutes, oldest first", items: { $ref: "#/components/schemas/ActivityBucket" } }
			}
		},
		OutboxOverview: {
			type: "object",
			required: ["bucketSeconds", "services"],
			additionalProperties: false,
			properties: { bucketSeconds: { type: "integer" }, services: { type: "array", items: { $ref: "#/components/schemas/ServiceOps" } } }
		},
		DeadEvent: {
			type: "object",
			description: "An event its consumer kept failing to apply, parked until an operator replays it",
			required: ["service", "id", "eventName", "targetGroup", "orderId", "attempts", "failures", "lastError", "createdAt", "deadAt"],
			additionalProperties: false,
			properties: {
				service: { $ref: "#/components/schemas/OutboxService" },
				id: { type: "string", format: "uuid" },
				eventName: { type: "string" },
				targetGroup: { type: "string" },
				orderId: { type: ["string", "null"] },
				attempts: { type: "integer" },
				failures: { type: "integer" },
				lastError: { type: ["string", "null"] },
				createdAt: { type: "string", format: "date-time" },
				deadAt: { type: "string", format: "date-time" }
			}
		},
		DeadEventList: {
			type: "object",
			required: ["events", "unavailable"],
			additionalProperties: false,
			properties: {
				unavailable: {
					type: "array",
					items: { $ref: "#/components/schemas/OutboxService" },
					description: "Services whose dead events could not be listed (no instance up, or its database failing); their events are missing from the list"
				},
				events: { type: "array", items: { $ref: "#/components/schemas/DeadEvent" } }
			}
		},
		ReplayResult: {
			type: "object",
			required: ["service", "replayed"],
			additionalProperties: false,
			properties: {
				service: { $ref: "#/components/schemas/OutboxService" },
				replayed: { type: "array", description: "The ids actually revived; one no longer dead is left out", items: { type: "string", format: "uuid" } }
			}
		}
	},
	parameters: {
		UserId: {
			name: "X-User-Id",
			in: "header",
			required: true,
			description: "Who is calling: 1-64 characters of A-Z a-z 0-9 . _ : @ -",
			schema: { type: "string", pattern: USER_ID_PATTERN.source }
		},
		IdempotencyKey: {
			name: "Idempotency-Key",
			in: "header",
			required: false,
			description: "A retry with the same key (same user) returns the first response and changes nothing more.",
			schema: { type: "string", minLength: 1, maxLength: 255 }
		}
	}
};

function operation(action: ActionInfo, method: string, path: string, auth: "header" | "jwt", operator: boolean): Record<string, unknown> {
	const doc = action.openapi!;
	const params = action.params ?? {};
	const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map(m => m[1]);
	const parameters: unknown[] = auth === "header" ? [{ $ref: "#/components/parameters/UserId" }] : [];
	if (doc.idempotent) parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });
	const bodyParams: Record<string, unknown> = { $$strict: params.$$strict };
	for (const [name, rule] of Object.entries(params)) {
		if (name.startsWith("$$")) continue;
		const { schema, optional } = ruleToJsonSchema(rule);
		if (pathParams.includes(name)) parameters.push({ name, in: "path", required: true, schema });
		else if (method === "get") parameters.push({ name, in: "query", required: !optional, schema });
		else bodyParams[name] = rule;
	}
	const responses: Record<string, unknown> = {};
	for (const [status, description] of Object.entries(doc.responses)) {
		const success = Number(status) < 400;
		const content = success
			? doc.eventStream
				? { "text/event-stream": { schema: { type: "string" } } }
				: doc.body && { "application/json": { schema: { $ref: `#/components/schemas/${doc.body}` } } }
			: ERROR_RESPONSE.content;
		responses[status] = { description, ...(content && { content }) };
	}
	responses["400"] ??= { description: "Malformed X-User-Id header or request", ...ERROR_RESPONSE };
	responses["401"] ??= { description: auth === "header" ? "No X-User-Id header" : "No valid bearer token", ...ERROR_RESPONSE };
	if (operator) responses["403"] ??= { description: "You are not an operator", ...ERROR_RESPONSE };
	responses["429"] ??= { description: "Too many requests from this caller; retry after the minute", ...ERROR_RESPONSE };
	if (Object.keys(params).some(name => !name.startsWith("$$")) || method !== "get") {
		responses["422"] ??= {
			description: "Invalid parameters (moleculer-web's ValidationError, with the failing fields in data)",
			content: { "application/json": { schema: { $ref: "#/components/schemas/ValidationError" } } }
		};
	}
	if (doc.idempotent) responses["409"] ??= { description: "A request with this Idempotency-Key is still in progress; retry it shortly with the same key", ...ERROR_RESPONSE };
	// Any operation may meet an outage (services/api/public-errors.ts): said so, never how.
	responses["500"] ??= { description: "A fault on the server", ...ERROR_RESPONSE };
	responses["503"] ??= { description: "A service or its database is unavailable for the moment (Retry-After); retry shortly", ...ERROR_RESPONSE };
	responses["504"] ??= { description: "A service did not answer in time: the request may have been carried out (retry with the same Idempotency-Key)", ...ERROR_RESPONSE };
	return {
		operationId: action.name,
		...(auth === "jwt" && { security: [{ bearerAuth: [] }] }),
		summary: doc.summary,
		parameters,
		...(method !== "get" && { requestBody: { required: true, content: { "application/json": { schema: paramsToJsonSchema(bodyParams) } } } }),
		responses
	};
}

/** The document for every documented REST action of the given services, under each route that lets it through. */
export function buildOpenApiDocument(services: ServiceInfo[], routes: OpenApiRoute[], auth: "header" | "jwt" = "header", version = "1.0.0"): Record<string, unknown> {
	const paths: Record<string, Record<string, unknown>> = {};
	for (const route of routes) {
		for (const service of services) {
			const base = service.settings?.rest ?? service.name;
			for (const action of Object.values(service.actions ?? {})) {
				const rest = parseRest(action.rest);
				if (!rest || !action.openapi || !route.includes(action.name)) continue;
				const path = joinPath(route.path, base, rest.path).replace(/:(\w+)/g, "{$1}");
				(paths[path] ??= {})[rest.method] = operation(action, rest.method, path, auth, route.operator === true);
			}
		}
	}
	const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
	return {
		openapi: "3.1.0",
		info: {
			title: "Orders & Payments API",
			version,
			description: "Take an order, charge an account, never lose or double-charge anything. Amounts are numbers with at most two decimals."
		},
		paths: sortedPaths,
		components: auth === "jwt" ? { ...COMPONENTS, securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } } : COMPONENTS
	};
}
