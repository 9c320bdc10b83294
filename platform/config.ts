/**
 * The configuration: every environment variable the running code reads, read and checked once at
 * start and handed out as typed, frozen settings grouped by area. moleculer.config.ts loads it
 * (`configuration()`), the services take their part of it, and the mixins take options: nothing
 * else reads the environment (moleculer-runner reads its own SERVICES and SERVICEDIR).
 *
 * A wrong value stops the start with one line naming the variable and what it accepts; so do
 * settings that contradict each other (an inbox that forgets events its producers may still
 * re-emit, JWT settings the gateway would ignore, two servers on one port).
 */
import type { KeyObject } from "node:crypto";
import path from "node:path";
import { QUEUE_TYPES, type QueueType } from "./amqp-transporter";
import { embeddedDatabase, externalDatabase, type DatabaseLocation } from "./database";
import { publicKey, secretKey } from "./jwt-keys";
import { PROJECT_ROOT } from "./paths";
import { TRACING_EXPORTERS, type TracingExporter } from "./tracing";
import { checkRetryPolicy, type OutboxOptions } from "../mixins/outbox.mixin";
import type { RetentionOptions } from "../mixins/retention.mixin";
import type { EventDrivenServiceOptions } from "../mixins/event-driven.mixins";
import { USER_ID_PATTERN } from "./identity";

/**
 * Every variable read, with the value it takes when unset or empty, written as it would be set
 * (null: none, or one derived from other settings). The README's configuration table and
 * docker-compose.yml are checked against this list (test/unit/deployment.spec.ts).
 */
export const CONFIGURATION_VARIABLES = Object.freeze({
	// Gateway
	PORT: "3000",
	RATE_LIMIT_PER_MINUTE: "600",
	GATEWAY_MAX_CONNECTIONS: "4096",
	GATEWAY_CALL_TIMEOUT_MS: "10000",
	EVENT_STREAMS_PER_USER: "10",
	EVENT_STREAMS_MAX: "1000",
	// Authentication
	AUTH_MODE: "header",
	ADMIN_USER_IDS: null,
	JWT_SECRET: null,
	JWT_PUBLIC_KEY: null,
	JWT_ALGORITHM: null,
	JWT_ISSUER: null,
	JWT_AUDIENCE: null,
	JWT_MAX_TOKEN_LIFETIME_SECONDS: "86400",
	JWT_ROLE_CLAIM: "roles",
	JWT_ADMIN_ROLE: "admin",
	// Transport and broker
	TRANSPORTER: null,
	AMQP_QUEUE_EXPIRY_MS: "86400000",
	AMQP_QUEUE_TYPE: "classic",
	NAMESPACE: null,
	NODE_ID: null,
	GRACEFUL_STOP_TIMEOUT_MS: "30000",
	HEALTH_PORT: null,
	METRICS_PORT: null,
	// Logging and tracing
	LOGLEVEL: "info",
	LOG_FORMAT: null,
	NODE_ENV: null,
	TRACING_EXPORTER: null,
	TRACING_URL: null,
	TRACING_SAMPLING_RATE: "1",
	FAULT_INJECTION: null,
	// Databases
	ORDERS_DATABASE_URL: null,
	PAYMENTS_DATABASE_URL: null,
	EMBEDDED_POSTGRES_DIR: ".data/postgres",
	EMBEDDED_POSTGRES_PORT: "5439",
	DATABASE_POOL_MAX: "10",
	// Outbox, retention, reconciler
	OUTBOX_POLL_INTERVAL_MS: "1000",
	OUTBOX_BATCH_SIZE: "100",
	OUTBOX_RETRY_BASE_MS: "1000",
	OUTBOX_RETRY_MAX_MS: "60000",
	OUTBOX_MAX_FAILURES: "10",
	OUTBOX_PARK_MIN_AGE_SECONDS: "900",
	OUTBOX_MAX_AGE_HOURS: "72",
	OUTBOX_RETENTION_HOURS: "24",
	INBOX_RETENTION_HOURS: "168",
	IDEMPOTENCY_KEY_RETENTION_HOURS: "24",
	MAINTENANCE_INTERVAL_MS: "60000",
	RECONCILE_INTERVAL_MS: "30000",
	RECONCILE_AFTER_SECONDS: "300"
} as const satisfies Record<string, string | null>);

export type VariableName = keyof typeof CONFIGURATION_VARIABLES;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
const AUTH_MODES = ["header", "jwt"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** How long a stop waits for requests in flight (Moleculer's request tracking). */
export const REQUEST_DRAIN_TIMEOUT_MS = 10_000;
const HOUR_MS = 3_600_000;
/** A leaked token is valid this long at most. */
const MAX_TOKEN_LIFETIME_LIMIT_SECONDS = 30 * 86_400;
/** Claims with a meaning of their own (RFC 7519 §4.1): none of them can name roles. */
const REGISTERED_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

export interface JwtSettings {
	/** The one algorithm tokens may use. */
	algorithm: string;
	key: KeyObject;
	issuer: string | null;
	audience: string | null;
	maxTokenLifetimeSeconds: number;
	/** The claim that names a caller's roles, and the role in it that makes an operator. */
	roleClaim: string;
	adminRole: string;
}

export interface AuthenticationSettings {
	mode: AuthMode;
	/** The operators in header mode (ignored, with a warning, in JWT mode). */
	adminUserIds: readonly string[];
	/** Set in JWT mode only. */
	jwt: JwtSettings | null;
}

export interface GatewaySettings {
	port: number;
	/** 0: no limit. */
	rateLimitPerMinute: number;
	maxConnections: number;
	callTimeoutMs: number;
	eventStreams: { perUser: number; total: number };
}

export interface TracingSettings {
	/** Null: no tracing. */
	exporter: TracingExporter | null;
	/** Where zipkin and jaeger send spans (no trailing slash). */
	url: string | null;
	samplingRate: number;
}

export interface FaultRates {
	drop: number;
	duplicate: number;
}

export interface Configuration {
	gateway: GatewaySettings;
	authentication: AuthenticationSettings;
	transport: { url: string | null; amqpQueueExpiryMs: number; amqpQueueType: QueueType };
	broker: { namespace: string; nodeId: string | null; gracefulStopTimeoutMs: number; healthPort: number | null; metricsPort: number | null };
	logging: { level: (typeof LOG_LEVELS)[number]; format: "json" | "text" };
	tracing: TracingSettings;
	/** The fault suite's injected losses and duplicates; null: none. */
	faultInjection: FaultRates | null;
	database: { orders: DatabaseLocation; payments: DatabaseLocation; poolMax: number };
	outbox: OutboxOptions;
	retention: RetentionOptions;
	reconciler: ReconcilerSettings;
}

/** When the orders reconciler runs and which orders it takes (services/orders/orders.reconciler.ts). */
export interface ReconcilerSettings {
	/** How often a round runs, on one instance of the service per interval. */
	intervalMs: number;
	/** How long an order may stay NEW before the reconciler looks at it. */
	overdueAfterMs: number;
}

/** Read-only all the way down, as `deepFreeze` makes it at run time. */
export type Frozen<T> = T extends KeyObject ? T : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

/** Freezes plain objects and arrays all the way down (a KeyObject is immutable already). */
function deepFreeze<T>(value: T): Frozen<T> {
	if (value !== null && typeof value === "object" && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)) {
		for (const inner of Object.values(value)) deepFreeze(inner);
		Object.freeze(value);
	}
	return value as Frozen<T>;
}

/** Reads the variables of `env`; an empty value counts as unset (docker-compose.yml passes some through empty). */
function variableReader(env: NodeJS.ProcessEnv) {
	const isSet = (name: VariableName) => (env[name] ?? "") !== "";
	const text = (name: VariableName): string | null => (isSet(name) ? env[name]! : CONFIGURATION_VARIABLES[name]);
	const integer = (name: VariableName, min: number, accepted: string, max = Number.MAX_SAFE_INTEGER): number | null => {
		const raw = text(name);
		if (raw === null) return null;
		const value = Number(raw);
		if (!/^\s*\d+\s*$/.test(raw) || value < min || value > max) throw new Error(`${name} must be ${accepted}, not "${raw}".`);
		return value;
	};
	return {
		isSet,
		text,
		/** Of a variable with a default. */
		positiveInteger: (name: VariableName) => integer(name, 1, "a positive integer")!,
		wholeNumber: (name: VariableName, accepted: string) => integer(name, 0, accepted)!,
		port: (name: VariableName) => integer(name, 1, "a port number from 1 to 65535", 65_535),
		oneOf<T extends string>(name: VariableName, allowed: readonly T[], fallback?: T, unset = ""): T {
			const raw = text(name) ?? fallback;
			if (raw === undefined || !allowed.includes(raw as T)) throw new Error(`${name} must be one of ${allowed.join(", ")}${unset}, not "${raw ?? ""}".`);
			return raw as T;
		}
	};
}
type VariableReader = ReturnType<typeof variableReader>;

function gatewaySettings(read: VariableReader): GatewaySettings {
	return {
		port: read.port("PORT")!,
		rateLimitPerMinute: read.wholeNumber("RATE_LIMIT_PER_MINUTE", "a whole number (0: no limit)"),
		maxConnections: read.positiveInteger("GATEWAY_MAX_CONNECTIONS"),
		callTimeoutMs: read.positiveInteger("GATEWAY_CALL_TIMEOUT_MS"),
		eventStreams: { perUser: read.positiveInteger("EVENT_STREAMS_PER_USER"), total: read.positiveInteger("EVENT_STREAMS_MAX") }
	};
}

/** `ADMIN_USER_IDS`: comma-separated user ids, spaces around them ignored; a typo must not silently leave an operator out (or in). */
function adminUserIds(raw: string | null): string[] {
	const trimmed = raw?.trim() ?? "";
	if (trimmed === "") return [];
	const ids = trimmed.split(",").map(id => id.trim());
	const invalid = ids.find(id => !USER_ID_PATTERN.test(id));
	if (invalid !== undefined) {
		throw new Error(`ADMIN_USER_IDS must be comma-separated user ids (1-64 characters of A-Z a-z 0-9 . _ : @ -); "${invalid.slice(0, 80)}" is not one.`);
	}
	return ids;
}

const JWT_VARIABLES = ["JWT_SECRET", "JWT_PUBLIC_KEY", "JWT_ALGORITHM", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_MAX_TOKEN_LIFETIME_SECONDS", "JWT_ROLE_CLAIM", "JWT_ADMIN_ROLE"] as const;

/** Services/api/authentication.ts says what each mode does. */
function authenticationSettings(read: VariableReader): AuthenticationSettings {
	const mode = read.oneOf("AUTH_MODE", AUTH_MODES);
	const operators = adminUserIds(read.text("ADMIN_USER_IDS"));
	if (mode === "header") {
		// Whoever set one meant tokens to be checked: header mode would trust any X-User-Id instead.
		const ignored = JWT_VARIABLES.find(read.isSet);
		if (ignored) throw new Error(`${ignored} is set, but AUTH_MODE=header ignores it and trusts the X-User-Id header: set AUTH_MODE=jwt, or unset ${ignored}.`);
		return { mode, adminUserIds: operators, jwt: null };
	}
	const secret = read.text("JWT_SECRET");
	const pem = read.text("JWT_PUBLIC_KEY");
	if ((secret === null) === (pem === null)) throw new Error("AUTH_MODE=jwt needs exactly one of JWT_SECRET and JWT_PUBLIC_KEY.");
	const algorithm = read.text("JWT_ALGORITHM") ?? (secret ? "HS256" : "RS256");
	const key = secret ? secretKey(secret, algorithm) : publicKey(pem!, algorithm);
	const maxTokenLifetimeSeconds = read.positiveInteger("JWT_MAX_TOKEN_LIFETIME_SECONDS");
	if (maxTokenLifetimeSeconds > MAX_TOKEN_LIFETIME_LIMIT_SECONDS) {
		throw new Error(`JWT_MAX_TOKEN_LIFETIME_SECONDS may be ${MAX_TOKEN_LIFETIME_LIMIT_SECONDS} (30 days) at most: a leaked token is valid that long.`);
	}
	const roleClaim = read.text("JWT_ROLE_CLAIM")!;
	if (REGISTERED_CLAIMS.includes(roleClaim)) {
		throw new Error(`JWT_ROLE_CLAIM must name a claim of its own, not "${roleClaim}" (one of ${REGISTERED_CLAIMS.join(", ")}, whose meaning is fixed).`);
	}
	return {
		mode,
		adminUserIds: operators,
		jwt: { algorithm, key, issuer: read.text("JWT_ISSUER"), audience: read.text("JWT_AUDIENCE"), maxTokenLifetimeSeconds, roleClaim, adminRole: read.text("JWT_ADMIN_ROLE")! }
	};
}

/** A URL's protocol, or "" for no URL. */
function urlProtocol(raw: string | null): string {
	try {
		return raw === null ? "" : new URL(raw).protocol;
	} catch {
		return "";
	}
}

const TRACING_URL_EXAMPLES: Partial<Record<TracingExporter, string>> = { zipkin: "http://zipkin:9411", jaeger: "http://jaeger:14268/api/traces" };

function tracingSettings(read: VariableReader): TracingSettings {
	const exporter = read.isSet("TRACING_EXPORTER") ? read.oneOf("TRACING_EXPORTER", TRACING_EXPORTERS, undefined, " (or unset: no tracing)") : null;
	const rawRate = read.text("TRACING_SAMPLING_RATE")!;
	const samplingRate = Number(rawRate);
	if (rawRate.trim() === "" || !Number.isFinite(samplingRate) || samplingRate < 0 || samplingRate > 1) {
		throw new Error(`TRACING_SAMPLING_RATE must be a number from 0 to 1, not "${rawRate}".`);
	}
	const rawUrl = read.text("TRACING_URL");
	const example = exporter === null ? undefined : TRACING_URL_EXAMPLES[exporter];
	if (example === undefined) {
		if (rawUrl !== null) throw new Error(`TRACING_URL is set, but only TRACING_EXPORTER=zipkin or jaeger sends spans to it (TRACING_EXPORTER is "${exporter ?? ""}").`);
		return { exporter, url: null, samplingRate };
	}
	if (!["http:", "https:"].includes(urlProtocol(rawUrl))) {
		throw new Error(`TRACING_EXPORTER=${exporter} needs TRACING_URL, an http(s) URL such as ${example}${rawUrl ? `, not "${rawUrl}"` : ""}.`);
	}
	return { exporter, url: rawUrl!.replace(/\/+$/, ""), samplingRate };
}

/** `FAULT_INJECTION="drop=0.05,duplicate=0.05"`: tools/fault-injection.ts. */
function faultRates(spec: string | null): FaultRates | null {
	if (spec === null) return null;
	const rates: FaultRates = { drop: 0, duplicate: 0 };
	for (const part of spec.split(",").filter(Boolean)) {
		const [name, value] = part.split("=");
		const rate = Number(value);
		if ((name !== "drop" && name !== "duplicate") || !(rate >= 0 && rate <= 1)) {
			throw new Error(`FAULT_INJECTION must be "drop=<0..1>,duplicate=<0..1>", not "${spec}".`);
		}
		rates[name] = rate;
	}
	return rates;
}

const DATABASE_URL_PROTOCOLS = ["postgres:", "postgresql:", "socket:"];

function databaseSettings(read: VariableReader): Configuration["database"] {
	const embedded = { dataDir: path.resolve(PROJECT_ROOT, read.text("EMBEDDED_POSTGRES_DIR")!), port: read.port("EMBEDDED_POSTGRES_PORT")! };
	const location = (name: VariableName, service: string): DatabaseLocation => {
		const url = read.text(name);
		if (url === null) return embeddedDatabase(service, embedded);
		if (!DATABASE_URL_PROTOCOLS.includes(urlProtocol(url))) throw new Error(`${name} must be a postgres:// URL, not "${url}".`);
		return externalDatabase(url);
	};
	return { orders: location("ORDERS_DATABASE_URL", "orders"), payments: location("PAYMENTS_DATABASE_URL", "payments"), poolMax: read.positiveInteger("DATABASE_POOL_MAX") };
}

function outboxOptions(read: VariableReader): OutboxOptions {
	const options = {
		pollIntervalMs: read.positiveInteger("OUTBOX_POLL_INTERVAL_MS"),
		batchSize: read.positiveInteger("OUTBOX_BATCH_SIZE"),
		retry: { baseMs: read.positiveInteger("OUTBOX_RETRY_BASE_MS"), maxMs: read.positiveInteger("OUTBOX_RETRY_MAX_MS") },
		parking: { maxFailures: read.positiveInteger("OUTBOX_MAX_FAILURES"), minAgeMs: read.positiveInteger("OUTBOX_PARK_MIN_AGE_SECONDS") * 1000 }
	};
	checkRetryPolicy(options.retry, { baseMs: "OUTBOX_RETRY_BASE_MS", maxMs: "OUTBOX_RETRY_MAX_MS" });
	return options;
}

function retentionOptions(read: VariableReader, outbox: OutboxOptions): RetentionOptions {
	const options = {
		intervalMs: read.positiveInteger("MAINTENANCE_INTERVAL_MS"),
		batchSize: 1000,
		confirmedOutboxMs: read.positiveInteger("OUTBOX_RETENTION_HOURS") * HOUR_MS,
		redeliveryHorizonMs: read.positiveInteger("OUTBOX_MAX_AGE_HOURS") * HOUR_MS,
		inboxMs: read.positiveInteger("INBOX_RETENTION_HOURS") * HOUR_MS,
		idempotencyKeysMs: read.positiveInteger("IDEMPOTENCY_KEY_RETENTION_HOURS") * HOUR_MS
	};
	// A producer re-emits an unconfirmed event until the horizon, plus one last retry delay in flight.
	if (options.inboxMs <= options.redeliveryHorizonMs + outbox.retry.maxMs) {
		throw new Error(
			"INBOX_RETENTION_HOURS must exceed OUTBOX_MAX_AGE_HOURS (plus OUTBOX_RETRY_MAX_MS): an inbox that forgets an event before its producer stops re-emitting it would apply it twice."
		);
	}
	return options;
}

/** The ports this process listens on must differ: each is a server of its own. */
function checkDistinctPorts(ports: readonly (readonly [VariableName, number | null])[]): void {
	const inUse = ports.filter((entry): entry is readonly [VariableName, number] => entry[1] !== null);
	inUse.forEach(([name, port], index) => {
		const earlier = inUse.slice(0, index).find(([, other]) => other === port);
		if (earlier) throw new Error(`${name} must differ from ${earlier[0]} (both are ${port}): each is a server of its own.`);
	});
}

/** Reads and checks the configuration in `env`; throws an error with one line naming the variable. */
export function loadConfiguration(env: NodeJS.ProcessEnv): Frozen<Configuration> {
	const read = variableReader(env);
	const gateway = gatewaySettings(read);
	const broker = {
		namespace: read.text("NAMESPACE") ?? "",
		nodeId: read.text("NODE_ID"),
		gracefulStopTimeoutMs: read.positiveInteger("GRACEFUL_STOP_TIMEOUT_MS"),
		healthPort: read.port("HEALTH_PORT"),
		metricsPort: read.port("METRICS_PORT")
	};
	if (broker.gracefulStopTimeoutMs <= REQUEST_DRAIN_TIMEOUT_MS) {
		throw new Error(`GRACEFUL_STOP_TIMEOUT_MS must exceed ${REQUEST_DRAIN_TIMEOUT_MS}: a graceful stop first waits that long for requests in flight.`);
	}
	const database = databaseSettings(read);
	const embeddedPort = [database.orders, database.payments].find(location => location.embedded)?.embedded?.port ?? null;
	checkDistinctPorts([
		["PORT", gateway.port],
		["HEALTH_PORT", broker.healthPort],
		["METRICS_PORT", broker.metricsPort],
		["EMBEDDED_POSTGRES_PORT", embeddedPort]
	]);
	const outbox = outboxOptions(read);
	return deepFreeze({
		gateway,
		authentication: authenticationSettings(read),
		transport: { url: read.text("TRANSPORTER"), amqpQueueExpiryMs: read.positiveInteger("AMQP_QUEUE_EXPIRY_MS"), amqpQueueType: read.oneOf("AMQP_QUEUE_TYPE", QUEUE_TYPES) },
		broker,
		logging: {
			level: read.oneOf("LOGLEVEL", LOG_LEVELS),
			format: read.oneOf("LOG_FORMAT", ["json", "text"] as const, read.text("NODE_ENV") === "production" ? "json" : "text")
		},
		tracing: tracingSettings(read),
		faultInjection: faultRates(read.text("FAULT_INJECTION")),
		database,
		outbox,
		retention: retentionOptions(read, outbox),
		reconciler: {
			intervalMs: read.positiveInteger("RECONCILE_INTERVAL_MS"),
			overdueAfterMs: read.positiveInteger("RECONCILE_AFTER_SECONDS") * 1000
		}
	});
}

let loaded: Frozen<Configuration> | undefined;

/** This process's configuration, read from its environment on first use. */
export function configuration(): Frozen<Configuration> {
	return (loaded ??= loadConfiguration(process.env));
}

/** A test's replacements for a service's configured database, outbox and retention. */
export interface EventDrivenOverrides {
	databaseUrl?: string;
	outbox?: OutboxOptions;
	retention?: RetentionOptions;
}

/** What the event-driven mixins of `service` take besides its migrations: the configuration's settings, or a test's. */
export function eventDrivenSettings(service: "orders" | "payments", overrides: EventDrivenOverrides): Omit<EventDrivenServiceOptions, "migrations"> {
	const { database, outbox, retention } = configuration();
	return {
		database: overrides.databaseUrl ? externalDatabase(overrides.databaseUrl) : database[service],
		poolMax: database.poolMax,
		outbox: overrides.outbox ?? outbox,
		retention: overrides.retention ?? retention
	};
}
