/**
 * Transactional outbox. A service writes each event it produces with `addOutboxEvent(tx, …)` in the
 * same transaction as the business change; the relay emits committed events to their consuming
 * group; an event stays pending until the consumer confirms it (`outbox.confirmed`, sent by the
 * inbox mixin after the consumer's transaction commits) and is re-emitted with capped exponential
 * backoff until then.
 *
 * Why not trust `emit`: Moleculer events are at-most-once on every transporter (an `emit` resolves
 * while RabbitMQ is down, a throwing handler's message is acked and gone), so delivery is only
 * known when the consumer says so. Consumers deduplicate by event id (inbox), so re-emitting is safe.
 *
 * Latency: the process that commits an event emits it at once (the transaction's `afterCommit`), the row
 * written already claimed for the first retry delay. A row that becomes due otherwise (written by
 * another program, a replayed dead event) wakes every relay of the database at once through
 * Postgres LISTEN/NOTIFY (mixins/migrations/0003_notify_due_outbox_events.ts). The relay's interval only
 * picks up retries, rows whose writer died before emitting them, and what a lost notification
 * connection missed.
 *
 * Tracing: each row keeps the trace it was written in (`addOutboxEvent`'s `trace`), and every emit
 * of it, first or re-emit, from whichever process, is a span of that trace (platform/tracing.ts).
 *
 * Poison: a consumer that cannot apply an event answers `outbox.rejected` with the kind of failure
 * (mixins/failure-classification.ts). A malformed event is parked as dead at once. An outage (the
 * consumer's database unavailable, say) never counts: the event is re-emitted with backoff for as
 * long as it lasts. Any other failure counts once per attempt, and parks the event only after
 * `parking.maxFailures` of them and once it is `parking.minAgeMs` old, so that no burst of failures can park
 * it. Dead events are kept with their last error, block nothing, can be listed (`deadEvents`) and
 * replayed (`replayDeadEvents`) once their cause is fixed, and the orders reconciler ends their
 * orders even if nobody does.
 *
 * No storm: nothing is emitted to a consumer group with no live instance in the registry (it
 * would only pile up in its queue); the rows wait, and a relay round runs when the registry
 * changes. A group that has stopped answering before the registry noticed (a killed process is
 * noticed 30 to 60 s later) gets one re-emit per retry delay, a probe, until it answers again. A
 * backlog is emitted at the pace its consumers answer it.
 */
import type { Context, ServiceSchema } from "moleculer";
import { MESSAGING_EVENTS, EVENT_SCHEMA_VERSION, type EventEnvelope, type EventMeta, type OutboxConfirmedPayload, type OutboxRejectedPayload } from "./messaging-contracts";
import { FAILURE_KINDS } from "./failure-classification";
import { eventLogFields } from "../platform/logging";
import { MESSAGING_METRICS, registerMessagingMetrics } from "./messaging-metrics";
import { ACTIVITY_BUCKET_SECONDS, ActivityCounter, type ActivityBucket } from "./outbox-activity";
import {
	OUTBOX_DUE_CHANNEL,
	claimDueEvents,
	confirmEvents,
	countUnanswered,
	insertOutboxEvent,
	recordEventFailure,
	reviveDeadEvents,
	selectDeadEvents,
	selectPendingEvents,
	selectPendingSummary,
	type DeadEventRow,
	type OutboxRow,
	type PendingSummaryRow,
	type ParkingPolicy,
	type RetryPolicy
} from "./outbox-sql";
import type { NotificationListener } from "../platform/notification-listener";
import { asParentSpan, storedTraceContext, type TraceContext } from "../platform/tracing";
import type { DbMethods, DbTransaction } from "./db.mixin";
import { CONFIRMATION_INTERVAL_MS } from "./inbox.mixin";

/**
 * The shortest first retry delay: the first re-emit comes after half of it at the earliest, which
 * must leave twice the time confirmations wait under load, or confirmed events would be re-emitted.
 */
const MIN_RETRY_BASE_MS = 4 * CONFIRMATION_INTERVAL_MS;

/** How often a relay with a backlog looks whether its last batch was answered. */
const FLOW_CONTROL_CHECK_MS = 10;

/**
 * A consumer group that has answered nothing (no confirmation, no rejection) for this many first
 * retry delays since this instance emitted to it is taken as silent: a process killed, say, which
 * the registry notices only after its heartbeat timeout (30 to 60 s). Its due events are then not
 * re-emitted, only one of them per retry delay as a probe, until it answers again: re-emits would
 * only pile up in its queue. (A group sent nothing is not silent: nothing was asked of it.)
 */
const SILENCE_IN_RETRY_DELAYS = 5;

/** The consumer groups with an available listener in the registry, and which events they listen to. */
interface LiveConsumers {
	groups: Set<string>;
	/** `listenerKey(event, group)` of each. */
	listeners: Set<string>;
}

const listenerKey = (eventName: string, group: string) => `${group}\u0000${eventName}`;

/** What the outbox counts, each in its Prometheus counter and in the activity window (mixins/outbox-activity.ts). */
const COUNTED_METRICS = Object.freeze({
	emitted: MESSAGING_METRICS.OUTBOX_EMITTED,
	reemitted: MESSAGING_METRICS.OUTBOX_REEMITTED,
	confirmed: MESSAGING_METRICS.OUTBOX_CONFIRMED,
	dead: MESSAGING_METRICS.OUTBOX_DEAD
} as const);
type OutboxCount = keyof typeof COUNTED_METRICS;

/**
 * How often the gauges read the outbox's summary: an index scan of the pending rows, not worth
 * running every poll on every instance.
 */
const GAUGE_INTERVAL_MS = 15_000;

export interface OutboxOptions {
	/** How often the relay looks for due events (retries, rows whose writer died, missed notifications). */
	pollIntervalMs: number;
	/** Most events claimed per statement. */
	batchSize: number;
	retry: RetryPolicy;
	/** When an event that keeps failing is parked as dead. */
	parking: ParkingPolicy;
}

/** Refuses a retry policy that would re-emit confirmed events; `names` are the settings as the caller spells them. */
export function checkRetryPolicy(retry: RetryPolicy, names = { baseMs: "retry.baseMs", maxMs: "retry.maxMs" }): void {
	if (retry.baseMs < MIN_RETRY_BASE_MS) {
		throw new Error(
			`${names.baseMs} must be at least ${MIN_RETRY_BASE_MS}: under load consumers confirm every ${CONFIRMATION_INTERVAL_MS} ms, and the first re-emit comes after half this delay.`
		);
	}
	if (retry.maxMs < retry.baseMs) throw new Error(`${names.maxMs} must not be below ${names.baseMs}.`);
}

/**
 * The params of `deadEvents` and `replayDeadEvents`, exported so that the gateway's operator
 * routes validate with the same rules (issue 16).
 */
export const DEAD_EVENTS_PARAMS = Object.freeze({ limit: { type: "number", integer: true, min: 1, max: 1000, default: 50, convert: true } } as const);
export const REPLAY_DEAD_EVENTS_PARAMS = Object.freeze({ ids: { type: "array", items: "uuid", optional: true, max: 1000 } } as const);

/** What `outboxActivity` answers: this instance's figures of the last minutes (mixins/outbox-activity.ts). */
export interface OutboxActivity {
	bucketSeconds: number;
	buckets: ActivityBucket[];
}

/** What the outbox keeps for the host service too: the orders reconciler counts into its activity. */
export interface OutboxActivityHost {
	outboxActivity: ActivityCounter;
}

/** What `outboxStatus` answers. */
export interface OutboxStatus {
	service: string;
	pending: number;
	oldestAgeSeconds: number;
	dead: number;
	listeningForDueEvents: boolean;
	/** The oldest pending rows. */
	oldest: unknown[];
}

export interface OutboxMethods {
	/**
	 * Adds an event to the outbox in the caller's transaction; it is emitted as soon as that commits.
	 * `trace`: the trace it belongs to (`traceContextOf(ctx)` of the request or event that caused it).
	 */
	addOutboxEvent<TPayload>(tx: DbTransaction, eventName: string, targetGroup: string, payload: TPayload, trace?: TraceContext): Promise<string>;
	/** Emits due events until none is left; returns how many were emitted. */
	relayPendingEvents(): Promise<number>;
	/** Asks for a relay round now; rounds never overlap, a request during one runs another after it. */
	wakeOutboxRelay(): void;
	/**
	 * Counts what the outbox did, in its Prometheus counter and the operator page's activity; `dead`
	 * whoever parked the events: a rejection, or retention past the redelivery horizon.
	 */
	countOutbox(what: OutboxCount, count?: number): void;
}

interface OutboxInternals {
	emitOutboxRow(row: OutboxRow): Promise<void>;
	/** Emits up to `limit` due events for a consumer group; returns the rows. */
	claimAndEmit(limit: number, targetGroup: string): Promise<OutboxRow[]>;
	/** The live consumer groups that answer, and the silent ones due for a probe now. */
	consumerGroupsByState(): { answering: string[]; probed: string[] };
	/** A consumer group answered: it is not silent. */
	heardFrom(targetGroups: Iterable<string>): void;
	/** This instance emitted to a consumer group: an answer is awaited from it. */
	awaitAnswerFrom(targetGroup: string): void;
	awaitConsumers(eventIds: string[], targetGroup: string): Promise<void>;
	/** What has an available listener in the registry: the consumer groups worth emitting to. */
	liveConsumers(): LiveConsumers;
	updateOutboxGauges(): Promise<void>;
}

interface OutboxLocalVars extends OutboxActivityHost {
	outboxTimer: NodeJS.Timeout | null;
	outboxGaugeTimer: NodeJS.Timeout | null;
	/** The live consumers, until the registry changes (null: read them again). */
	outboxLiveConsumers: LiveConsumers | null;
	/**
	 * Since when this instance has awaited an answer from each consumer group (its first emit after
	 * the group's last answer), and when it last probed a silent one (`performance.now()`).
	 */
	outboxAwaitingSince: Map<string, number>;
	outboxProbedAt: Map<string, number>;
	outboxListener: NotificationListener | null;
	outboxRound: Promise<number> | null;
	outboxRoundRequested: boolean;
	outboxStopping: boolean;
}

export function createOutboxMixin(options: OutboxOptions): Partial<ServiceSchema> {
	checkRetryPolicy(options.retry);
	const schema: Partial<ServiceSchema<object, OutboxMethods & OutboxInternals & DbMethods, OutboxLocalVars>> = {
		actions: {
			/** Inspection (REPL: `call orders.outboxStatus`): what waits for confirmation, oldest first. */
			outboxStatus: {
				visibility: "public",
				params: { $$strict: true, limit: { type: "number", integer: true, min: 1, max: 100, default: 10, convert: true } },
				async handler(ctx: Context<{ limit: number }>): Promise<OutboxStatus> {
					const [summary] = await this.queryRows<PendingSummaryRow>(selectPendingSummary());
					const oldest = await this.queryRows(selectPendingEvents(ctx.params.limit));
					return {
						service: this.name,
						pending: summary.pending,
						oldestAgeSeconds: summary.oldest_age_seconds,
						dead: summary.dead,
						listeningForDueEvents: this.outboxListener?.listening ?? false,
						oldest
					};
				}
			},

			/** Events parked as dead, newest first, with their last error (REPL: `call payments.deadEvents`). */
			deadEvents: {
				visibility: "public",
				params: { $$strict: true, ...DEAD_EVENTS_PARAMS },
				handler(ctx: Context<{ limit: number }>): Promise<DeadEventRow[]> {
					return this.queryRows<DeadEventRow>(selectDeadEvents(ctx.params.limit));
				}
			},

			/** Emits dead events again from a fresh start: the given ones, or all (REPL: `call payments.replayDeadEvents`). */
			replayDeadEvents: {
				visibility: "public",
				params: { $$strict: true, ...REPLAY_DEAD_EVENTS_PARAMS },
				async handler(ctx: Context<{ ids?: string[] }, { userId?: string }>) {
					const revived = await this.queryRows<{ id: string }>(reviveDeadEvents(ctx.params.ids ?? null));
					// Who asked: the operator's user id when it came through the gateway.
					this.logger.info({ eventIds: revived.map(row => row.id), operator: ctx.meta.userId }, `Replaying ${revived.length} dead event(s).`);
					this.wakeOutboxRelay();
					return { replayed: revived.map(row => row.id) };
				}
			},

			/** This instance's emits, re-emits, confirmations, parkings (and reconciled orders) of the last minutes; the gateway sums the instances. */
			outboxActivity: {
				visibility: "public",
				params: { $$strict: true },
				handler(): OutboxActivity {
					return { bucketSeconds: ACTIVITY_BUCKET_SECONDS, buckets: this.outboxActivity.snapshot() };
				}
			}
		},

		events: {
			/** A consumer could not apply an event: record why, and park it if it is hopeless. */
			// Answers are read tolerantly (unknown fields stripped), like events: a consumer one version
			// ahead must not have its answers refused during a rolling deploy.
			[MESSAGING_EVENTS.OUTBOX_REJECTED]: {
				params: {
					$$strict: "remove",
					source: "string",
					eventId: "uuid",
					reason: { type: "string", max: 10_000 },
					permanent: "boolean",
					kind: { type: "enum", values: Object.values(FAILURE_KINDS), optional: true },
					attempt: { type: "number", integer: true, positive: true, optional: true }
				},
				async handler(ctx: Context<OutboxRejectedPayload>) {
					const { source, eventId, reason, attempt } = ctx.params;
					if (source !== this.name) return;
					// A consumer of version 1 says only `permanent`, and may mean "too new for me": counted
					// as a failure, which the minimum age keeps from parking during a rolling deploy.
					const kind = ctx.params.kind ?? FAILURE_KINDS.FAILURE;
					const [row] = await this.queryRows<{ event_name: string; target_group: string; failures: number; dead_at: Date | null; trace_id: string | null; counted: boolean }>(
						recordEventFailure(eventId, reason, kind, attempt ?? null, options.parking)
					);
					if (!row) return;
					this.heardFrom([row.target_group]);
					const fields = { ...eventLogFields(eventId, row.event_name, null, row.trace_id), failures: row.failures, attempt, kind };
					if (row.dead_at) {
						this.logger.error(fields, `Event parked as dead: ${reason}`);
						this.countOutbox("dead");
					} else if (kind === FAILURE_KINDS.OUTAGE) {
						this.logger.info(fields, `The consumer met an outage; the event is retried (not counted as a failure): ${reason}`);
					} else if (row.counted) {
						this.logger.warn(
							fields,
							`The consumer could not apply the event (failure ${row.failures}; parked after ${options.parking.maxFailures} once ${options.parking.minAgeMs / 1000} s old): ${reason}`
						);
					}
				}
			},

			/** A consumer has applied these events (or had already): stop re-emitting them. */
			[MESSAGING_EVENTS.OUTBOX_CONFIRMED]: {
				params: {
					$$strict: "remove",
					source: "string",
					eventIds: { type: "array", items: "uuid", max: 1000 }
				},
				async handler(ctx: Context<OutboxConfirmedPayload>) {
					if (ctx.params.source !== this.name || ctx.params.eventIds.length === 0) return;
					const confirmed = await this.queryRows<{ target_group: string }>(confirmEvents(ctx.params.eventIds));
					this.heardFrom(confirmed.map(row => row.target_group));
					this.countOutbox("confirmed", confirmed.length);
				}
			},

			/** A consumer group may have come (back), or gone: emit what waited for it. */
			"$services.changed"() {
				this.outboxLiveConsumers = null;
				this.wakeOutboxRelay();
			}
		},

		methods: {
			async addOutboxEvent<TPayload>(tx: DbTransaction, eventName: string, targetGroup: string, payload: TPayload, trace?: TraceContext): Promise<string> {
				const [row] = await this.queryRows<OutboxRow>(insertOutboxEvent(eventName, targetGroup, payload, options.retry.baseMs, trace), tx);
				// Emitted by this process as soon as it is committed: no relay round, no claim statement.
				tx.afterCommit(() => void this.emitOutboxRow(row));
				return row.id;
			},

			countOutbox(what: OutboxCount, count: number = 1) {
				this.broker.metrics.increment(COUNTED_METRICS[what], { service: this.name }, count);
				this.outboxActivity.count(what, count);
			},

			wakeOutboxRelay() {
				if (this.outboxStopping) return;
				if (this.outboxRound) {
					this.outboxRoundRequested = true;
					return;
				}
				this.outboxRound = this.relayPendingEvents().finally(() => {
					this.outboxRound = null;
					if (this.outboxRoundRequested) {
						this.outboxRoundRequested = false;
						this.wakeOutboxRelay();
					}
				});
			},

			async relayPendingEvents(): Promise<number> {
				let emitted = 0;
				try {
					const { answering, probed } = this.consumerGroupsByState();
					for (const group of probed) emitted += (await this.claimAndEmit(1, group)).length;
					// One group at a time, by its own index: the rows of an absent group are never read.
					for (const group of answering) {
						for (;;) {
							const rows = await this.claimAndEmit(options.batchSize, group);
							emitted += rows.length;
							if (rows.length < options.batchSize || this.outboxStopping) break;
							await this.awaitConsumers(
								rows.map(row => row.id),
								group
							);
						}
						if (this.outboxStopping) break;
					}
					return emitted;
				} catch (err) {
					// The rows stay pending and are claimed again when due: nothing is lost by giving up here.
					this.logger.warn("Outbox relay round failed; pending events will be retried.", err);
					return emitted;
				}
			},

			/**
			 * Flow control for a backlog: the next batch is claimed once the consumers have answered
			 * (applied, or rejected) most of this one, so a backlog is emitted at the pace it is
			 * worked through. Emitting it all at once would leave events queued past their lease,
			 * each then emitted again (measured: a burst of 2,000 rows sent 1.5 times over), and a
			 * consumer that answers nothing would get the whole backlog again every retry. It waits
			 * at most the longest retry delay, and not at all once a consumer group has gone.
			 */
			async awaitConsumers(eventIds: string[], targetGroup: string) {
				const deadline = performance.now() + options.retry.maxMs;
				const enough = Math.floor(eventIds.length / 2);
				while (!this.outboxStopping && performance.now() < deadline) {
					if (!this.liveConsumers().groups.has(targetGroup)) return;
					const [{ unanswered }] = await this.queryRows<{ unanswered: number }>(countUnanswered(eventIds));
					if (unanswered <= enough) return;
					await new Promise(resolve => setTimeout(resolve, FLOW_CONTROL_CHECK_MS));
				}
			},

			async claimAndEmit(limit: number, targetGroup: string): Promise<OutboxRow[]> {
				const rows = await this.queryRows<OutboxRow>(claimDueEvents(limit, options.retry, targetGroup));
				// Not awaited: in one process `emit` runs the consumer's handler, and one slow
				// payment must not hold up the others. The claim already scheduled each retry.
				for (const row of rows) void this.emitOutboxRow(row);
				return rows;
			},

			consumerGroupsByState() {
				const now = performance.now();
				const silenceMs = SILENCE_IN_RETRY_DELAYS * options.retry.baseMs;
				const answering: string[] = [];
				const probed: string[] = [];
				for (const group of this.liveConsumers().groups) {
					if (now - (this.outboxAwaitingSince.get(group) ?? now) <= silenceMs) answering.push(group);
					else if (now - (this.outboxProbedAt.get(group) ?? -Infinity) >= options.retry.baseMs) {
						this.outboxProbedAt.set(group, now);
						probed.push(group);
					}
				}
				return { answering, probed };
			},

			heardFrom(targetGroups: Iterable<string>) {
				for (const group of targetGroups) this.outboxAwaitingSince.delete(group);
			},

			awaitAnswerFrom(targetGroup: string) {
				if (!this.outboxAwaitingSince.has(targetGroup)) this.outboxAwaitingSince.set(targetGroup, performance.now());
			},

			liveConsumers(): LiveConsumers {
				// Read once per registry change (and poll), not per event: listing allocates.
				if (!this.outboxLiveConsumers) {
					const events = this.broker.registry.getEventList({ onlyAvailable: true, skipInternal: true }) as { name: string; group: string }[];
					this.outboxLiveConsumers = {
						groups: new Set(events.map(event => event.group)),
						listeners: new Set(events.map(event => listenerKey(event.name, event.group)))
					};
				}
				return this.outboxLiveConsumers;
			},

			async emitOutboxRow(row: OutboxRow) {
				const logFields = eventLogFields(row.id, row.event_name, row.payload, row.trace_id);
				// Emitted to a group with no live instance, it would only wait in a queue, copy upon
				// copy at each retry; the relay emits it once the group is back (`$services.changed`).
				if (!this.liveConsumers().listeners.has(listenerKey(row.event_name, row.target_group))) {
					this.logger.debug({ ...logFields, group: row.target_group }, "No live consumer: the event waits for one.");
					return;
				}
				const envelope: EventEnvelope<unknown> = { eventId: row.id, source: this.name, payload: row.payload };
				const eventMeta: EventMeta = { schemaVersion: EVENT_SCHEMA_VERSION, attempt: row.attempts };
				if (row.attempts > 1) {
					this.logger.info({ ...logFields, attempt: row.attempts }, "Re-emitting an unconfirmed event.");
					this.countOutbox("reemitted");
				}
				this.countOutbox("emitted");
				this.awaitAnswerFrom(row.target_group);
				const trace = storedTraceContext(row);
				// A span per emit, in the row's trace: the consumer's handler is its child, and the
				// re-emits of a row sit side by side under the request that wrote it.
				const span =
					trace?.sampled && this.broker.isTracingEnabled()
						? this.broker.tracer.startSpan(`outbox emit '${row.event_name}'`, {
								type: "outbox",
								service: this,
								traceID: trace.traceId,
								parentID: trace.parentSpanId,
								sampled: true,
								tags: { eventId: row.id, attempt: row.attempts, group: row.target_group, ...(logFields.orderId && { orderId: logFields.orderId }) }
							})
						: null;
				try {
					await this.broker.emit(row.event_name, envelope, {
						groups: [row.target_group],
						meta: { eventMeta },
						...(trace && { parentSpan: span ?? asParentSpan(trace) })
					});
				} catch (err) {
					span?.setError(err as Error);
					// The row stays unconfirmed and is emitted again when its retry is due.
					this.logger.warn(logFields, "Emitting the event failed; it will be retried.", err);
				} finally {
					span?.finish();
				}
			},

			async updateOutboxGauges() {
				if (!this.broker.isMetricsEnabled()) return;
				try {
					const [summary] = await this.queryRows<PendingSummaryRow>(selectPendingSummary());
					this.broker.metrics.set(MESSAGING_METRICS.OUTBOX_PENDING, summary.pending, { service: this.name });
					this.broker.metrics.set(MESSAGING_METRICS.OUTBOX_DEAD_PARKED, summary.dead, { service: this.name });
					this.broker.metrics.set(MESSAGING_METRICS.OUTBOX_OLDEST_PENDING_AGE, summary.oldest_age_seconds, { service: this.name });
				} catch (err) {
					this.logger.warn("Could not read the outbox summary for the metrics.", err);
				}
			}
		},

		created() {
			this.outboxTimer = null;
			this.outboxGaugeTimer = null;
			this.outboxLiveConsumers = null;
			this.outboxAwaitingSince = new Map();
			this.outboxProbedAt = new Map();
			this.outboxListener = null;
			this.outboxRound = null;
			this.outboxRoundRequested = false;
			this.outboxStopping = false;
			this.outboxActivity = new ActivityCounter();
		},

		started() {
			this.outboxStopping = false;
			registerMessagingMetrics(this.broker);
			this.outboxTimer = setInterval(() => {
				// Read afresh at least every poll too: a registry change before this service's handlers
				// were registered (at start) would otherwise go unseen.
				this.outboxLiveConsumers = null;
				this.wakeOutboxRelay();
			}, options.pollIntervalMs);
			if (this.broker.isMetricsEnabled()) {
				void this.updateOutboxGauges();
				this.outboxGaugeTimer = setInterval(() => void this.updateOutboxGauges(), GAUGE_INTERVAL_MS);
			}
			// Its first connection runs the first round (events committed before a restart); should it
			// fail, the first poll does.
			this.outboxListener = this.listenForNotifications(OUTBOX_DUE_CHANNEL, () => this.wakeOutboxRelay());
		},

		async stopped() {
			this.outboxStopping = true;
			if (this.outboxTimer) clearInterval(this.outboxTimer);
			if (this.outboxGaugeTimer) clearInterval(this.outboxGaugeTimer);
			this.outboxTimer = null;
			this.outboxGaugeTimer = null;
			await this.outboxListener?.close();
			this.outboxListener = null;
			await this.outboxRound; // let the round in flight finish before the pool closes
		}
	};
	return schema as Partial<ServiceSchema>;
}
