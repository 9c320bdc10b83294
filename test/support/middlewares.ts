/**
 * Broker middlewares for tests that tamper with deliveries the way a transport could: count them,
 * or lose the first delivery of every event id.
 */
import type { Context, Middleware } from "moleculer";
import type { EventEnvelope } from "../../mixins/messaging-contracts";

/**
 * A test's middleware as a Moleculer middleware. Its hooks take plain handlers (`next(ctx)`);
 * Moleculer's typings want handlers bound to a service, which a hook never needs.
 */
export function asMiddleware<T extends { name: string }>(middleware: T): Middleware & T {
	return middleware;
}

/** Counts the deliveries of an event that reached its handler and finished. */
export function deliveryCounter(eventName: string): Middleware & { count: number } {
	const counter = asMiddleware({
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
	});
	return counter;
}

/**
 * Loses the first delivery of every event id of `eventName` (of those `only` picks), as a broken
 * transport would.
 */
export function dropFirstDelivery<TPayload = unknown>(eventName: string, only: (payload: TPayload) => boolean = () => true): Middleware & { dropped: Set<string> } {
	const dropped = new Set<string>();
	return asMiddleware({
		name: "DropFirstDelivery",
		dropped,
		localEvent(next: (ctx: Context<EventEnvelope<TPayload>>) => Promise<void>, event: { name: string }) {
			if (event.name !== eventName) return next;
			return async (ctx: Context<EventEnvelope<TPayload>>) => {
				if (dropped.has(ctx.params.eventId) || !only(ctx.params.payload)) return next(ctx);
				dropped.add(ctx.params.eventId);
			};
		}
	});
}
