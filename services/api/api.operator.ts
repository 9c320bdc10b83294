/**
 * The gateway's routes for operators, and the caller's own view of them (issue 16), a part of the
 * api service (one of its mixins, in a file of its own for size; moleculer-runner loads only
 * `*.service` files). The api service routes the `admin*` actions under `/api/admin`, where only
 * operators get past its `authorize` (403 before any handler), and the others under `/api`:
 * - `GET /api/me`: who the caller is, and whether an operator;
 * - `GET /api/orders/:id/journey` (the caller's own order) and `GET /api/admin/orders/:id/journey`
 *   (any order): the order's hops across both services (`orders.journey`);
 * - `GET /api/admin/outbox`: per service, the outbox's backlog (one instance's `outboxStatus`: it
 *   reads the service's database) and its activity of the last minutes, summed over every instance
 *   (each counts in memory); a service with no instance up is reported `available: false`, with
 *   zeros, instead of failing the whole page;
 * - `GET /api/admin/dead-events` and `POST /api/admin/dead-events/replay`: the services'
 *   `deadEvents` and `replayDeadEvents`, validated by their own params schemas.
 */
import type { Context, ServiceSchema } from "moleculer";
import type { RequestMeta } from "../../platform/identity";
import { requireUserId } from "../../platform/identity";
import { ACTIVITY_BUCKET_SECONDS, sumActivity, type ActivityBucket } from "../../mixins/outbox-activity";
import type { Journey } from "../orders/order-journey";
import { newestDeadFirst, toDeadEventView, type DeadEventView } from "../../mixins/outbox-dead-events";
import type { DeadEventRow } from "../../mixins/outbox-sql";
import { DEAD_EVENTS_PARAMS, REPLAY_DEAD_EVENTS_PARAMS, type OutboxActivity, type OutboxStatus } from "../../mixins/outbox.mixin";

/** The services with an outbox. */
export const OUTBOX_SERVICES = Object.freeze(["orders", "payments"] as const);
export type OutboxService = (typeof OUTBOX_SERVICES)[number];

/** How long the page waits for one instance's figures: an instance that does not answer is left out. */
const INSTANCE_CALL_TIMEOUT_MS = 2000;

export interface ServiceOps {
	service: OutboxService;
	/** False when no instance is up, or its backlog could not be read: then the figures are zeros. */
	available: boolean;
	pending: number;
	oldestPendingAgeSeconds: number;
	dead: number;
	activity: ActivityBucket[];
}

interface DeadEventsParams {
	service?: OutboxService;
	limit: number;
}

interface ReplayParams {
	service: OutboxService;
	ids?: string[];
}

interface OperatorMethods {
	serviceOps(ctx: Context, service: OutboxService): Promise<ServiceOps>;
	deadEventsOf(ctx: Context, service: OutboxService, limit: number): Promise<DeadEventView[]>;
	/** The nodes running the service now. */
	nodesOf(service: OutboxService): string[];
}

const SERVICE_RULE = { type: "enum", values: OUTBOX_SERVICES } as const;
const ORDER_JOURNEY = "orders.journey";

export function createOperatorActions(): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, OperatorMethods>> = {
		actions: {
			/** Who the caller is, and whether an operator (the front end shows the operator page to operators only). */
			me: {
				rest: "GET /me",
				openapi: { summary: "Who you are, and whether you are an operator", body: "Me", responses: { 200: "You" } },
				params: { $$strict: true },
				handler(ctx: Context<object, RequestMeta>): { userId: string; operator: boolean } {
					return { userId: requireUserId(ctx), operator: ctx.meta.operator === true };
				}
			},

			/** The journey of one of the caller's orders. */
			orderJourney: {
				rest: "GET /orders/:id/journey",
				openapi: {
					summary: "The journey of one of your orders: each hop across the services, and what it waits for while NEW",
					body: "Journey",
					responses: { 200: "The order and its hops", 404: "No such order of yours (unknown or malformed id, or another user's)" }
				},
				params: { $$strict: true, id: "string" },
				handler(ctx: Context<{ id: string }, RequestMeta>): Promise<Journey> {
					return ctx.call(ORDER_JOURNEY, { id: ctx.params.id, userId: requireUserId(ctx) });
				}
			},

			/** The journey of any order (operators). */
			adminOrderJourney: {
				rest: "GET /orders/:id/journey",
				openapi: { summary: "The journey of any order (operators)", body: "Journey", responses: { 200: "The order and its hops", 404: "No such order" } },
				params: { $$strict: true, id: "uuid" },
				handler(ctx: Context<{ id: string }>): Promise<Journey> {
					return ctx.call(ORDER_JOURNEY, { id: ctx.params.id });
				}
			},

			/** Every service's outbox: backlog, dead events, and activity of the last 10 minutes (operators). */
			adminOutbox: {
				rest: "GET /outbox",
				openapi: {
					summary: "Every service's outbox: backlog, dead events and activity per 10 s over 10 minutes (operators)",
					body: "OutboxOverview",
					responses: { 200: "One entry per service" }
				},
				params: { $$strict: true },
				async handler(ctx: Context): Promise<{ bucketSeconds: number; services: ServiceOps[] }> {
					return { bucketSeconds: ACTIVITY_BUCKET_SECONDS, services: await Promise.all(OUTBOX_SERVICES.map(service => this.serviceOps(ctx, service))) };
				}
			},

			/** Dead events of one service or all, newest first (operators). */
			adminDeadEvents: {
				rest: "GET /dead-events",
				openapi: {
					summary: "Events parked as dead, newest first, with their last error; `unavailable`: the services that could not be asked (operators)",
					body: "DeadEventList",
					responses: { 200: "The dead events" }
				},
				params: { $$strict: true, service: { ...SERVICE_RULE, optional: true }, ...DEAD_EVENTS_PARAMS },
				async handler(ctx: Context<DeadEventsParams>): Promise<{ events: DeadEventView[]; unavailable: OutboxService[] }> {
					const { service, limit } = ctx.params;
					// One service asked for: its list or its error.
					if (service) return { events: await this.deadEventsOf(ctx, service, limit), unavailable: [] };
					// All services: one with no instance now, or whose list fails (its database down), is
					// named in `unavailable` rather than failing the whole list: one service's outage hid
					// the other's dead events, when the operator needs them most (attack on issue 16).
					const unavailable: OutboxService[] = [];
					const lists = await Promise.all(
						OUTBOX_SERVICES.map(async name => {
							if (this.nodesOf(name).length === 0) {
								unavailable.push(name);
								return [];
							}
							try {
								return await this.deadEventsOf(ctx, name, limit);
							} catch (err) {
								this.logger.warn({ service: name }, "Could not list the service's dead events; it is left out.", err);
								unavailable.push(name);
								return [];
							}
						})
					);
					return { events: newestDeadFirst(lists).slice(0, limit), unavailable: OUTBOX_SERVICES.filter(name => unavailable.includes(name)) };
				}
			},

			/** Sends a service's dead events again (the given ones, or all), as the operator; logged with the operator's user id. */
			adminReplayDeadEvents: {
				rest: "POST /dead-events/replay",
				openapi: { summary: "Replay dead events of a service: the given ids, or all of them (operators)", body: "ReplayResult", responses: { 200: "The ids actually revived" } },
				params: { $$strict: true, service: SERVICE_RULE, ...REPLAY_DEAD_EVENTS_PARAMS },
				async handler(ctx: Context<ReplayParams, RequestMeta>): Promise<{ service: OutboxService; replayed: string[] }> {
					const { service, ids } = ctx.params;
					// The count, not up to 1,000 ids: the service's own line lists the events it revived.
					this.logger.info({ operator: ctx.meta.userId, requestId: ctx.requestID, service, requested: ids?.length ?? "all" }, "An operator replays dead events.");
					const { replayed } = await ctx.call<{ replayed: string[] }, { ids?: string[] }>(`${service}.replayDeadEvents`, ids ? { ids } : {});
					return { service, replayed };
				}
			}
		},

		methods: {
			nodesOf(service: OutboxService): string[] {
				const services = this.broker.registry.getServiceList({ onlyAvailable: true }) as { name: string; nodeID: string }[];
				return services.filter(entry => entry.name === service).map(entry => entry.nodeID);
			},

			async serviceOps(ctx: Context, service: OutboxService): Promise<ServiceOps> {
				const unavailable: ServiceOps = { service, available: false, pending: 0, oldestPendingAgeSeconds: 0, dead: 0, activity: sumActivity([]) };
				const nodes = this.nodesOf(service);
				if (nodes.length === 0) return unavailable;
				// Each instance by its node id: over RabbitMQ (`disableBalancer`) a call without one goes to any instance.
				const options = { timeout: INSTANCE_CALL_TIMEOUT_MS, retries: 0 };
				const [status, ...activities] = await Promise.allSettled([
					ctx.call<OutboxStatus, { limit: number }>(`${service}.outboxStatus`, { limit: 1 }, options),
					...nodes.map(nodeID => ctx.call<OutboxActivity, object>(`${service}.outboxActivity`, {}, { ...options, nodeID }))
				]);
				const answered: ActivityBucket[][] = [];
				activities.forEach((activity, i) => {
					if (activity.status === "fulfilled") answered.push(activity.value.buckets);
					else this.logger.warn({ service, nodeID: nodes[i] }, "An instance did not tell its outbox activity; it is left out.", activity.reason);
				});
				if (status.status === "rejected") {
					this.logger.warn({ service }, "Could not read the outbox's backlog.", status.reason);
					return { ...unavailable, activity: sumActivity(answered) };
				}
				const { pending, oldestAgeSeconds, dead } = status.value;
				return { service, available: true, pending, oldestPendingAgeSeconds: oldestAgeSeconds, dead, activity: sumActivity(answered) };
			},

			async deadEventsOf(ctx: Context, service: OutboxService, limit: number): Promise<DeadEventView[]> {
				const rows = await ctx.call<DeadEventRow[], { limit: number }>(`${service}.deadEvents`, { limit });
				return rows.map(row => toDeadEventView(service, row));
			}
		}
	};
	return schema as Partial<ServiceSchema>;
}
