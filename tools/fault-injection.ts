/**
 * Fault injection for the fault suite: with FAULT_INJECTION="drop=0.05,duplicate=0.05" a process
 * loses or doubles incoming deliveries of the events that carry the payment flow and its cancels, as a
 * broken transport would (a lost message, a redelivery). Off unless the variable is set (read by platform/config.ts).
 */
import type { Context, Middleware } from "moleculer";
import { MESSAGING_EVENTS } from "../mixins/messaging-contracts";
import { PAYMENT_EVENTS } from "../services/payments/contracts";
import { ORDER_EVENTS } from "../services/orders/contracts";
import type { FaultRates } from "../platform/config";

const FAULTY_EVENTS: ReadonlySet<string> = new Set([
	ORDER_EVENTS.PAYMENT_REQUESTED,
	PAYMENT_EVENTS.PAYMENT_PROCESSED,
	ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED,
	PAYMENT_EVENTS.CANCEL_PROCESSED,
	MESSAGING_EVENTS.OUTBOX_CONFIRMED,
	MESSAGING_EVENTS.OUTBOX_REJECTED
]);

export function createFaultInjectionMiddleware(rates: FaultRates): Middleware {
	return {
		name: "FaultInjection",
		localEvent(next: (ctx: Context) => void | Promise<void>, event: { name?: string }) {
			if (!event.name || !FAULTY_EVENTS.has(event.name)) return next;
			return async (ctx: Context<{ eventId?: string; eventIds?: string[] }>) => {
				const roll = Math.random();
				const fields = { event: event.name!, eventId: ctx.params.eventId ?? ctx.params.eventIds?.join(",") };
				if (roll < rates.drop) {
					ctx.broker.logger.info(fields, "Fault injection: dropped a delivery.");
					return;
				}
				if (roll < rates.drop + rates.duplicate) {
					ctx.broker.logger.info(fields, "Fault injection: delivered twice.");
					await Promise.all([next(ctx), next(ctx)]);
					return;
				}
				return next(ctx);
			};
		}
	};
}
