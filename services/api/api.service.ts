/**
 * The REST gateway (moleculer-web): the single entry point. It maps `/api/...` routes to the
 * actions that declare `rest`, takes the caller's identity from `X-User-Id` and a client's retry
 * key from `Idempotency-Key`, pushes order changes (status NEW → FINISHED / CANCELLED, FINISHED →
 * REFUNDED, a cancel asked, a refund made) to their owner (`GET /api/events`,
 * Server-Sent Events), answers `/health` (liveness) and `/ready` (readiness), and serves the
 * built front end (frontend/dist) at `/`.
 *
 * Every response carries security headers, every error is answered by services/api/public-errors.ts (no
 * internals), and OPTIONS is answered here without running a handler (issue 15).
 *
 * Operators (services/api/authentication.ts) also get `/api/admin` (api.operator.ts): the same hardening
 * as `/api`, and `authorize` answers everyone else 403 before any handler runs. `/ops`, the
 * operator page, is the front end's own page (its app routes it). Issue 16.
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import path from "node:path";
import type { PassThrough } from "node:stream";
import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { type RequestMeta } from "../../platform/identity";
import { ORDER_EVENTS, type OrderView } from "../orders/contracts";
import { isTransporterWorking } from "../../platform/amqp-transporter";
import { createAuthenticator, headerValue, type Authenticator } from "./authentication";
import { createBoundedHttpServer, type HttpServerLimits } from "../../platform/http-server";
import { configuration } from "../../platform/config";
import { requireUserId } from "../../platform/identity";
import { OrderEventStreams, type EventStreamLimits } from "./order-event-streams";
import { PROJECT_ROOT } from "../../platform/paths";
import { toPublicError, type PublicError } from "./public-errors";
import { RateLimiter } from "./rate-limit";
import { enforceJsonBodyContract, guarded, isUtf8Json, rejectDeeplyNestedJson, repeatedPathParameter, type AliasedRequest } from "./request-body";
import { securityProfileOf, setSecurityHeaders } from "../../platform/security-headers";
import { buildOpenApiDocument, type ServiceInfo } from "./openapi";
import { serveSwaggerUiAsset, serveSwaggerUiPage } from "./swagger-ui";
import { adoptRequestTrace } from "../../platform/tracing";
import { createOperatorActions } from "./api.operator";

export interface ApiSettings extends ApiSettingsSchema, HttpServerLimits {
	port: number;
	/** How often idle live streams get a heartbeat comment. */
	heartbeatIntervalMs: number;
	requestTimeout: number;
}

/** The gateway's meta: what moleculer-web understands, and when the caller's token stops being accepted. */
interface GatewayMeta extends RequestMeta {
	$responseType?: string;
	$responseHeaders?: Record<string, string>;
	tokenExpiresAt?: number;
}

/** The built React app; `npm run build` makes it. */
const FRONT_END_FOLDER = path.join(PROJECT_ROOT, "frontend/dist");

/** Services whose database readiness `/ready` reports. */
const DATABASE_SERVICES = ["orders", "payments"] as const;
const READINESS_TIMEOUT_MS = 2000;
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/; // visible ASCII, as Stripe and the IETF draft allow
const RATE_LIMIT_WINDOW_MS = 60_000;
/** Callers the rate limiter remembers at most per instance (~20 MB at worst with 64-character ids). */
const RATE_LIMIT_MAX_KEYS = 100_000;
/** What OPTIONS allows where no alias matches: static files. */
const STATIC_METHODS = ["GET", "HEAD", "OPTIONS"];
/**
 * A route option moleculer-web's typings lack. It matches paths in any case by default, which the
 * security profile and OPTIONS did not: `/API/accounts/balance` reached the API as a page, without
 * `Cache-Control: no-store` (issue 15, second attack). Another case is 404 now.
 */
const CASE_SENSITIVE_PATHS = { pathToRegexpOptions: { sensitive: true } };
/** The endless event stream answers no HEAD: moleculer-web would leave the stream open and unread. */
const STREAM_ACTION = "api.streamOrderEvents";

/**
 * The largest body: a real one is under 1 KB, and parsing and merging a body of 1 MB with 120,000
 * keys held the event loop for about a second, before authentication (second attack).
 */
const MAX_BODY = "64kb";

/** Whether any node runs the service (Moleculer's typings want a node id it does not need). */
function isServiceKnown(broker: ServiceBroker, service: string): boolean {
	return (broker.registry as unknown as { hasService(name: string): boolean }).hasService(service);
}

/**
 * Once a graceful stop has begun, new API requests get 503 (retry elsewhere, connection closed)
 * while the ones in flight finish; /ready reports not ready, so balancers stop sending traffic.
 */
function refuseWhileStopping(this: { broker: ServiceBroker }, _req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void): void {
	if (!this.broker.stopping) return next();
	res.setHeader("Connection", "close");
	next(new Errors.MoleculerRetryableError("The server is stopping; retry on another instance or shortly.", 503, "STOPPING"));
}

/**
 * The front end's page for a path its app routes itself (`/ops`): its index.html, read at each
 * request (a small file; a rebuild shows at once). Not built: 404, as for its other files.
 * moleculer-web ignores what an alias function returns: a failure goes to `next`.
 */
function serveFrontEndPage(_req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void): void {
	readFile(path.join(FRONT_END_FOLDER, "index.html"))
		.then(page => {
			res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" });
			res.end(page);
		})
		.catch((err: unknown) => next((err as NodeJS.ErrnoException).code === "ENOENT" ? new ApiGateway.Errors.NotFoundError("NOT_FOUND", null) : (err as Error)));
}

/** Why a readiness check failed, in words that name no driver, address or node (issue 15). */
function unreadyReason(err: unknown): string {
	return err instanceof Errors.RequestTimeoutError ? "timeout" : "unavailable";
}

interface ReadinessCheck {
	name: string;
	ready: boolean;
	error?: string;
}

interface ApiLocalVars {
	/** moleculer-web's HTTP server. */
	server: Server;
	/** moleculer-web's route table; `match` throws a 400 error for a malformed percent-encoding. */
	aliases: { action?: string; route?: unknown; method?: string; path?: string; _generated?: boolean; match(url: string): object | false }[];
	/** moleculer-web's routes, with the options they were made from. */
	routes: MoleculerWebRoute[];
	orderEventStreams: OrderEventStreams;
	heartbeatTimer: NodeJS.Timeout | null;
	/** Null when the limit is off. */
	rateLimiter: RateLimiter | null;
}

interface MoleculerWebRoute {
	path: string;
	opts: { autoAliases?: boolean; authorization?: boolean };
}

/** A request as moleculer-web carries it from routing to the call. */
type RoutedRequest = AliasedRequest & { $ctx: Context<unknown, RequestMeta>; $endpoint?: { action: { name: string } } };

interface ApiMethods {
	httpHandler(req: IncomingMessage, res: ServerResponse, next?: () => void): Promise<void>;
	callAction(route: unknown, actionName: string, req: RoutedRequest, res: ServerResponse, params: object, isStream?: boolean): Promise<boolean>;
	sendResponse(req: IncomingMessage, res: ServerResponse, data: unknown, action: unknown): void;
	allowedMethods(url: string | undefined): string[];
	answerOptions(req: IncomingMessage, res: ServerResponse, allowed: string[]): void;
	countRequest(key: string, res: ServerResponse): void;
	sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
	/** Writes an error answer already made public (services/api/public-errors.ts). */
	sendPublicError(req: IncomingMessage, res: ServerResponse, answer: PublicError): void;
	/** moleculer-web's whitelist check of a route. */
	checkWhitelist(route: MoleculerWebRoute, action: string): boolean;
	/** moleculer-web's access log line. */
	logResponse(req: IncomingMessage, res: ServerResponse): void;
	/** The OpenAPI document of the given services' actions under this gateway's routes (also built without a running system: tools/api-types.ts). */
	openApiDocument(services: ServiceInfo[]): Record<string, unknown>;
}

/** Construction options kept out of `settings` (which the registry publishes to every node). */
export interface ApiServiceOptions {
	/** Default: from AUTH_MODE and the JWT_* variables. */
	authenticator?: Authenticator;
	/** Requests per user per minute on /api; 0: no limit. Default: RATE_LIMIT_PER_MINUTE. */
	rateLimitPerMinute?: number;
	/** Open event streams allowed. Default: EVENT_STREAMS_PER_USER and EVENT_STREAMS_MAX. */
	eventStreams?: EventStreamLimits;
	/** How long a call from the gateway to a service may take (then 504). Default: GATEWAY_CALL_TIMEOUT_MS. */
	callTimeoutMs?: number;
}

export function createApiService(settings: Partial<ApiSettings> = {}, options: ApiServiceOptions = {}): ServiceSchema<ApiSettings, ApiMethods, ApiLocalVars> {
	const { gateway, authentication } = configuration();
	const authenticator = options.authenticator ?? createAuthenticator(authentication);
	const rateLimitPerMinute = options.rateLimitPerMinute ?? gateway.rateLimitPerMinute;
	const eventStreamLimits = options.eventStreams ?? gateway.eventStreams;
	const callTimeoutMs = options.callTimeoutMs ?? gateway.callTimeoutMs;
	/** What `/api` and `/api/admin` share: routes from the actions' `rest`, the callers' identity, the body rules. */
	const apiRoute = {
		// Routes come from the actions' own `rest` declarations; nothing else is reachable.
		autoAliases: true,
		mappingPolicy: "restrict",
		...CASE_SENSITIVE_PATHS,
		authentication: true,
		// No compressed bodies (a corrupt one would surface as a 500), no charset but UTF-8,
		// none nested absurdly deep.
		bodyParsers: { json: { strict: true, limit: MAX_BODY, inflate: false, type: isUtf8Json, verify: rejectDeeplyNestedJson }, urlencoded: false },
		use: [guarded(refuseWhileStopping), guarded(enforceJsonBodyContract)],
		// The rate limit is counted in `authenticate`, on the verified caller: moleculer-web's
		// own runs before authentication, on whatever the request claims.
		callOptions: { timeout: callTimeoutMs }
	};
	return {
		name: "api",
		// The operator routes' actions (api.operator.ts).
		mixins: [ApiGateway, createOperatorActions()],

		settings: {
			port: gateway.port,
			heartbeatIntervalMs: 15_000,
			// Node's defaults let a stalled body hold its socket for 300 s, stalled headers for 60 s.
			headersTimeout: 10_000,
			requestTimeout: 30_000,
			keepAliveTimeout: 5_000,
			idleTimeout: 60_000,
			maxConnections: gateway.maxConnections,
			assets: { folder: FRONT_END_FOLDER },
			// Routes of this service's own actions sit at the `/api` root too.
			rest: "/",
			// A request continues its caller's trace (W3C traceparent) or request id (X-Request-ID), checked.
			rootCallOptions: adoptRequestTrace,
			...settings,
			routes: [
				{ path: "/api", whitelist: ["orders.*", "payments.*", "api.streamOrderEvents", "api.me", "api.orderJourney"], ...apiRoute },
				// Operators only: `authorize` refuses everyone else, after authentication, before the handler.
				{ path: "/api/admin", whitelist: ["api.admin*"], ...apiRoute, authorization: true },
				{
					path: "/",
					whitelist: ["api.health", "api.ready", "api.openapi"],
					aliases: {
						"GET /health": "api.health",
						"GET /ready": "api.ready",
						"GET /openapi.json": "api.openapi",
						"GET /docs": serveSwaggerUiPage,
						"GET /docs/:file": serveSwaggerUiAsset,
						"GET /ops": serveFrontEndPage
					},
					mappingPolicy: "restrict",
					...CASE_SENSITIVE_PATHS,
					bodyParsers: false
				}
			]
		} as ApiSettings,

		actions: {
			/** The caller's live order updates as Server-Sent Events (`event: order`, the order as data). */
			streamOrderEvents: {
				rest: "GET /events",
				openapi: {
					summary:
						"Live updates of your orders (Server-Sent Events: `event: order`, the order as JSON data, on every change: FINISHED, CANCELLED, a cancel asked (cancelRequestedAt), REFUNDED or refundedAt; `: ping` every 15 s)",
					eventStream: true,
					responses: { 200: "An endless event stream" }
				},
				params: { $$strict: true },
				handler(ctx: Context<object, GatewayMeta>): PassThrough {
					// Opened first: past a limit, the 429 is JSON, not an event stream. It ends when the token does.
					const stream = this.orderEventStreams.open(requireUserId(ctx), ctx.meta.tokenExpiresAt);
					ctx.meta.$responseType = "text/event-stream; charset=utf-8";
					ctx.meta.$responseHeaders = { "Cache-Control": "no-store, no-transform", "X-Accel-Buffering": "no" };
					return stream;
				}
			},

			/** The OpenAPI 3 document of the `/api` routes, generated from the services' own declarations. */
			openapi: {
				handler(): Record<string, unknown> {
					return this.openApiDocument(this.broker.registry.getServiceList({ withActions: true, onlyAvailable: true }));
				}
			},

			/** Liveness: answers while the process lives. */
			health: {
				handler(): { status: string } {
					return { status: "ok" };
				}
			},

			/**
			 * Readiness: the transporter works (on RabbitMQ, a channel open that consumes the node's queues), each service's database is migrated and
			 * answering, and its routes are generated (moleculer-web does that a moment after the
			 * service appears).
			 */
			ready: {
				async handler(ctx: Context<object, RequestMeta>): Promise<{ status: string; checks: ReadinessCheck[] }> {
					const checks: ReadinessCheck[] = [
						{ name: "transporter", ready: isTransporterWorking(this.broker) },
						...(this.broker.stopping ? [{ name: "broker", ready: false, error: "stopping" }] : [])
					];
					for (const service of DATABASE_SERVICES) {
						if (!isServiceKnown(this.broker, service)) {
							checks.push({ name: service, ready: false, error: "service not available" });
							continue;
						}
						try {
							const { ready } = await ctx.call<{ ready: boolean }, object>(
								`${service}.readiness`,
								{},
								{
									timeout: READINESS_TIMEOUT_MS,
									retries: 0,
									// A probe is no work to wait for at shutdown. And with RabbitMQ balancing, a
									// probe sent before the service's queue exists is never answered: tracked,
									// it would hold a graceful stop for the whole shutdown timeout.
									tracking: false
								}
							);
							const routed = this.aliases.some(alias => alias.action?.startsWith(`${service}.`));
							checks.push({ name: service, ready: ready && routed, ...(routed ? {} : { error: "routes not generated yet" }) });
						} catch (err) {
							this.logger.warn(`Readiness check of ${service} failed.`, err);
							checks.push({ name: service, ready: false, error: unreadyReason(err) });
						}
					}
					if (checks.every(check => check.ready)) return { status: "ready", checks };
					// An answer, not a fault: probes poll it, so it is not thrown (and logged) as an error.
					ctx.meta.$statusCode = 503;
					return { status: "not ready", checks };
				}
			}
		},

		events: {
			/** Every gateway gets every change (broadcast) and passes it to the owner's open streams. */
			[ORDER_EVENTS.ORDER_STATUS_CHANGED](ctx: Context<OrderView>) {
				this.orderEventStreams.publish(ctx.params);
			}
		},

		methods: {
			openApiDocument(services: ServiceInfo[]): Record<string, unknown> {
				// Each route with generated aliases documents the actions it lets through, under its path.
				const routes = this.routes
					.filter(route => route.opts.autoAliases)
					.map(route => ({ path: route.path, includes: (action: string) => this.checkWhitelist(route, action), operator: route.opts.authorization === true }));
				return buildOpenApiDocument(services, routes, authenticator.mode);
			},

			/**
			 * The live stream is this gateway's own, and is called in this process. Over RabbitMQ every
			 * call, even to a local action, goes through the transporter (`disableBalancer`): the
			 * stream answered would be a copy, and a client closing it would leave the original open,
			 * registered and written to (found when the per-user cap refused the bench's 11th window).
			 */
			async callAction(route: unknown, actionName: string, req: RoutedRequest, res: ServerResponse, params: object, isStream?: boolean): Promise<unknown> {
				const action = req.$endpoint?.action.name;
				// Liveness and readiness are this process's own: through RabbitMQ, `/health` failed while the
				// transporter reconnected, and a liveness probe would restart a gateway that is fine (issue 19).
				if (action === "api.health" || action === "api.ready") {
					const answer: unknown = await (action === "api.health" ? this.actions.health : this.actions.ready)(params, { meta: req.$ctx.meta });
					this.sendResponse(req, res, answer, req.$endpoint!.action);
					return true;
				}
				const repeated = repeatedPathParameter(req);
				if (repeated !== undefined) {
					throw new Errors.MoleculerClientError(`'${repeated}' is given by the path; it may not be sent in the body or the query string too.`, 400, "PATH_PARAMETER_REPEATED");
				}
				if (action !== STREAM_ACTION) return ApiGateway.methods!.callAction.call(this, route, actionName, req, res, params, isStream);
				// The caller's meta itself, not a copy: the action sets the response's type and headers in it.
				const stream = await this.actions.streamOrderEvents<Promise<PassThrough>>(params, { meta: req.$ctx.meta });
				// A client gone before the response starts (an async authentication gives it time) would
				// never be piped to, so never unpiped: the stream is ended with its response, whenever.
				if (res.destroyed || res.writableEnded) stream.destroy();
				else res.once("close", () => stream.destroy());
				this.sendResponse(req, res, stream, req.$endpoint!.action);
				return true;
			},

			/**
			 * Routes outlive their service's absence. moleculer-web rebuilds the generated routes
			 * whenever the registry changes, dropping those of services that are gone for the moment
			 * (all instances restarting, RabbitMQ reconnecting): clients would get 404 for a valid
			 * route. Kept, such a route answers 503 (ServiceUnavailable) until the service is back.
			 */
			regenerateAutoAliases(route: unknown) {
				const before = this.aliases.filter(alias => alias.route === route && alias._generated);
				ApiGateway.methods!.regenerateAutoAliases.call(this, route);
				const present = new Set(this.aliases.filter(alias => alias.route === route).map(alias => `${alias.method} ${alias.path}`));
				this.aliases.push(...before.filter(alias => !present.has(`${alias.method} ${alias.path}`)));
			},

			/** moleculer-web's server, bounded in time and connections (platform/http-server.ts); plain HTTP, TLS ends in front. */
			createServer() {
				// moleculer-web's handler answers its own failures: Node's server has no use for its promise.
				this.server = createBoundedHttpServer((req, res) => void this.httpHandler(req, res), this.settings);
			},

			/** A HEAD request is answered as its GET (Node sends no body), but for the endless event stream. */
			resolveAlias(url: string, method = "GET") {
				const found = ApiGateway.methods!.resolveAlias.call(this, url, method === "HEAD" ? "GET" : method) as { alias: { action?: string } } | false;
				return method === "HEAD" && found && found.alias.action === STREAM_ACTION ? false : found;
			},

			/**
			 * Every request enters here (the HTTP server's handler). Security headers go on first, so
			 * that every answer has them, and OPTIONS is answered before routing: moleculer-web would
			 * run the GET handler of the path (`OPTIONS /api/accounts/balance` returned the balance).
			 * A method a known path does not allow is 405 with `Allow`, before any body is read.
			 */
			async httpHandler(req: IncomingMessage, res: ServerResponse, next?: () => void): Promise<void> {
				try {
					setSecurityHeaders(res, securityProfileOf(req.url));
					let allowed: string[];
					try {
						allowed = this.allowedMethods(req.url);
					} catch (err) {
						return this.sendError(req, res, err);
					}
					if (req.method === "OPTIONS") return this.answerOptions(req, res, allowed);
					if (allowed.length > 0 && !allowed.includes(req.method ?? "")) {
						res.setHeader("Allow", allowed.join(", "));
						return this.sendError(req, res, new Errors.MoleculerClientError(`This path allows ${allowed.join(", ")} only.`, 405, "METHOD_NOT_ALLOWED"));
					}
					await ApiGateway.methods!.httpHandler.call(this, req, res, next);
				} catch (err) {
					// The server calls this without awaiting it: a rejection here would end the process.
					this.logger.error("A request could not be answered.", err);
					res.destroy();
				}
			},

			/**
			 * The methods the routes allow on a path (HEAD wherever GET is, OPTIONS everywhere), none
			 * when no route has it. Throws a 400 error for a malformed percent-encoding.
			 */
			allowedMethods(url: string | undefined): string[] {
				const path = (url ?? "").split("?")[0].replace(/(.)\/+$/, "$1");
				const methods = new Set<string>();
				for (const alias of this.aliases) {
					if (!alias.match(path)) continue;
					methods.add(alias.method ?? "*");
					if (alias.method === "GET" && alias.action !== STREAM_ACTION) methods.add("HEAD");
				}
				return methods.size === 0 ? [] : [...methods].sort().concat("OPTIONS");
			},

			/**
			 * OPTIONS as RFC 9110 says: 204 with the methods the path allows, 404 for an API path that
			 * does not exist. No CORS headers: the API grants no other origin anything, so a
			 * browser's preflight from another site fails, as it should.
			 */
			answerOptions(req: IncomingMessage, res: ServerResponse, allowed: string[]): void {
				if (allowed.length === 0 && securityProfileOf(req.url) === "data") return this.sendError(req, res, new ApiGateway.Errors.NotFoundError("NOT_FOUND"));
				res.writeHead(204, { Allow: (allowed.length > 0 ? allowed : STATIC_METHODS).join(", ") });
				res.end();
			},

			/** Logs what the client will not be told: our faults, with their details. */
			errorHandler(req: IncomingMessage, res: ServerResponse, err: unknown) {
				const answer = toPublicError(err);
				// moleculer-web has cut `req.url` to the path within its route by now.
				const { originalUrl, $ctx } = req as IncomingMessage & { originalUrl?: string; $ctx?: Context };
				if (answer.internal) this.logger.error({ requestId: $ctx?.requestID }, `${req.method} ${originalUrl ?? req.url} failed.`, err);
				this.sendPublicError(req, res, answer);
			},

			/**
			 * Every error answer: a caller's mistake keeps its message, anything else is a generic
			 * 503 (an outage, with Retry-After; also a route whose service has no instance right now,
			 * which Moleculer reports as 404) or 500. See services/api/public-errors.ts.
			 */
			sendError(req: IncomingMessage, res: ServerResponse, err: unknown) {
				this.sendPublicError(req, res, toPublicError(err));
			},

			sendPublicError(req: IncomingMessage, res: ServerResponse, { status, body, headers }: PublicError) {
				// A stream that failed midway: its status is gone, only cutting it tells the client.
				if (res.headersSent) return void res.destroy();
				res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8" });
				res.end(JSON.stringify(body));
				this.logResponse(req, res);
			},

			/** Counts a request against the key's limit; throws a 429 error past it. */
			countRequest(key: string, res: ServerResponse): void {
				if (!this.rateLimiter) return;
				const verdict = this.rateLimiter.hit(key);
				res.setHeader("X-Rate-Limit-Limit", verdict.limit);
				res.setHeader("X-Rate-Limit-Remaining", verdict.remaining);
				res.setHeader("X-Rate-Limit-Reset", verdict.resetAt);
				if (verdict.limited) {
					res.setHeader("Retry-After", Math.max(1, Math.ceil((verdict.resetAt - Date.now()) / 1000)));
					throw new ApiGateway.Errors.RateLimitExceeded("RATE_LIMIT_EXCEEDED");
				}
			},

			/**
			 * moleculer-web calls this for routes with `authentication: true`. The request is counted
			 * against the verified caller's limit, or its address's when it proves no valid identity:
			 * nothing is stored under an identity that was refused (issue 15).
			 */
			async authenticate(ctx: Context<unknown, GatewayMeta>, _route: unknown, req: IncomingMessage, res: ServerResponse): Promise<null> {
				let userId: string;
				try {
					const caller = await authenticator.callerOf(req);
					ctx.meta.userId = caller?.userId;
					ctx.meta.operator = caller?.operator === true;
					ctx.meta.tokenExpiresAt = caller?.acceptedUntil;
					if (ctx.meta.userId === undefined && authenticator.mode === "jwt") {
						throw new Errors.MoleculerClientError("An 'Authorization: Bearer <token>' header is required.", 401, "NO_TOKEN");
					}
					userId = requireUserId(ctx);
				} catch (err) {
					this.countRequest(`address:${req.socket.remoteAddress ?? "unknown"}`, res);
					throw err;
				}
				this.countRequest(`user:${userId}`, res);
				const idempotencyKey = headerValue(req, "idempotency-key");
				if (idempotencyKey !== undefined) {
					if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
						throw new Errors.MoleculerClientError("The Idempotency-Key header must be 1-255 visible ASCII characters.", 400, "INVALID_IDEMPOTENCY_KEY");
					}
					ctx.meta.idempotencyKey = idempotencyKey;
				}
				return null;
			},

			/** moleculer-web calls this on `/api/admin`, after `authenticate`: only operators get past it (issue 16). */
			authorize(ctx: Context<unknown, GatewayMeta>): void {
				if (ctx.meta.operator !== true) throw new Errors.MoleculerClientError("This route is for operators only.", 403, "FORBIDDEN");
			}
		},

		created() {
			for (const warning of authenticator.warnings ?? []) this.logger.warn(warning);
			// A browser closing its live stream is normal: moleculer-web would log each one as a warning.
			const warn = this.logger.warn.bind(this.logger);
			this.logger.warn = (...args: unknown[]) => {
				const detail = args[1] as { err?: { code?: string } } | undefined;
				if (args[0] === "Stream got an error." && detail?.err?.code === "ERR_STREAM_PREMATURE_CLOSE") return;
				warn(...args);
			};
			this.orderEventStreams = new OrderEventStreams(eventStreamLimits);
			this.heartbeatTimer = null;
			this.rateLimiter = rateLimitPerMinute > 0 ? new RateLimiter({ limit: rateLimitPerMinute, windowMs: RATE_LIMIT_WINDOW_MS, maxKeys: RATE_LIMIT_MAX_KEYS }) : null;
		},

		started() {
			this.heartbeatTimer = setInterval(() => this.orderEventStreams.heartbeat(), this.settings.heartbeatIntervalMs);
		},

		/** Runs before moleculer-web closes its server, which waits for open responses to end. */
		stopped() {
			if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
			this.orderEventStreams.closeAll();
		}
	};
}

export default createApiService();
