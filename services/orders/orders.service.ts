/**
 * Orders: takes orders (status NEW), lists and shows a user's orders, and ends each one as
 * FINISHED or CANCELLED (with a reason) when its payment result arrives.
 *
 * Creating an order writes the order and its `payment.requested` event in one transaction (the
 * outbox), so an order can never exist without its payment request, nor the reverse. The result,
 * `payment.processed`, is applied inbox-guarded and only to an order still NEW.
 * The reconciler (orders.reconciler.ts) sees to it that no order stays NEW forever.
 *
 * Its owner may cancel an order (issue 18, a compensating saga on the same outbox): a NEW one
 * ends CANCELLED (CANCELLED_BY_USER) at once, a FINISHED one is refunded and ends REFUNDED when
 * payments says so. Either way the cancel's transaction writes `payment.cancelRequested`, and
 * payments' answer, `payment.cancelProcessed`, is applied inbox-guarded, once per order. A payment
 * result is applied only while NEW, a cancel answer only once: any arrival order ends the same.
 */
import { randomUUID } from "node:crypto";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import { type RequestMeta } from "../../platform/identity";
import { type EventEnvelope } from "../../mixins/messaging-contracts";
import { ORDER_EVENTS, type OrderView, type PaymentCancelRequestedPayload, type PaymentRequestedPayload } from "./contracts";
import {
	CANCEL_PROCESSED_SCHEMA,
	PAYMENT_EVENTS,
	PAYMENT_OUTCOMES,
	PAYMENT_PROCESSED_SCHEMA,
	PAYMENT_TRAIL_ACTION,
	type CancelProcessedPayload,
	type PaymentProcessedPayload,
	type PaymentTrailParams
} from "../payments/contracts";
import { selectInboxReceipt } from "../../mixins/inbox-sql";
import { journeyOf, type Journey, type PaymentTrail } from "./order-journey";
import { requireUserId } from "../../platform/identity";
import { asParentSpan, traceContextOf, type TraceContext } from "../../platform/tracing";
import { amountRule, fromMinorUnits, toMinorUnits } from "../../platform/money";
import { textRule } from "../../platform/validation";
import {
	ORDER_STATUSES,
	applyCancelOutcome,
	cancelNewOrder,
	finishOrder,
	insertOrder,
	lockUserOrder,
	requestRefund,
	selectOrderTrail,
	selectUserOrder,
	selectUserOrders,
	type OrderRow,
	type OrderTrailRow
} from "./orders-sql";
import { ordersMigrations } from "./migrations/index";
import { eventDrivenServiceMixins, type EventDrivenServiceMethods } from "../../mixins/event-driven.mixins";
import { configuration, eventDrivenSettings, type EventDrivenOverrides } from "../../platform/config";
import type { DbTransaction } from "../../mixins/db.mixin";
import type { SqlQuery } from "../../platform/sql";
import { createOrderReconciler, reconcilerOptions, type ReconcilerHostMethods, type ReconcilerMethods, type ReconcilerOptions } from "./orders.reconciler";

export interface CreateOrderParams {
	amount: number;
	description: string;
}

export interface ListOrdersParams {
	limit: number;
	offset: number;
}

export interface GetOrderParams {
	id: string;
}

export interface OrderJourneyParams {
	id: string;
	/** Only this user's order (the owner's route), told without the consumers' error messages; absent: any order, errors included (the operator's route). */
	userId?: string;
}

/** Construction options; the defaults come from the configuration (platform/config.ts). */
export interface OrdersServiceOptions extends EventDrivenOverrides {
	/** Overrides the RECONCILE_* variables (tests). */
	reconciler?: ReconcilerOptions;
}

export interface CancelOrderParams {
	id: string;
}

interface OrdersMethods extends ReconcilerHostMethods {
	placeOrder(tx: DbTransaction, userId: string, params: CreateOrderParams, trace: TraceContext): Promise<OrderView>;
	/** Throws ORDER_NOT_FOUND, or ORDER_NOT_CANCELLABLE (409) for a CANCELLED or REFUNDED order. */
	cancelOrder(tx: DbTransaction, userId: string, orderId: string, trace: TraceContext): Promise<{ status: 200 | 202; order: OrderView }>;
	applyCancelResult(tx: DbTransaction, result: CancelProcessedPayload, eventId: string, trace?: TraceContext): Promise<boolean>;
	/**
	 * Runs the guarded update that ends or settles an order; after commit, logs it and pushes the
	 * order. False when the guard let nothing through (applied before, or nothing waits for it).
	 */
	settleOrder(tx: DbTransaction, update: SqlQuery, logFields: Record<string, unknown>, trace: TraceContext | undefined, log: { ignored: string; settled: string }): Promise<boolean>;
	/** After commit: the order's new state to the gateways, the last hop of its trace. */
	pushOrder(order: OrderView, trace?: TraceContext): void;
	/** Throws ORDER_NOT_FOUND for a malformed or unknown id, or another user's order. */
	orderJourney(ctx: Context, orderId: string, userId: string | null): Promise<Journey>;
}

type OrdersThis = OrdersMethods & ReconcilerMethods & EventDrivenServiceMethods;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toOrderView(row: OrderRow): OrderView {
	return {
		id: row.id,
		userId: row.user_id,
		amount: fromMinorUnits(row.amount_minor),
		description: row.description,
		status: row.status,
		...(row.cancel_reason ? { cancelReason: row.cancel_reason } : {}),
		...(row.cancel_requested_at ? { cancelRequestedAt: row.cancel_requested_at } : {}),
		...(row.refunded_at ? { refundedAt: row.refunded_at } : {}),
		createdAt: row.created_at,
		updatedAt: row.updated_at
	};
}

function orderNotFound(): Errors.MoleculerClientError {
	return new Errors.MoleculerClientError("Order not found.", 404, "ORDER_NOT_FOUND");
}

function orderNotCancellable(status: string): Errors.MoleculerClientError {
	return new Errors.MoleculerClientError(`This order is ${status}: there is nothing left to cancel.`, 409, "ORDER_NOT_CANCELLABLE");
}

export function createOrdersService(options: OrdersServiceOptions = {}): ServiceSchema<{ rest: string }, OrdersThis> {
	return {
		name: "orders",
		// The reconciler first: it starts after the database (Moleculer starts the last-listed first) and stops before it.
		mixins: [
			createOrderReconciler(options.reconciler ?? reconcilerOptions(configuration().reconciler)),
			...eventDrivenServiceMixins({ migrations: ordersMigrations, ...eventDrivenSettings("orders", options) })
		],
		// Routes are declared from the gateway's `/api` root, not under the service name.
		settings: { rest: "/" },

		actions: {
			/** Places an order for the caller (status NEW) and requests its payment; idempotent with an Idempotency-Key. */
			create: {
				rest: "POST /orders",
				openapi: {
					summary: "Place an order; it is paid (FINISHED) or refused (CANCELLED) shortly after",
					body: "Order",
					idempotent: true,
					responses: { 201: "The order, status NEW; Location names it" }
				},
				params: {
					$$strict: true,
					amount: amountRule,
					description: textRule(1, 500)
				},
				async handler(ctx: Context<CreateOrderParams, RequestMeta>): Promise<OrderView> {
					const userId = requireUserId(ctx);
					return this.runIdempotent(ctx, "orders.create", async tx => {
						const order = await this.placeOrder(tx, userId, ctx.params, traceContextOf(ctx));
						return { status: 201, body: order, location: `/api/orders/${order.id}` };
					});
				}
			},

			/** The caller's orders, newest first. */
			list: {
				rest: "GET /orders",
				openapi: { summary: "Your orders, newest first", body: "OrderList", responses: { 200: "A page of your orders" } },
				params: {
					$$strict: true,
					limit: { type: "number", integer: true, min: 1, max: 200, convert: true, default: 50 },
					offset: { type: "number", integer: true, min: 0, max: 1_000_000, convert: true, default: 0 }
				},
				async handler(ctx: Context<ListOrdersParams, RequestMeta>): Promise<OrderView[]> {
					const userId = requireUserId(ctx);
					const rows = await this.queryRows<OrderRow>(selectUserOrders(userId, ctx.params.limit, ctx.params.offset));
					return rows.map(toOrderView);
				}
			},

			/** One of the caller's orders; another user's order is reported as not found. */
			get: {
				rest: "GET /orders/:id",
				openapi: { summary: "One of your orders", body: "Order", responses: { 200: "The order", 404: "No such order of yours (unknown or malformed id, or another user's)" } },
				params: { $$strict: true, id: "string" },
				async handler(ctx: Context<GetOrderParams, RequestMeta>): Promise<OrderView> {
					const userId = requireUserId(ctx);
					if (!UUID_PATTERN.test(ctx.params.id)) throw orderNotFound();
					const [row] = await this.queryRows<OrderRow>(selectUserOrder(userId, ctx.params.id));
					if (!row) throw orderNotFound();
					return toOrderView(row);
				}
			},

			/**
			 * Cancels one of the caller's orders; idempotent with an Idempotency-Key (a retry gets the
			 * first answer). NEW: 200, the order CANCELLED (CANCELLED_BY_USER) at once, and payments voids
			 * its payment (or refunds it, if it was taken meanwhile: `refundedAt` appears later). FINISHED:
			 * 202, the order still FINISHED with `cancelRequestedAt`; it ends REFUNDED, with `refundedAt`,
			 * when payments has refunded it (pushed live). FINISHED with a refund already asked: 202 again,
			 * nothing more asked. CANCELLED or REFUNDED: 409.
			 */
			cancel: {
				rest: "POST /orders/:id/cancel",
				openapi: {
					summary: "Cancel your order: a NEW one is cancelled at once, a FINISHED one refunded (it ends REFUNDED when the money is back)",
					body: "Order",
					idempotent: true,
					responses: {
						200: "Was NEW: now CANCELLED (reason CANCELLED_BY_USER); refundedAt appears if its payment had been taken meanwhile",
						202: "Was FINISHED: refund requested (cancelRequestedAt); the order turns REFUNDED, with refundedAt, shortly after",
						404: "No such order of yours (unknown or malformed id, or another user's)",
						409: "The order is CANCELLED or REFUNDED already (code ORDER_NOT_CANCELLABLE)"
					}
				},
				params: { $$strict: true, id: "string" },
				async handler(ctx: Context<CancelOrderParams, RequestMeta>): Promise<OrderView> {
					const userId = requireUserId(ctx);
					if (!UUID_PATTERN.test(ctx.params.id)) throw orderNotFound();
					return this.runIdempotent(ctx, "orders.cancel", async tx => {
						const { status, order } = await this.cancelOrder(tx, userId, ctx.params.id, traceContextOf(ctx));
						return { status, body: order };
					});
				}
			},

			/** An order's journey across both services, and what it waits for while NEW (issue 16); the gateway routes it for the owner and for operators. */
			journey: {
				visibility: "public",
				params: { $$strict: true, id: "string", userId: { type: "string", optional: true } },
				handler(ctx: Context<OrderJourneyParams>): Promise<Journey> {
					return this.orderJourney(ctx, ctx.params.id, ctx.params.userId ?? null);
				}
			}
		},

		events: {
			/** Ends an order with its payment's outcome, at most once whatever is redelivered. */
			[PAYMENT_EVENTS.PAYMENT_PROCESSED]: {
				async handler(ctx: Context<EventEnvelope<PaymentProcessedPayload>>) {
					await this.consumeOnce(ctx, PAYMENT_PROCESSED_SCHEMA, async (tx, result, eventId) => {
						await this.applyPaymentResult(tx, result, eventId, traceContextOf(ctx));
					});
				}
			},

			/** Applies payments' answer to a cancel (refunded, voided, nothing to refund), at most once whatever is redelivered. */
			[PAYMENT_EVENTS.CANCEL_PROCESSED]: {
				async handler(ctx: Context<EventEnvelope<CancelProcessedPayload>>) {
					await this.consumeOnce(ctx, CANCEL_PROCESSED_SCHEMA, async (tx, result, eventId) => {
						await this.applyCancelResult(tx, result, eventId, traceContextOf(ctx));
					});
				}
			}
		},

		methods: {
			async orderJourney(ctx: Context, orderId: string, userId: string | null): Promise<Journey> {
				if (!UUID_PATTERN.test(orderId)) throw orderNotFound();
				const [row] = await this.queryRows<OrderTrailRow>(selectOrderTrail(orderId, userId));
				if (!row) throw orderNotFound();
				let payments: PaymentTrail | null = null;
				try {
					const question: PaymentTrailParams = { orderId, requestEventId: row.request_event_id };
					payments = await ctx.call<PaymentTrail, PaymentTrailParams>(PAYMENT_TRAIL_ACTION, question);
				} catch (err) {
					// The orders side is still worth showing: the journey says payments could not be asked.
					this.logger.warn({ orderId }, "Could not ask payments for the order's journey.", err);
				}
				const resultEventId = payments?.decision?.resultEventId;
				const [applied] = resultEventId ? await this.queryRows<{ received_at: Date }>(selectInboxReceipt(resultEventId)) : [];
				const facts = {
					order: { status: row.status, createdAt: row.created_at, updatedAt: row.updated_at, cancelRequestedAt: row.cancel_requested_at, refundedAt: row.refunded_at },
					request: row.request,
					payments,
					resultAppliedAt: applied?.received_at.toISOString() ?? null
				};
				// An order asked for by its owner (the owner's route) is shown without the consumers' raw errors.
				return { order: toOrderView(row), traceId: row.trace_id, ...journeyOf(facts, userId === null ? "operator" : "owner") };
			},

			async placeOrder(tx: DbTransaction, userId: string, { amount, description }: CreateOrderParams, trace: TraceContext): Promise<OrderView> {
				const request: PaymentRequestedPayload = { orderId: randomUUID(), userId, amountMinor: toMinorUnits(amount) };
				// The request first, so that the order names it (the reconciler looks it up); both commit together.
				const eventId = await this.requestPayment(tx, request, trace);
				const [row] = await this.queryRows<OrderRow>(insertOrder(request.orderId, userId, request.amountMinor, description, eventId), tx);
				tx.afterCommit(() => this.logger.info({ orderId: row.id, eventId, userId, requestId: trace.traceId }, "Order placed."));
				return toOrderView(row);
			},

			async cancelOrder(tx: DbTransaction, userId: string, orderId: string, trace: TraceContext): Promise<{ status: 200 | 202; order: OrderView }> {
				// The row lock queues this cancel behind a payment result being applied, or another cancel.
				const [current] = await this.queryRows<OrderRow>(lockUserOrder(userId, orderId), tx);
				if (!current) throw orderNotFound();
				if (current.status === ORDER_STATUSES.CANCELLED || current.status === ORDER_STATUSES.REFUNDED) throw orderNotCancellable(current.status);
				if (current.status === ORDER_STATUSES.FINISHED && current.cancel_requested_at) return { status: 202, order: toOrderView(current) };
				const request: PaymentCancelRequestedPayload = { orderId, userId, amountMinor: Number(current.amount_minor) };
				const eventId = await this.addOutboxEvent(tx, ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED, "payments", request, trace);
				const wasNew = current.status === ORDER_STATUSES.NEW;
				const [updated] = await this.queryRows<OrderRow>(wasNew ? cancelNewOrder(orderId, eventId) : requestRefund(orderId, eventId), tx);
				const order = toOrderView(updated);
				tx.afterCommit(() => {
					this.logger.info({ orderId, eventId, userId, requestId: trace.traceId, was: current.status }, wasNew ? "Order cancelled by its owner." : "Refund of the order requested by its owner.");
					this.pushOrder(order, trace);
				});
				return { status: wasNew ? 200 : 202, order };
			},

			applyCancelResult(tx: DbTransaction, { orderId, outcome }: CancelProcessedPayload, eventId: string, trace?: TraceContext): Promise<boolean> {
				const logFields = { orderId, eventId, outcome, ...(trace && { requestId: trace.traceId }) };
				return this.settleOrder(tx, applyCancelOutcome(orderId, outcome), logFields, trace, {
					ignored: "Cancel result ignored: it was applied before, or no cancel of the order is waiting for it.",
					settled: "Cancel settled."
				});
			},

			async settleOrder(tx: DbTransaction, update: SqlQuery, logFields: Record<string, unknown>, trace: TraceContext | undefined, log: { ignored: string; settled: string }): Promise<boolean> {
				const [updated] = await this.queryRows<OrderRow>(update, tx);
				if (!updated) {
					this.logger.info(logFields, log.ignored);
					return false;
				}
				const order = toOrderView(updated);
				tx.afterCommit(() => {
					this.logger.info({ ...logFields, status: order.status, cancelReason: order.cancelReason, refundedAt: order.refundedAt }, log.settled);
					// The push is the last hop of the order's trace.
					this.pushOrder(order, trace);
				});
				return true;
			},

			pushOrder(order: OrderView, trace?: TraceContext) {
				void this.broker.broadcast(ORDER_EVENTS.ORDER_STATUS_CHANGED, order, trace && { parentSpan: asParentSpan(trace) });
			},

			requestPayment(tx: DbTransaction, request: PaymentRequestedPayload, trace?: TraceContext): Promise<string> {
				return this.addOutboxEvent(tx, ORDER_EVENTS.PAYMENT_REQUESTED, "payments", request, trace);
			},

			applyPaymentResult(tx: DbTransaction, { orderId, outcome, reason }: PaymentProcessedPayload, eventId: string, trace?: TraceContext): Promise<boolean> {
				const status = outcome === PAYMENT_OUTCOMES.PAID ? ORDER_STATUSES.FINISHED : ORDER_STATUSES.CANCELLED;
				const logFields = { orderId, eventId, ...(trace && { requestId: trace.traceId }) };
				return this.settleOrder(tx, finishOrder(orderId, status, status === ORDER_STATUSES.CANCELLED ? reason : null), logFields, trace, {
					ignored: "Payment result ignored: the order is not NEW.",
					settled: "Order ended."
				});
			}
		}
	};
}

export default createOrdersService();
