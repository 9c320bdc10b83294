/**
 * The configuration (platform/config.ts, issue 17): every variable checked, the settings that can
 * contradict each other refused together, each refusal one line naming the variable.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { configuration, loadConfiguration, type VariableName } from "../../platform/config";

const SECRET = "s".repeat(32);
const HOUR_MS = 3_600_000;

/** The refusal of `env`: one line, naming the variable first. */
function refusal(env: NodeJS.ProcessEnv): string {
	try {
		loadConfiguration(env);
	} catch (err) {
		const message = (err as Error).message;
		expect(message, "one line").not.toContain("\n");
		return message;
	}
	throw new Error(`${JSON.stringify(env)} was accepted`);
}

describe("the configuration", () => {
	it("has defaults for everything, and is deeply frozen", () => {
		const defaults = loadConfiguration({});
		expect(defaults.gateway).toEqual({ port: 3000, rateLimitPerMinute: 600, maxConnections: 4096, callTimeoutMs: 10_000, eventStreams: { perUser: 10, total: 1000 } });
		expect(defaults.outbox).toEqual({ pollIntervalMs: 1000, batchSize: 100, retry: { baseMs: 1000, maxMs: 60_000 }, parking: { maxFailures: 10, minAgeMs: 900_000 } });
		expect(defaults.authentication).toEqual({ mode: "header", adminUserIds: [], jwt: null });
		expect(defaults.database.orders).toMatchObject({ url: "postgres://postgres:postgres@127.0.0.1:5439/orders", embedded: { port: 5439 } });
		expect(Object.isFrozen(defaults.outbox.retry)).toBe(true);
		expect(Object.isFrozen(defaults.database.orders.embedded)).toBe(true);
		expect(() => {
			(defaults.gateway.eventStreams as { total: number }).total = 1;
		}).toThrow(TypeError);
	});

	it("is read once per process", () => {
		expect(configuration()).toBe(configuration());
	});

	it("counts an empty value as unset, as docker-compose.yml passes some", () => {
		expect(loadConfiguration({ PORT: "", JWT_SECRET: "", ORDERS_DATABASE_URL: "" })).toEqual(loadConfiguration({}));
	});

	it.each<[VariableName, string, RegExp]>([
		["OUTBOX_BATCH_SIZE", "ten", /^OUTBOX_BATCH_SIZE must be a positive integer, not "ten"/],
		["OUTBOX_PARK_MIN_AGE_SECONDS", "-1", /^OUTBOX_PARK_MIN_AGE_SECONDS must be a positive integer/],
		["DATABASE_POOL_MAX", "0", /^DATABASE_POOL_MAX must be a positive integer/],
		["RATE_LIMIT_PER_MINUTE", "1.5", /^RATE_LIMIT_PER_MINUTE must be a whole number \(0: no limit\)/],
		["PORT", "70000", /^PORT must be a port number from 1 to 65535/],
		["HEALTH_PORT", "http", /^HEALTH_PORT must be a port number/],
		["AMQP_QUEUE_TYPE", "stream", /^AMQP_QUEUE_TYPE must be one of classic, quorum, not "stream"/],
		["LOGLEVEL", "verbose", /^LOGLEVEL must be one of fatal, error, warn, info, debug, trace/],
		["LOG_FORMAT", "xml", /^LOG_FORMAT must be one of json, text/],
		["AUTH_MODE", "basic", /^AUTH_MODE must be one of header, jwt/],
		["ADMIN_USER_IDS", "ops,,root", /^ADMIN_USER_IDS must be comma-separated user ids/],
		["ORDERS_DATABASE_URL", "orders-db:5432", /^ORDERS_DATABASE_URL must be a postgres:\/\/ URL/],
		["FAULT_INJECTION", "drop=2", /^FAULT_INJECTION must be "drop=<0..1>,duplicate=<0..1>"/],
		["TRACING_SAMPLING_RATE", "half", /^TRACING_SAMPLING_RATE must be a number from 0 to 1/]
	])("refuses %s=%s in one line naming it", (name, value, message) => {
		expect(refusal({ [name]: value })).toMatch(message);
	});

	it("reads what it accepts", () => {
		const settings = loadConfiguration({ RATE_LIMIT_PER_MINUTE: "0", FAULT_INJECTION: "drop=0.1", PAYMENTS_DATABASE_URL: "postgres://db/payments", NODE_ENV: "production" });
		expect(settings.gateway.rateLimitPerMinute).toBe(0);
		expect(settings.faultInjection).toEqual({ drop: 0.1, duplicate: 0 });
		expect(settings.database.payments).toEqual({ url: "postgres://db/payments", embedded: null });
		expect(settings.logging.format).toBe("json");
	});
});

describe("settings that contradict each other", () => {
	it("refuse an inbox that forgets an event before its producer stops re-emitting it", () => {
		expect(refusal({ INBOX_RETENTION_HOURS: "48", OUTBOX_MAX_AGE_HOURS: "72" })).toMatch(/^INBOX_RETENTION_HOURS must exceed OUTBOX_MAX_AGE_HOURS/);
		// The horizon plus the longest retry delay: the last re-emit may leave just before the horizon.
		expect(refusal({ INBOX_RETENTION_HOURS: "73", OUTBOX_MAX_AGE_HOURS: "72", OUTBOX_RETRY_MAX_MS: String(HOUR_MS) })).toMatch(/plus OUTBOX_RETRY_MAX_MS/);
		expect(loadConfiguration({ INBOX_RETENTION_HOURS: "73", OUTBOX_MAX_AGE_HOURS: "72" }).retention.inboxMs).toBe(73 * HOUR_MS);
	});

	it("refuse retry delays that would re-emit confirmed events, or a longest delay below the first", () => {
		expect(refusal({ OUTBOX_RETRY_BASE_MS: "100" })).toMatch(/^OUTBOX_RETRY_BASE_MS must be at least 200/);
		expect(refusal({ OUTBOX_RETRY_BASE_MS: "500", OUTBOX_RETRY_MAX_MS: "400" })).toMatch(/^OUTBOX_RETRY_MAX_MS must not be below OUTBOX_RETRY_BASE_MS/);
		expect(loadConfiguration({ OUTBOX_RETRY_BASE_MS: "200" }).outbox.retry).toEqual({ baseMs: 200, maxMs: 60_000 });
	});

	it("refuse JWT settings that header mode would ignore (it would trust X-User-Id instead)", () => {
		expect(refusal({ JWT_SECRET: SECRET })).toMatch(/^JWT_SECRET is set, but AUTH_MODE=header ignores it/);
		expect(refusal({ AUTH_MODE: "header", JWT_ISSUER: "https://issuer" })).toMatch(/^JWT_ISSUER is set/);
	});

	it("refuse incomplete or inconsistent JWT settings", () => {
		const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
		const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
		expect(refusal({ AUTH_MODE: "jwt" })).toMatch(/^AUTH_MODE=jwt needs exactly one of JWT_SECRET and JWT_PUBLIC_KEY/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_PUBLIC_KEY: pem })).toMatch(/exactly one of/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_ALGORITHM: "ES256" })).toMatch(/^JWT_ALGORITHM must be one of HS256, HS384, HS512 with JWT_SECRET/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem, JWT_ALGORITHM: "HS256" })).toMatch(/^JWT_ALGORITHM must be one of RS256.* with JWT_PUBLIC_KEY/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem })).toMatch(/^JWT_PUBLIC_KEY is a ec \(prime256v1\) key; RS256 needs a rsa key/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: "not a key" })).toMatch(/^JWT_PUBLIC_KEY is not a PEM public key/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_ROLE_CLAIM: "sub" })).toMatch(/^JWT_ROLE_CLAIM must name a claim of its own, not "sub"/);
		expect(refusal({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_MAX_TOKEN_LIFETIME_SECONDS: String(31 * 86_400) })).toMatch(/^JWT_MAX_TOKEN_LIFETIME_SECONDS may be 2592000/);
		const jwt = loadConfiguration({ AUTH_MODE: "jwt", JWT_PUBLIC_KEY: pem, JWT_ALGORITHM: "ES256", JWT_ROLE_CLAIM: "groups", JWT_ADMIN_ROLE: "ops" }).authentication.jwt;
		expect(jwt).toMatchObject({ algorithm: "ES256", roleClaim: "groups", adminRole: "ops", issuer: null, maxTokenLifetimeSeconds: 86_400 });
	});

	it("refuse two servers on one port", () => {
		expect(refusal({ HEALTH_PORT: "3000" })).toBe("HEALTH_PORT must differ from PORT (both are 3000): each is a server of its own.");
		expect(refusal({ HEALTH_PORT: "3001", METRICS_PORT: "3001" })).toMatch(/^METRICS_PORT must differ from HEALTH_PORT/);
		expect(refusal({ PORT: "5439" })).toMatch(/^EMBEDDED_POSTGRES_PORT must differ from PORT/);
		// Without an embedded database its port is not used.
		const external = { ORDERS_DATABASE_URL: "postgres://db/orders", PAYMENTS_DATABASE_URL: "postgres://db/payments" };
		expect(loadConfiguration({ ...external, PORT: "5439" }).gateway.port).toBe(5439);
	});

	it("refuse a graceful stop shorter than the wait for requests in flight", () => {
		expect(refusal({ GRACEFUL_STOP_TIMEOUT_MS: "5000" })).toMatch(/^GRACEFUL_STOP_TIMEOUT_MS must exceed 10000/);
	});

	it("refuse a tracing URL no exporter sends to, and an exporter without its URL", () => {
		expect(refusal({ TRACING_URL: "http://zipkin:9411" })).toMatch(/^TRACING_URL is set, but only TRACING_EXPORTER=zipkin or jaeger sends spans to it/);
		expect(refusal({ TRACING_EXPORTER: "console", TRACING_URL: "http://zipkin:9411" })).toMatch(/^TRACING_URL is set/);
		expect(refusal({ TRACING_EXPORTER: "zipkin" })).toMatch(/^TRACING_EXPORTER=zipkin needs TRACING_URL/);
	});
});
