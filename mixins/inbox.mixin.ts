/**
 * Inbox-guarded event handling: each event id is applied at most once.
 *
 * `consumeOnce` records the event id and applies the event in one transaction; a redelivered id
 * finds its row and is skipped (a concurrent duplicate waits on the primary key, then skips). Either
 * way, once the transaction has committed, the producer is told (`outbox.confirmed`) so that its
 * outbox stops re-emitting. If that confirmation is lost, the producer re-emits, the duplicate is
 * skipped and confirmed again. If applying throws, nothing is recorded or confirmed, and the
 * producer's retry brings the event back.
 */
import type { Context, ServiceSchema } from "moleculer";
import type { ValidationSchema } from "fastest-validator";
import type { Transaction } from "sequelize";
import { EVENTS, type EventEnvelope, type OutboxConfirmedPayload } from "../lib/contracts";
import { eventLogFields } from "../lib/logging";
import { MESSAGING_METRICS, registerMessagingMetrics } from "../lib/messaging-metrics";
import { recordInboxEvent } from "../lib/outbox-sql";
import type { DbMethods } from "./db.mixin";

export interface InboxMethods {
	/** Applies the event unless its id was applied before; returns whether it was applied now. */
	consumeOnce<TPayload>(ctx: Context<EventEnvelope<TPayload>>, apply: (tx: Transaction, payload: TPayload, eventId: string) => Promise<void>): Promise<boolean>;
}

/** Validation schema of an event envelope whose payload has the given properties. */
export function envelopeParams(payloadProps: ValidationSchema): ValidationSchema {
	return {
		$$strict: true,
		eventId: "uuid",
		source: "string",
		payload: { type: "object", strict: true, props: payloadProps }
	};
}

export function createInboxMixin(): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, InboxMethods & DbMethods>> = {
		started() {
			registerMessagingMetrics(this.broker);
		},

		methods: {
			async consumeOnce<TPayload>(
				ctx: Context<EventEnvelope<TPayload>>,
				apply: (tx: Transaction, payload: TPayload, eventId: string) => Promise<void>
			): Promise<boolean> {
				const { eventId, source, payload } = ctx.params;
				const eventName = ctx.eventName ?? "unknown";
				const logFields = { ...eventLogFields(eventId, eventName, payload), source };
				let applied: boolean;
				try {
					applied = await this.withTransaction(async tx => {
						const recorded = await this.queryRows(recordInboxEvent(eventId, eventName, source), tx);
						if (recorded.length === 0) return false;
						await apply(tx, payload, eventId);
						return true;
					});
				} catch (err) {
					this.logger.error(logFields, "Applying the event failed; the producer will deliver it again.", err);
					throw err;
				}
				if (applied) this.logger.debug(logFields, "Applied the event.");
				else this.logger.info(logFields, "Skipped a duplicate delivery.");
				this.broker.metrics.increment(applied ? MESSAGING_METRICS.INBOX_APPLIED : MESSAGING_METRICS.INBOX_DUPLICATES_SKIPPED, { service: this.name });
				const confirmation: OutboxConfirmedPayload = { source, eventIds: [eventId] };
				await this.broker.emit(EVENTS.OUTBOX_CONFIRMED, confirmation, { groups: [source] });
				return applied;
			}
		}
	};
	return schema as Partial<ServiceSchema>;
}
