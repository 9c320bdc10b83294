/**
 * Broker middlewares for tests that tamper with deliveries the way a transport could: count them,
 * or lose the first delivery of every event id.
 */
import type { Context, Middleware } from "moleculer";
import type { EventEnvelope } from "../../lib/contracts";

/** Counts the deliveries of an event that reached its handler and finished. */
export function deliveryCounter(eventName: string): Middleware & { count: number } {
	const counter = {
		name: "DeliveryCounter",
		count: 0,
		localEvent(next: (ctx: Context) => Promise<void>, event: { name: string }) {
			if (event.name !== eventName) return next;
			return async (ctx: Context) => {
				try {
					await next(ctx);
				} finally {
					counter.count++;
				}
			};
		}
	};
	return counter;
}

/** Loses the first delivery of every event id of `eventName`, as a broken transport would. */
export function dropFirstDelivery(eventName: string): Middleware & { dropped: Set<string> } {
	const dropped = new Set<string>();
	return {
		name: "DropFirstDelivery",
		dropped,
		localEvent(next: (ctx: Context<EventEnvelope<unknown>>) => Promise<void>, event: { name: string }) {
			if (event.name !== eventName) return next;
			return async (ctx: Context<EventEnvelope<unknown>>) => {
				if (dropped.has(ctx.params.eventId)) return next(ctx);
				dropped.add(ctx.params.eventId);
			};
		}
	};
}

