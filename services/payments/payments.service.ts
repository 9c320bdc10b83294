/**
 * Payments: one account per user, top-ups, balance, and the payment of orders.
 *
 * A `payment.requested` event is applied inbox-guarded; in that one transaction the payment is
 * decided at most once per order (payment_transactions' primary key), the account is debited with
 * an atomic conditional update (never below zero) and the outcome goes into the outbox as
 * `payment.processed` for the orders service.
 *
 * A `payment.cancelRequested` event (issue 18) is applied the same way: under the same per-order
 * lock as the payment's decision, a payment not decided yet is voided (a refusal with reason
 * CANCELLED_BY_USER is recorded, so the request, when it comes, charges nothing and is not answered),
 * a paid one is refunded once, a refused one has nothing to refund; the answer goes into the
 * outbox as `payment.cancelProcessed`. Every balance change writes its movement to the account's
 * journal in the same statement (`GET /api/accounts/statement`).
 */
import { Errors, type Context, type ServiceSchema } from "moleculer";
import { type RequestMeta } from "../../platform/identity";
import { type EventEnvelope } from "../../mixins/messaging-contracts";
import { ORDER_EVENTS, PAYMENT_CANCEL_REQUESTED_SCHEMA, PAYMENT_REQUESTED_SCHEMA, type PaymentCancelRequestedPayload, type PaymentRequestedPayload } from "../orders/contracts";
import {
	CANCEL_OUTCOMES,
	CANCEL_REASONS,
	PAYMENT_EVENTS,
	PAYMENT_DECISIONS_MAX_ORDERS,
	PAYMENT_OUTCOMES,
	type CancelOutcome,
	type CancelProcessedPayload,
	type MovementKind,
	type PaymentTrailParams,
	type PaymentDecision,
	type PaymentDecisionsParams,
	type PaymentProcessedPayload
} from "./contracts";
import { requireUserId } from "../../platform/identity";
import { traceContextOf, type TraceContext } from "../../platform/tracing";
import { amountRule, fromMinorUnits, toMinorUnits } from "../../platform/money";
import {
	creditAccount,
	debitAccount,
	insertAccount,
	insertPayment,
	lockAccount,
	lockOrderDecision,
	refundPayment,
	selectAccount,
	selectPayment,
	selectPaymentDecisions,
	selectPaymentTrail,
	selectStatement,
	type AccountRow,
	type StatementRow,
	type PaymentDecisionRow,
	type PaymentTrailRow,
	type PaymentRow
} from "./payments-sql";
import { paymentsMigrations } from "./migrations/index";
import { eventDrivenServiceMixins, type EventDrivenServiceMethods } from "../../mixins/event-driven.mixins";
import { eventDrivenSettings, type EventDrivenOverrides } from "../../platform/config";
import type { DbTransaction } from "../../mixins/db.mixin";
import type { PaymentTrail } from "../orders/order-journey";

export interface TopUpParams {
	amount: number;
}

export interface AccountView {
	userId: string;
	balance: number;
	createdAt: Date;
	updatedAt: Date;
}

export interface StatementParams {
	limit: number;
	offset: number;
}

/** One movement of an account, as the statement shows it. */
export interface MovementView {
	kind: MovementKind;
	/** Signed: a payment is negative, a top-up, refund or opening balance positive. */
	amount: number;
	balanceAfter: number;
	/** ISO-8601. */
	at: string;
	/** The order a payment or refund is for. */
	orderId?: string;
}

/** `GET /api/accounts/statement`: the balance always equals the sum of all the account's movements. */
export interface StatementView {
	balance: number;
	/** How many movements the account has in all (the page is `limit` of them from `offset`). */
	total: number;
	limit: number;
	offset: number;
	/** Newest first. */
	movements: MovementView[];
}

/** Construction options; the defaults come from the configuration (platform/config.ts). */
export type PaymentsServiceOptions = EventDrivenOverrides;

interface PaymentsMethods {
	findAccount(userId: string): Promise<AccountView>;
	settlePayment(tx: DbTransaction, request: PaymentRequestedPayload, eventId: string, trace: TraceContext): Promise<void>;
	settleCancel(tx: DbTransaction, request: PaymentCancelRequestedPayload, eventId: string, trace: TraceContext): Promise<void>;
}

type PaymentsThis = PaymentsMethods & EventDrivenServiceMethods;

function toAccountView(row: AccountRow): AccountView {
	return { userId: row.user_id, balance: fromMinorUnits(row.balance_minor), createdAt: row.created_at, updatedAt: row.updated_at };
}

/** Times as ISO-8601 strings: they cross the transporter as JSON anyway. */
function toPaymentTrail(row: PaymentTrailRow): PaymentTrail {
	return {
		requestReceivedAt: row.request_received_at?.toISOString() ?? null,
		decision: row.outcome && row.decided_at ? { outcome: row.outcome, reason: row.reason, decidedAt: row.decided_at.toISOString(), resultEventId: row.result_event_id } : null,
		result: row.result
	};
}

function accountNotFound(): Errors.MoleculerClientError {
	return new Errors.MoleculerClientError("You have no account yet: create one with POST /api/accounts.", 404, "ACCOUNT_NOT_FOUND");
}

export function createPaymentsService(options: PaymentsServiceOptions = {}): ServiceSchema<{ rest: string }, PaymentsThis> {
	return {
		name: "payments",
		mixins: eventDrivenServiceMixins({ migrations: paymentsMigrations, ...eventDrivenSettings("payments", options) }),
		// Routes are declared from the gateway's `/api` root, not under the service name.
		settings: { rest: "/" },

		actions: {
			/** Opens the caller's account with a zero balance. */
			createAccount: {
				rest: "POST /accounts",
				openapi: { summary: "Open your account", body: "Account", responses: { 201: "The new account, balance 0", 409: "You already have an account" } },
				params: { $$strict: true },
				async handler(ctx: Context<object, RequestMeta>): Promise<AccountView> {
					const userId = requireUserId(ctx);
					const [row] = await this.queryRows<AccountRow>(insertAccount(userId));
					if (!row) throw new Errors.MoleculerClientError("You already have an account.", 409, "ACCOUNT_EXISTS");
					ctx.meta.$statusCode = 201;
					ctx.meta.$location = "/api/accounts/balance";
					return toAccountView(row);
				}
			},

			/** Adds money to the caller's account; idempotent with an Idempotency-Key. */
			topUp: {
				rest: "POST /accounts/topup",
				openapi: {
					summary: "Add money to your account",
					body: "Account",
					idempotent: true,
					responses: { 200: "The account with its new balance", 404: "You have no account", 422: "Invalid amount, or the balance would exceed its limit" }
				},
				params: { $$strict: true, amount: amountRule },
				async handler(ctx: Context<TopUpParams, RequestMeta>): Promise<AccountView> {
					const userId = requireUserId(ctx);
					return this.runIdempotent(ctx, "payments.topUp", async tx => {
						const [account] = await this.queryRows(lockAccount(userId), tx);
						if (!account) throw accountNotFound();
						const [row] = await this.queryRows<AccountRow>(creditAccount(userId, toMinorUnits(ctx.params.amount)), tx);
						if (!row) {
							throw new Errors.MoleculerClientError(
								"This top-up would take the balance over its limit (which keeps room for the payments that may still be refunded).",
								422,
								"BALANCE_LIMIT_EXCEEDED"
							);
						}
						return { status: 200, body: toAccountView(row) };
					});
				}
			},

			/**
			 * The decisions made for these orders, each with the id of the event written with it (the
			 * orders service's reconciler asks it about orders still NEW). Not routed by the gateway.
			 */
			paymentDecisions: {
				visibility: "public",
				params: { $$strict: true, orderIds: { type: "array", items: "uuid", min: 1, max: PAYMENT_DECISIONS_MAX_ORDERS } },
				async handler(ctx: Context<PaymentDecisionsParams>): Promise<PaymentDecision[]> {
					const rows = await this.queryRows<PaymentDecisionRow>(selectPaymentDecisions(ctx.params.orderIds));
					return rows.map(row => ({ orderId: row.order_id, outcome: row.outcome, reason: row.reason, eventId: row.result_event_id }));
				}
			},

			/** Payments' side of an order's journey (`orders.journey` asks it). Not routed by the gateway. */
			paymentTrail: {
				visibility: "public",
				params: { $$strict: true, orderId: "uuid", requestEventId: { type: "uuid", nullable: true } },
				async handler(ctx: Context<PaymentTrailParams>): Promise<PaymentTrail> {
					const [row] = await this.queryRows<PaymentTrailRow>(selectPaymentTrail(ctx.params.orderId, ctx.params.requestEventId));
					return toPaymentTrail(row);
				}
			},

			/** The caller's movements, newest first, with the balance they sum to. */
			statement: {
				rest: "GET /accounts/statement",
				openapi: {
					summary: "Your account's statement: top-ups, payments and refunds, newest first, each with the balance after it",
					body: "Statement",
					responses: { 200: "A page of your movements, the current balance and how many there are in all", 404: "You have no account" }
				},
				params: {
					$$strict: true,
					limit: { type: "number", integer: true, min: 1, max: 200, convert: true, default: 50 },
					offset: { type: "number", integer: true, min: 0, max: 1_000_000, convert: true, default: 0 }
				},
				async handler(ctx: Context<StatementParams, RequestMeta>): Promise<StatementView> {
					const userId = requireUserId(ctx);
					const { limit, offset } = ctx.params;
					const [row] = await this.queryRows<StatementRow>(selectStatement(userId, limit, offset));
					if (!row) throw accountNotFound();
					return {
						balance: fromMinorUnits(row.balance_minor),
						total: row.total,
						limit,
						offset,
						movements: row.movements.map(m => ({
							kind: m.kind,
							amount: fromMinorUnits(m.amount_minor),
							balanceAfter: fromMinorUnits(m.balance_after_minor),
							at: new Date(m.created_at).toISOString(),
							...(m.order_id && { orderId: m.order_id })
						}))
					};
				}
			},

			/** The caller's balance. */
			getBalance: {
				rest: "GET /accounts/balance",
				openapi: { summary: "Your balance", body: "Account", responses: { 200: "Your account", 404: "You have no account" } },
				params: { $$strict: true },
				async handler(ctx: Context<object, RequestMeta>): Promise<AccountView> {
					return this.findAccount(requireUserId(ctx));
				}
			}
		},

		events: {
			/** Pays an order, at most once whatever is redelivered. */
			[ORDER_EVENTS.PAYMENT_REQUESTED]: {
				async handler(ctx: Context<EventEnvelope<PaymentRequestedPayload>>) {
					await this.consumeOnce(ctx, PAYMENT_REQUESTED_SCHEMA, (tx, request, eventId) => this.settlePayment(tx, request, eventId, traceContextOf(ctx)));
				}
			},

			/** Voids or refunds a cancelled order's payment, at most once whatever is redelivered. */
			[ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED]: {
				async handler(ctx: Context<EventEnvelope<PaymentCancelRequestedPayload>>) {
					await this.consumeOnce(ctx, PAYMENT_CANCEL_REQUESTED_SCHEMA, (tx, request, eventId) => this.settleCancel(tx, request, eventId, traceContextOf(ctx)));
				}
			}
		},

		methods: {
			async findAccount(userId: string): Promise<AccountView> {
				const [row] = await this.queryRows<AccountRow>(selectAccount(userId));
				if (!row) throw accountNotFound();
				return toAccountView(row);
			},

			/**
			 * Decides the payment of an order and writes the outcome to the outbox. An order decided
			 * before (a new request for it, not a redelivery, which the inbox stops) gets its stored
			 * outcome again, so it can never be charged twice; a voided one gets nothing. A new decision is stored with the id of
			 * its event, which `paymentDecisions` answers with.
			 */
			async settlePayment(tx: DbTransaction, { orderId, userId, amountMinor }: PaymentRequestedPayload, eventId: string, trace: TraceContext): Promise<void> {
				// A cancel of this order waits, or is waited for: a void recorded first refuses this request.
				await this.queryRows(lockOrderDecision(orderId), tx);
				const [decided] = await this.queryRows<PaymentRow>(selectPayment(orderId), tx);
				if (decided?.reason === CANCEL_REASONS.CANCELLED_BY_USER) {
					// Voided: the order left NEW with its cancel, so no answer could change it, and an orders of
					// the version before issue 18 (a rolling deploy) would park this reason as malformed.
					const voidedFields = { orderId, eventId, userId, requestId: trace.traceId };
					tx.afterCommit(() => this.logger.info(voidedFields, "Payment request of a voided order: nothing charged, nothing to answer."));
					return;
				}
				let result: PaymentProcessedPayload;
				if (decided) {
					result = { orderId, outcome: decided.outcome, reason: decided.reason };
				} else {
					const [debited] = await this.queryRows(debitAccount(userId, amountMinor, orderId), tx);
					if (debited) {
						result = { orderId, outcome: PAYMENT_OUTCOMES.PAID, reason: null };
					} else {
						const [account] = await this.queryRows(selectAccount(userId), tx);
						const reason = account ? CANCEL_REASONS.INSUFFICIENT_FUNDS : CANCEL_REASONS.ACCOUNT_NOT_FOUND;
						result = { orderId, outcome: PAYMENT_OUTCOMES.REFUSED, reason };
					}
				}
				const resultEventId = await this.addOutboxEvent(tx, PAYMENT_EVENTS.PAYMENT_PROCESSED, "orders", result, trace);
				if (!decided) await this.queryRows(insertPayment(orderId, userId, amountMinor, result.outcome, result.reason, resultEventId), tx);
				const logFields = { orderId, eventId, resultEventId, userId, requestId: trace.traceId, outcome: result.outcome, reason: result.reason, repeated: Boolean(decided) };
				tx.afterCommit(() => this.logger.info(logFields, "Payment decided."));
			},

			/**
			 * Decides what a cancel does with the order's payment, under the order's lock (so a payment
			 * being decided finishes first, or waits for the void): not decided yet → a refusal with
			 * reason CANCELLED_BY_USER is recorded (VOIDED); paid → refunded once (REFUNDED, also when it
			 * was refunded before: a repeated request gets the same answer and moves nothing); refused →
			 * NOTHING_TO_REFUND. The answer goes into the outbox.
			 */
			async settleCancel(tx: DbTransaction, { orderId, userId, amountMinor }: PaymentCancelRequestedPayload, eventId: string, trace: TraceContext): Promise<void> {
				await this.queryRows(lockOrderDecision(orderId), tx);
				const [decided] = await this.queryRows<PaymentRow>(selectPayment(orderId), tx);
				let outcome: CancelOutcome;
				let refundedNow = false;
				if (!decided) {
					await this.queryRows(insertPayment(orderId, userId, amountMinor, PAYMENT_OUTCOMES.REFUSED, CANCEL_REASONS.CANCELLED_BY_USER, null), tx);
					outcome = CANCEL_OUTCOMES.VOIDED;
				} else if (decided.outcome === PAYMENT_OUTCOMES.PAID) {
					refundedNow = (await this.queryRows(refundPayment(orderId), tx)).length > 0;
					outcome = CANCEL_OUTCOMES.REFUNDED;
				} else {
					outcome = CANCEL_OUTCOMES.NOTHING_TO_REFUND;
				}
				const answer: CancelProcessedPayload = { orderId, outcome };
				const resultEventId = await this.addOutboxEvent(tx, PAYMENT_EVENTS.CANCEL_PROCESSED, "orders", answer, trace);
				const logFields = { orderId, eventId, resultEventId, userId, requestId: trace.traceId, outcome, refundedNow };
				tx.afterCommit(() => this.logger.info(logFields, "Cancel decided."));
			}
		}
	};
}

export default createPaymentsService();
