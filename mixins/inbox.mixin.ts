/**
 * Inbox-guarded event handling: each event id is applied at most once.
 *
 * `consumeOnce` checks the event against its payload schema, then records the event id and
 * applies the event in one transaction; a redelivered id finds its row and is skipped (a
 * concurrent duplicate waits on the primary key, then skips). Either way, once the transaction
 * has committed, the producer is told (`outbox.confirmed`, 5 to 50 milliseconds later, together
 * with the other events confirmed meanwhile) so that its outbox stops re-emitting.
 * If that confirmation is lost, the producer re-emits, the duplicate is skipped and confirmed
 * again.
 *
 * An event that cannot be applied is answered `outbox.rejected`, with what kind of failure it met
 * (mixins/failure-classification.ts) and the attempt it carried: a malformed one for good (the
 * producer parks it at once); one that met an outage (this service's database unavailable, say)
 * as such, which never counts towards parking; any other failure with its error (the producer
 * retries it with backoff and parks it only after repeated failures and a minimum age). Nothing is
 * recorded for it, so a retry starts afresh.
 *
 * Tolerant reader: fields this code does not know, in the envelope or the payload, are stripped,
 * so that events of a producer one version ahead are applied during a rolling deploy; only a
 * field the consumer needs, missing or unusable, makes an event malformed. What version 2 added
 * (the schema version, the attempt) travels in the event's meta (`EventMeta`), where consumers of
 * version 1, which refuse unknown envelope fields, do not look.
 */
import Validator, { type ValidationError, type ValidationSchema } from "fastest-validator";
import type { Context, ServiceSchema } from "moleculer";
import { MESSAGING_EVENTS, type EventEnvelope, type EventMeta, type OutboxConfirmedPayload, type OutboxRejectedPayload } from "./messaging-contracts";
import { FAILURE_KINDS, classifyFailure, type FailureKind } from "./failure-classification";
import { recordInboxEvent } from "./inbox-sql";
import { eventLogFields } from "../platform/logging";
import { MESSAGING_METRICS, registerMessagingMetrics } from "./messaging-metrics";
import type { DbMethods, DbTransaction } from "./db.mixin";

export type InboxOutcome = "applied" | "duplicate" | "rejected";

/**
 * Confirmations travel together: one message and one UPDATE for many events. They wait a few
 * milliseconds, and under load go at most every CONFIRMATION_INTERVAL_MS: with 5 ms alone a busy
 * instance still sent one confirmation per event or two (measured: about 1.7 confirmation messages
 * and UPDATEs per order at saturation; batching them over 50 ms raised the cluster's throughput
 * by a fifth). Both stay far below an outbox lease (OUTBOX_RETRY_BASE_MS), so a confirmed event is
 * not re-emitted while its confirmation waits.
 */
const CONFIRMATION_DELAY_MS = 5;
export const CONFIRMATION_INTERVAL_MS = 50;
const CONFIRMATION_BATCH_MAX = 500;

interface InboxLocalVars {
	/** Event ids applied (or skipped) and not yet confirmed, by producing service. */
	pendingConfirmations: Map<string, string[]>;
	confirmationTimer: NodeJS.Timeout | null;
	/** When the last confirmations were sent (`performance.now()`). */
	confirmationsSentAt: number;
}

interface InboxInternals {
	confirmLater(source: string, eventId: string): void;
	/** Sends every waiting confirmation; never rejects (a confirmation lost costs one re-emit). */
	sendConfirmations(): Promise<void>;
}

/** Which event is applied: its id, name and producing service. */
export interface InboxEvent {
	eventId: string;
	eventName: string;
	source: string;
	/** Only for the log lines (the order it is about). */
	payload?: unknown;
	/** Only for the log lines: the trace it belongs to. */
	requestId?: string | null;
}

export interface InboxMethods {
	/** Applies a valid event unless its id was applied before, and answers the producer. */
	consumeOnce<TPayload>(
		ctx: Context<EventEnvelope<TPayload>>,
		payloadSchema: ValidationSchema,
		apply: (tx: DbTransaction, payload: TPayload, eventId: string) => Promise<void>
	): Promise<InboxOutcome>;
	/**
	 * The inbox guard itself, for an event that arrived by another way than its delivery (the
	 * reconciler): records the id and applies the event in one transaction unless the id was
	 * recorded before, then confirms it to its producer. Throws what `apply` throws.
	 */
	applyOnce(event: InboxEvent, apply: (tx: DbTransaction) => Promise<void>): Promise<"applied" | "duplicate">;
}

const validator = new Validator({ useNewCustomCheckerFunction: true });
type Check = (value: unknown) => true | ValidationError[];
const checks = new WeakMap<ValidationSchema, Check>();

/** The envelope checker for a payload schema, compiled once. */
function envelopeCheck(payloadSchema: ValidationSchema): Check {
	let check = checks.get(payloadSchema);
	if (!check) {
		check = validator.compile({
			$$strict: "remove",
			eventId: "uuid",
			source: { type: "string", min: 1, max: 100 },
			payload: { type: "object", strict: "remove", props: payloadSchema }
		}) as Check;
		checks.set(payloadSchema, check);
	}
	return check;
}

export function createInboxMixin(): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, InboxMethods & InboxInternals & DbMethods, InboxLocalVars>> = {
		created() {
			this.pendingConfirmations = new Map();
			this.confirmationTimer = null;
			this.confirmationsSentAt = -Infinity;
		},

		started() {
			registerMessagingMetrics(this.broker);
		},

		/** Sends what is still waiting; a confirmation lost here only means one more re-emit. */
		async stopped() {
			await this.sendConfirmations();
		},

		methods: {
			async consumeOnce<TPayload>(
				ctx: Context<EventEnvelope<TPayload>>,
				payloadSchema: ValidationSchema,
				apply: (tx: DbTransaction, payload: TPayload, eventId: string) => Promise<void>
			): Promise<InboxOutcome> {
				const eventName = ctx.eventName ?? "unknown";
				const { eventId, source, payload } = (ctx.params ?? {}) as Partial<EventEnvelope<TPayload>>;
				const attempt = (ctx.meta as { eventMeta?: EventMeta } | undefined)?.eventMeta?.attempt;
				const logFields = { ...eventLogFields(String(eventId), eventName, payload, ctx.requestID), source, attempt };
				const reject = async (reason: string, kind: FailureKind): Promise<InboxOutcome> => {
					const rejection: OutboxRejectedPayload = {
						source: source!,
						eventId: eventId!,
						reason,
						permanent: kind === FAILURE_KINDS.MALFORMED,
						kind,
						...(Number.isInteger(attempt) && (attempt as number) > 0 && { attempt })
					};
					try {
						await this.broker.emit(MESSAGING_EVENTS.OUTBOX_REJECTED, rejection, { groups: [source!] });
					} catch (err) {
						// Not fatal: unanswered, the event is re-emitted when its retry is due.
						this.logger.warn(logFields, "Could not answer the producer.", err);
					}
					return "rejected";
				};

				const valid = envelopeCheck(payloadSchema)(ctx.params);
				if (valid !== true) {
					const reason = `Malformed event: ${valid.map(error => error.message).join(" ")}`;
					this.logger.error(logFields, `${reason} It is rejected for good.`);
					// Without a well-formed id and producer there is no one to answer.
					const answerable = typeof eventId === "string" && typeof source === "string" && !valid.some(e => e.field === "eventId" || e.field === "source");
					return answerable ? reject(reason, FAILURE_KINDS.MALFORMED) : "rejected";
				}

				try {
					return await this.applyOnce({ eventId: eventId!, eventName, source: source!, payload, requestId: ctx.requestID }, tx => apply(tx, payload as TPayload, eventId!));
				} catch (err) {
					const kind = classifyFailure(err);
					if (kind === FAILURE_KINDS.OUTAGE) this.logger.warn(logFields, "Could not apply the event during an outage; the producer will retry it.", err);
					else this.logger.error(logFields, "Applying the event failed; the producer will retry it.", err);
					return reject((err as Error)?.message ?? String(err), kind);
				}
			},

			async applyOnce({ eventId, eventName, source, payload, requestId }: InboxEvent, apply: (tx: DbTransaction) => Promise<void>): Promise<"applied" | "duplicate"> {
				const applied = await this.withTransaction(async tx => {
					const recorded = await this.queryRows(recordInboxEvent(eventId, eventName, source), tx);
					if (recorded.length === 0) return false;
					await apply(tx);
					return true;
				});
				const logFields = { ...eventLogFields(eventId, eventName, payload, requestId), source };
				if (applied) this.logger.debug(logFields, "Applied the event.");
				else this.logger.info(logFields, "Skipped a duplicate delivery.");
				this.broker.metrics.increment(applied ? MESSAGING_METRICS.INBOX_APPLIED : MESSAGING_METRICS.INBOX_DUPLICATES_SKIPPED, { service: this.name });
				this.confirmLater(source, eventId);
				return applied ? "applied" : "duplicate";
			},

			confirmLater(source: string, eventId: string) {
				const ids = this.pendingConfirmations.get(source) ?? [];
				ids.push(eventId);
				this.pendingConfirmations.set(source, ids);
				if (ids.length >= CONFIRMATION_BATCH_MAX) void this.sendConfirmations();
				else if (!this.confirmationTimer) {
					// A monotonic clock: a wall clock stepped back would hold confirmations up.
					const delay = Math.max(CONFIRMATION_DELAY_MS, this.confirmationsSentAt + CONFIRMATION_INTERVAL_MS - performance.now());
					this.confirmationTimer = setTimeout(() => void this.sendConfirmations(), delay);
				}
			},

			async sendConfirmations() {
				if (this.confirmationTimer) clearTimeout(this.confirmationTimer);
				this.confirmationTimer = null;
				const batches = [...this.pendingConfirmations];
				this.pendingConfirmations.clear();
				this.confirmationsSentAt = performance.now();
				await Promise.all(
					batches.map(async ([source, eventIds]) => {
						const confirmation: OutboxConfirmedPayload = { source, eventIds };
						try {
							await this.broker.emit(MESSAGING_EVENTS.OUTBOX_CONFIRMED, confirmation, { groups: [source] });
						} catch (err) {
							// E.g. the transporter is reconnecting. Not fatal: the producer re-emits, and the
							// duplicates are skipped and confirmed again.
							this.logger.warn({ source, events: eventIds.length }, "Could not send confirmations; the producer will re-emit these events.", err);
						}
					})
				);
			}
		}
	};
	return schema as Partial<ServiceSchema>;
}
