/**
 * The reconciler, a part of the orders service (one of its mixins, in a file of its own for size;
 * moleculer-runner loads only `*.service` files): it makes "never NEW forever" an invariant.
 *
 * The outbox re-emits every event until it is confirmed, but an event parked as dead (its consumer
 * kept failing) or past the redelivery horizon, or a payment decision lost with a restored backup,
 * leaves its order NEW until someone acts. Every interval, one instance (the one that wins the
 * interval's run) takes the orders NEW for longer than RECONCILE_AFTER_SECONDS, oldest first (a
 * batch a round, each going on where the last full one stopped), and asks payments for their
 * decisions (`payments.paymentDecisions`). Then, for each order:
 * - decided: the decision is applied through the inbox under the id of the event written with it;
 *   the inbox confirms that event, so payments stops re-emitting it, or, were it dead, it leaves the
 *   dead list without a replay, and its real delivery, should it come, is a duplicate;
 * - not decided, its request parked as dead: the request is revived;
 * - not decided, its request still pending: left to the outbox, which is re-emitting it;
 * - not decided, its request confirmed or gone (or never linked): a new request is written.
 * Safe however often it runs, and on any number of instances at once: the inbox applies an event id
 * once, an order ends only while NEW, and payments decides at most once per order.
 *
 * Cancelled orders (issue 18): it reads only orders still NEW, a decision it applies ends an order
 * only while NEW, and a new request is written only under the order's row lock while it is NEW, so
 * an order its owner cancelled is never requested again, resurrected or ended twice. A cancel's
 * request and answer are outbox events like the others, re-emitted until confirmed; of a cancel
 * unanswered past RECONCILE_AFTER_SECONDS, the round revives the request if it was parked as dead,
 * as it does a payment request (safe: payments refunds at most once per order, and orders applies
 * the answer once). An answer parked in payments' outbox is left to an operator's replay: see
 * docs/ARCHITECTURE.md ("Cancel and refund").
 */
import { randomUUID } from "node:crypto";
import type { ServiceSchema } from "moleculer";
import type { ReconcilerSettings } from "../../platform/config";
import { type PaymentRequestedPayload } from "./contracts";
import { PAYMENT_EVENTS, PAYMENT_DECISIONS_ACTION, PAYMENT_DECISIONS_MAX_ORDERS, type PaymentDecision, type PaymentDecisionsParams, type PaymentProcessedPayload } from "../payments/contracts";
import { isOutage } from "../../mixins/failure-classification";
import { claimMaintenanceRun } from "../../mixins/retention-sql";
import { registerMetrics, type MetricDefinition } from "../../mixins/messaging-metrics";
import { reviveDeadEvents } from "../../mixins/outbox-sql";
import { PeriodicJob } from "../../platform/periodic-job";
import {
	REQUEST_STATES,
	countOverdueOrders,
	linkPaymentRequest,
	lockNewOrder,
	selectDeadCancelRequests,
	selectOverdueOrders,
	type OverdueOrderRow,
	type ScanPosition
} from "./reconciliation-sql";
import type { EventDrivenServiceMethods } from "../../mixins/event-driven.mixins";
import type { DbTransaction } from "../../mixins/db.mixin";
import { storedTraceContext, type TraceContext } from "../../platform/tracing";
import type { OutboxActivityHost } from "../../mixins/outbox.mixin";

export interface ReconcilerOptions extends ReconcilerSettings {
	/** Most orders per round, the oldest first; at most what payments answers for at once. */
	batchSize: number;
	/** How long a round waits for payments' answer. */
	callTimeoutMs: number;
}

/** What a round did with an overdue order. */
export const RECONCILE_ACTIONS = Object.freeze({
	/** Payments had decided: the decision was applied, the order ended. */
	APPLIED: "applied",
	/** Not decided, the request was parked as dead: revived, the relay sends it again. */
	REVIVED: "revived",
	/** Not decided, no request alive (confirmed, deleted, or never linked): a new one was written. */
	REQUESTED: "requested",
	/** Not decided, the request still re-emitted by the outbox: left alone. */
	WAITING: "waiting",
	/** Its result arrived meanwhile: nothing to do. */
	ENDED: "ended",
	/** Reconciling it failed (logged); the next round tries again. */
	FAILED: "failed"
} as const);
export type ReconcileAction = (typeof RECONCILE_ACTIONS)[keyof typeof RECONCILE_ACTIONS];

export interface ReconcileRound {
	/** Each overdue order looked at, oldest first, and what was done with it. */
	orders: { orderId: string; action: ReconcileAction }[];
	/** Why payments could not be asked, if it could not: then nothing was done, the next round tries again. */
	paymentsUnreachable?: string;
}

export const RECONCILER_METRICS = Object.freeze({
	RECONCILED: "orders.reconciled.total",
	OVERDUE: "orders.new.overdue"
});

const METRIC_DEFINITIONS: readonly MetricDefinition[] = [
	{ name: RECONCILER_METRICS.RECONCILED, type: "counter", description: "Orders the reconciler acted on, by action (applied, revived, requested, failed)", extraLabels: ["action"] },
	{ name: RECONCILER_METRICS.OVERDUE, type: "gauge", description: "Orders still NEW after RECONCILE_AFTER_SECONDS" }
];

/** The actions that changed something, or failed to, counted in orders.reconciled.total. */
const COUNTED_ACTIONS: ReadonlySet<ReconcileAction> = new Set([RECONCILE_ACTIONS.APPLIED, RECONCILE_ACTIONS.REVIVED, RECONCILE_ACTIONS.REQUESTED, RECONCILE_ACTIONS.FAILED]);

/** The actions that ended or unstuck an order: the operator page's `reconciled` figure (issue 16). */
const RECONCILED_ACTIONS: ReadonlySet<ReconcileAction> = new Set([RECONCILE_ACTIONS.APPLIED, RECONCILE_ACTIONS.REVIVED, RECONCILE_ACTIONS.REQUESTED]);

/** Each action's log line: anything the reconciler had to do means something upstream was lost or stuck. */
const ACTION_LOG: Record<ReconcileAction, { level: "warn" | "info" | "error"; message: string }> = {
	applied: { level: "warn", message: "Reconciler: the payment result had not arrived; applied payments' decision." },
	revived: { level: "warn", message: "Reconciler: the payment request was parked as dead; revived it." },
	requested: { level: "warn", message: "Reconciler: payments has no decision and no request is alive; requested the payment again." },
	waiting: { level: "info", message: "Reconciler: overdue, but its payment request is still being re-emitted; left to the outbox." },
	ended: { level: "info", message: "Reconciler: the order ended meanwhile." },
	failed: { level: "error", message: "Reconciler: reconciling the order failed; the next round tries again." }
};

/** What the orders service provides to the reconciler. */
export interface ReconcilerHostMethods {
	/** Writes an order's payment request to the outbox; returns its event id. */
	requestPayment(tx: DbTransaction, request: PaymentRequestedPayload, trace?: TraceContext): Promise<string>;
	/** Ends the order if it is still NEW; returns whether it did. */
	applyPaymentResult(tx: DbTransaction, result: PaymentProcessedPayload, eventId: string, trace?: TraceContext): Promise<boolean>;
}

export interface ReconcilerMethods {
	/** The timer's round: refreshes the overdue gauge, then reconciles if this instance wins this interval's run. */
	runScheduledReconciliation(): Promise<ReconcileRound | null>;
	/** One round on this instance now, whatever the other instances do. */
	reconcileOverdueOrders(): Promise<ReconcileRound>;
}

interface ReconcilerInternals {
	/** The round's orders still NEW. */
	reconcileNewOrders(): Promise<ReconcileRound>;
	/** Revives the dead requests of cancels unanswered past the threshold; never throws (a failure is logged). */
	reviveDeadCancels(): Promise<ReconcileRound["orders"]>;
	/** Never throws: a failure is logged and reported as such. */
	reconcileOrder(order: OverdueOrderRow, decision: PaymentDecision | undefined): Promise<ReconcileAction>;
	applyDecision(decision: PaymentDecision, trace?: TraceContext): Promise<ReconcileAction>;
	resumePaymentRequest(order: OverdueOrderRow): Promise<ReconcileAction>;
	updateOverdueGauge(): Promise<void>;
}

interface ReconcilerLocalVars {
	reconcileJob: PeriodicJob;
	/**
	 * Where the last full round of this instance stopped: the next goes on from there, and starts
	 * over after a round that was not full. Else the oldest orders a round can do nothing for
	 * (requests still being re-emitted, failures) would take every round and hold the others back.
	 */
	reconcileFrom: ScanPosition | null;
}

type ReconcilerThis = ReconcilerMethods & ReconcilerInternals & ReconcilerHostMethods & EventDrivenServiceMethods & ReconcilerLocalVars & OutboxActivityHost;

/** The reconciler as configured: as many orders a round as payments answers for at once. */
export function reconcilerOptions(settings: ReconcilerSettings): ReconcilerOptions {
	return { ...settings, batchSize: PAYMENT_DECISIONS_MAX_ORDERS, callTimeoutMs: 10_000 };
}

export function createOrderReconciler(options: ReconcilerOptions): Partial<ServiceSchema> {
	if (!(options.batchSize >= 1 && options.batchSize <= PAYMENT_DECISIONS_MAX_ORDERS)) {
		throw new Error(`The reconciler's batch size must be 1 to ${PAYMENT_DECISIONS_MAX_ORDERS} (what payments answers for at once), not ${options.batchSize}.`);
	}
	const schema: Partial<ServiceSchema<object, ReconcilerThis, ReconcilerLocalVars>> = {
		actions: {
			/** Runs a round now on this instance (REPL: `call orders.reconcile`) and returns what it did. */
			reconcile: {
				visibility: "public",
				params: { $$strict: true },
				async handler(): Promise<ReconcileRound> {
					return this.reconcileJob.exclusive(() => this.reconcileOverdueOrders());
				}
			}
		},

		methods: {
			async runScheduledReconciliation(): Promise<ReconcileRound | null> {
				await this.updateOverdueGauge();
				const [won] = await this.queryRows(claimMaintenanceRun("reconcile", options.intervalMs));
				return won ? this.reconcileOverdueOrders() : null;
			},

			async reconcileOverdueOrders(): Promise<ReconcileRound> {
				const round = await this.reconcileNewOrders();
				const cancels = await this.reviveDeadCancels();
				return cancels.length > 0 ? { ...round, orders: [...round.orders, ...cancels] } : round;
			},

			async reviveDeadCancels(): Promise<ReconcileRound["orders"]> {
				try {
					const stuck = await this.queryRows<{ id: string; cancel_event_id: string }>(selectDeadCancelRequests(options.overdueAfterMs, options.batchSize));
					if (stuck.length === 0) return [];
					const revived = new Set((await this.queryRows<{ id: string }>(reviveDeadEvents(stuck.map(order => order.cancel_event_id)))).map(row => row.id));
					if (revived.size > 0) this.wakeOutboxRelay();
					return stuck
						.filter(order => revived.has(order.cancel_event_id))
						.map(order => {
							this.logger.warn({ orderId: order.id, cancelEventId: order.cancel_event_id, action: RECONCILE_ACTIONS.REVIVED }, "Reconciler: the cancel request was parked as dead; revived it.");
							this.broker.metrics.increment(RECONCILER_METRICS.RECONCILED, { service: this.name, action: RECONCILE_ACTIONS.REVIVED });
							this.outboxActivity.count("reconciled");
							return { orderId: order.id, action: RECONCILE_ACTIONS.REVIVED };
						});
				} catch (err) {
					this.logger.error("Reconciler: reviving dead cancel requests failed; the next round tries again.", err);
					return [];
				}
			},

			async reconcileNewOrders(): Promise<ReconcileRound> {
				const overdue = await this.queryRows<OverdueOrderRow>(selectOverdueOrders(options.overdueAfterMs, options.batchSize, this.reconcileFrom));
				if (overdue.length === 0) {
					this.reconcileFrom = null;
					return { orders: [] };
				}
				let decisions: PaymentDecision[];
				try {
					const question: PaymentDecisionsParams = { orderIds: overdue.map(order => order.id) };
					decisions = await this.broker.call<PaymentDecision[], PaymentDecisionsParams>(PAYMENT_DECISIONS_ACTION, question, { timeout: options.callTimeoutMs });
				} catch (err) {
					// Nothing is done without payments' answer: a new request now could only repeat one in flight.
					const fields = { overdue: overdue.length, oldestOrderId: overdue[0].id };
					if (isOutage(err)) this.logger.warn(fields, "Reconciler: payments cannot be asked now; the next round tries again.", err);
					else this.logger.error(fields, "Reconciler: asking payments failed; the next round tries again.", err);
					return { orders: [], paymentsUnreachable: (err as Error).message };
				}
				const last = overdue[overdue.length - 1];
				this.reconcileFrom = overdue.length === options.batchSize ? { createdAt: last.created_at, id: last.id } : null;
				const decisionOf = new Map(decisions.map(decision => [decision.orderId, decision]));
				const orders: ReconcileRound["orders"] = [];
				// One order at a time: a round is small, and its transactions never queue on each other.
				for (const order of overdue) orders.push({ orderId: order.id, action: await this.reconcileOrder(order, decisionOf.get(order.id)) });
				return { orders };
			},

			async reconcileOrder(order: OverdueOrderRow, decision: PaymentDecision | undefined): Promise<ReconcileAction> {
				let action: ReconcileAction;
				const failure: unknown[] = [];
				try {
					action = decision ? await this.applyDecision(decision, storedTraceContext(order)) : await this.resumePaymentRequest(order);
				} catch (err) {
					action = RECONCILE_ACTIONS.FAILED;
					failure.push(err);
				}
				const fields = {
					orderId: order.id,
					requestId: order.trace_id,
					request: order.request_state,
					requestEventId: order.request_event_id,
					...(decision && { outcome: decision.outcome }),
					action
				};
				this.logger[ACTION_LOG[action].level](fields, ACTION_LOG[action].message, ...failure);
				if (COUNTED_ACTIONS.has(action)) this.broker.metrics.increment(RECONCILER_METRICS.RECONCILED, { service: this.name, action });
				if (RECONCILED_ACTIONS.has(action)) this.outboxActivity.count("reconciled");
				return action;
			},

			/** Under the id of the event written with the decision, so that the inbox treats the two as one. */
			async applyDecision({ orderId, outcome, reason, eventId }: PaymentDecision, trace?: TraceContext): Promise<ReconcileAction> {
				const result: PaymentProcessedPayload = { orderId, outcome, reason };
				// A decision stored before its event id was gets an id of its own: the status guard alone then
				// keeps its event from ending the order twice, which is enough.
				const inboxId = eventId ?? randomUUID();
				let ended = false;
				await this.applyOnce({ eventId: inboxId, eventName: PAYMENT_EVENTS.PAYMENT_PROCESSED, source: "payments", payload: result, requestId: trace?.traceId }, async tx => {
					ended = await this.applyPaymentResult(tx, result, inboxId, trace);
				});
				return ended ? RECONCILE_ACTIONS.APPLIED : RECONCILE_ACTIONS.ENDED;
			},

			/** No decision yet: the request must reach payments, so it is revived or written anew unless the outbox still sends it. */
			async resumePaymentRequest(order: OverdueOrderRow): Promise<ReconcileAction> {
				switch (order.request_state) {
					case REQUEST_STATES.PENDING:
						return RECONCILE_ACTIONS.WAITING;
					case REQUEST_STATES.DEAD: {
						const revived = await this.queryRows(reviveDeadEvents([order.request_event_id]));
						if (revived.length === 0) return RECONCILE_ACTIONS.WAITING; // replayed meanwhile
						this.wakeOutboxRelay();
						return RECONCILE_ACTIONS.REVIVED;
					}
					default: {
						// Applied (confirmed, maybe deleted since) yet undecided: payments lost its decision, say to a
						// restored backup; or an order from before requests were linked. A new request is safe:
						// payments decides at most once per order, whatever it receives.
						// Only while NEW, under its row lock: an order its owner cancelled meanwhile is left alone.
						const request: PaymentRequestedPayload = { orderId: order.id, userId: order.user_id, amountMinor: Number(order.amount_minor) };
						const requested = await this.withTransaction(async tx => {
							if ((await this.queryRows(lockNewOrder(order.id), tx)).length === 0) return false;
							await this.queryRows(linkPaymentRequest(order.id, await this.requestPayment(tx, request, storedTraceContext(order))), tx);
							return true;
						});
						return requested ? RECONCILE_ACTIONS.REQUESTED : RECONCILE_ACTIONS.ENDED;
					}
				}
			},

			/** Set by every instance (the database's figure, as the outbox gauges): aggregate it with `max`. */
			async updateOverdueGauge() {
				if (!this.broker.isMetricsEnabled()) return;
				try {
					const [{ overdue }] = await this.queryRows<{ overdue: number }>(countOverdueOrders(options.overdueAfterMs));
					this.broker.metrics.set(RECONCILER_METRICS.OVERDUE, overdue, { service: this.name });
				} catch (err) {
					this.logger.warn("Could not count the overdue orders for the metrics.", err);
				}
			}
		},

		created() {
			this.reconcileFrom = null;
			this.reconcileJob = new PeriodicJob(
				options.intervalMs,
				() => this.runScheduledReconciliation(),
				err => this.logger.warn("The reconciler's round failed; it runs again next interval.", err)
			);
		},

		started() {
			registerMetrics(this.broker, METRIC_DEFINITIONS);
			this.reconcileJob.start();
		},

		/** Listed before the database's mixin, it stops before the pool closes: the round in flight finishes first. */
		async stopped() {
			await this.reconcileJob.stop();
		}
	};
	return schema as Partial<ServiceSchema>;
}
