/**
 * The REST gateway (moleculer-web): the single entry point. It maps `/api/...` routes to the
 * actions that declare `rest`, takes the caller's identity from `X-User-Id` and a client's retry
 * key from `Idempotency-Key`, pushes order status changes to their owner (`GET /api/events`,
 * Server-Sent Events), answers `/health` (liveness) and `/ready` (readiness), and serves the
 * built front end (frontend/dist) at `/`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { PassThrough } from "node:stream";
import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { EVENTS, type OrderView, type RequestMeta } from "../lib/contracts";
import { authenticatorFromEnv, headerValue, type Authenticator } from "../lib/authentication";
import { requireUserId } from "../lib/identity";
import { OrderEventStreams } from "../lib/order-event-streams";
import { PROJECT_ROOT } from "../lib/paths";
import { rejectDeeplyNestedJson } from "../lib/request-body";
import { buildOpenApiDocument, type ServiceInfo } from "../lib/openapi";
import { serveSwaggerUiAsset, serveSwaggerUiPage } from "../lib/swagger-ui";

export interface ApiSettings extends ApiSettingsSchema {
	port: number;
	/** How often idle live streams get a heartbeat comment. */
	heartbeatIntervalMs: number;
}

/** Response meta understood by moleculer-web. */
interface StreamMeta extends RequestMeta {
	$responseType?: string;
	$responseHeaders?: Record<string, string>;
}

/** Services whose database readiness `/ready` reports. */
const DATABASE_SERVICES = ["orders", "payments"] as const;
const READINESS_TIMEOUT_MS = 2000;
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/; // visible ASCII, as Stripe and the IETF draft allow

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

interface ReadinessCheck {
	name: string;
	ready: boolean;
	error?: string;
}

interface ApiLocalVars {
	/** moleculer-web's route table. */
	aliases: { action?: string; route?: unknown; method?: string; path?: string; _generated?: boolean }[];
	orderEventStreams: OrderEventStreams;
	heartbeatTimer: NodeJS.Timeout | null;
}

/** Construction options kept out of `settings` (which the registry publishes to every node). */
export interface ApiServiceOptions {
	/** Default: from AUTH_MODE and the JWT_* variables. */
	authenticator?: Authenticator;
	/** Requests per user per minute on /api; 0: no limit. Default: RATE_LIMIT_PER_MINUTE or 600. */
	rateLimitPerMinute?: number;
}

export function createApiService(settings: Partial<ApiSettings> = {}, options: ApiServiceOptions = {}): ServiceSchema<ApiSettings, object, ApiLocalVars> {
	const authenticator = options.authenticator ?? authenticatorFromEnv();
	const rateLimitPerMinute = options.rateLimitPerMinute ?? Number(process.env.RATE_LIMIT_PER_MINUTE ?? 600);
	if (!Number.isInteger(rateLimitPerMinute) || rateLimitPerMinute < 0) throw new Error("RATE_LIMIT_PER_MINUTE must be a whole number (0: no limit).");
	return {
		name: "api",
		mixins: [ApiGateway],

		settings: {
			port: Number(process.env.PORT ?? 3000),
			heartbeatIntervalMs: 15_000,
			// The built React app; `npm run build` makes it.
			assets: { folder: path.join(PROJECT_ROOT, "frontend/dist") },
			// Routes of this service's own actions sit at the `/api` root too.
			rest: "/",
			...settings,
			routes: [
				{
					path: "/api",
					whitelist: ["orders.*", "payments.*", "api.streamOrderEvents"],
					// Routes come from the actions' own `rest` declarations; nothing else is reachable.
					autoAliases: true,
					mappingPolicy: "restrict",
					authentication: true,
					// No compressed bodies (a corrupt one would surface as a 500), none nested absurdly deep.
					bodyParsers: { json: { strict: true, limit: "1mb", inflate: false, verify: rejectDeeplyNestedJson }, urlencoded: false },
					use: [refuseWhileStopping],
					// Per caller (the identity they present; their address when they present none), per instance.
					...(rateLimitPerMinute > 0 && {
						rateLimit: {
							window: 60_000,
							limit: rateLimitPerMinute,
							headers: true,
							key: (req: IncomingMessage) =>
								headerValue(req, authenticator.mode === "jwt" ? "authorization" : "x-user-id") ?? req.socket.remoteAddress ?? "unknown"
						}
					}),
					callOptions: { timeout: 10_000 }
				},
				{
					path: "/",
					whitelist: ["api.health", "api.ready", "api.openapi"],
					aliases: {
						"GET /health": "api.health",
						"GET /ready": "api.ready",
						"GET /openapi.json": "api.openapi",
						"GET /docs": serveSwaggerUiPage,
						"GET /docs/:file": serveSwaggerUiAsset
					},
					mappingPolicy: "restrict",
					bodyParsers: false
				}
			]
		} as ApiSettings,

		actions: {
			/** The caller's live order updates as Server-Sent Events (`event: order`, the order as data). */
			streamOrderEvents: {
				rest: "GET /events",
				openapi: {
					summary: "Live updates of your orders (Server-Sent Events: `event: order`, the order as JSON data; `: ping` every 15 s)",
					eventStream: true,
					responses: { 200: "An endless event stream" }
				},
				params: { $$strict: true },
				handler(ctx: Context<object, StreamMeta>): PassThrough {
					const userId = requireUserId(ctx);
					ctx.meta.$responseType = "text/event-stream; charset=utf-8";
					ctx.meta.$responseHeaders = { "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no" };
					return this.orderEventStreams.open(userId);
				}
			},

			/** The OpenAPI 3 document of the `/api` routes, generated from the services' own declarations. */
			openapi: {
				handler(): Record<string, unknown> {
					const services = this.broker.registry.getServiceList({ withActions: true, onlyAvailable: true }) as ServiceInfo[];
					return buildOpenApiDocument(services, "/api", authenticator.mode);
				}
			},

			/** Liveness: answers while the process lives. */
			health: {
				handler(): { status: string } {
					return { status: "ok" };
				}
			},

			/**
			 * Readiness: the transporter is connected, each service's database is migrated and
			 * answering, and its routes are generated (moleculer-web does that a moment after the
			 * service appears).
			 */
			ready: {
				async handler(ctx: Context<object, RequestMeta>): Promise<{ status: string; checks: ReadinessCheck[] }> {
					const transit = this.broker.transit as { connected?: boolean } | undefined;
					const checks: ReadinessCheck[] = [
						{ name: "transporter", ready: transit ? transit.connected === true : true },
						...(this.broker.stopping ? [{ name: "broker", ready: false, error: "stopping" }] : [])
					];
					for (const service of DATABASE_SERVICES) {
						if (!isServiceKnown(this.broker, service)) {
							checks.push({ name: service, ready: false, error: "service not available" });
							continue;
						}
						try {
							const { ready } = await ctx.call<{ ready: boolean }, object>(`${service}.readiness`, {}, {
								timeout: READINESS_TIMEOUT_MS,
								retries: 0,
								// A probe is no work to wait for at shutdown. And with RabbitMQ balancing, a
								// probe sent before the service's queue exists is never answered: tracked,
								// it would hold a graceful stop for the whole shutdown timeout.
								tracking: false
							});
							const routed = this.aliases.some(alias => alias.action?.startsWith(`${service}.`));
							checks.push({ name: service, ready: ready && routed, ...(routed ? {} : { error: "routes not generated yet" }) });
						} catch (err) {
							checks.push({ name: service, ready: false, error: (err as Error).message });
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
			[EVENTS.ORDER_STATUS_CHANGED](ctx: Context<OrderView>) {
				this.orderEventStreams.publish(ctx.params);
			}
		},

		methods: {
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

			/**
			 * A route whose service has no instance right now is our outage, not the caller's
			 * mistake: Moleculer reports it as ServiceNotAvailable/ServiceNotFound (code 404), and
			 * the client would stop retrying. It is answered 503 instead.
			 */
			sendError(req: IncomingMessage, res: ServerResponse, err: unknown) {
				const unavailable = err instanceof Errors.ServiceNotAvailableError || err instanceof Errors.ServiceNotFoundError;
				const error = unavailable
					? new Errors.MoleculerRetryableError("The service is unavailable for the moment; retry shortly.", 503, "SERVICE_UNAVAILABLE", (err as Errors.MoleculerError).data)
					: err;
				ApiGateway.methods!.sendError.call(this, req, res, error);
			},

			/** moleculer-web calls this for routes with `authentication: true`. */
			async authenticate(ctx: Context<unknown, RequestMeta>, _route: unknown, req: IncomingMessage): Promise<null> {
				ctx.meta.userId = await authenticator.userIdOf(req);
				if (ctx.meta.userId === undefined && authenticator.mode === "jwt") {
					throw new Errors.MoleculerClientError("An 'Authorization: Bearer <token>' header is required.", 401, "NO_TOKEN");
				}
				requireUserId(ctx);
				const idempotencyKey = headerValue(req, "idempotency-key");
				if (idempotencyKey !== undefined) {
					if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
						throw new Errors.MoleculerClientError(
							"The Idempotency-Key header must be 1-255 visible ASCII characters.",
							400,
							"INVALID_IDEMPOTENCY_KEY"
						);
					}
					ctx.meta.idempotencyKey = idempotencyKey;
				}
				return null;
			}
		},

		created() {
			// A browser closing its live stream is normal: moleculer-web would log each one as a warning.
			const warn = this.logger.warn.bind(this.logger);
			this.logger.warn = (...args: unknown[]) => {
				const detail = args[1] as { err?: { code?: string } } | undefined;
				if (args[0] === "Stream got an error." && detail?.err?.code === "ERR_STREAM_PREMATURE_CLOSE") return;
				warn(...args);
			};
			this.orderEventStreams = new OrderEventStreams();
			this.heartbeatTimer = null;
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
