/**
 * Log lines about an event or an order carry its ids as fields: pass `eventLogFields(...)` (or
 * `{ orderId }`) as the first argument. With LOG_FORMAT=json (the default when
 * NODE_ENV=production) each line is one JSON object and these become its fields (Moleculer's
 * "jsonext" formatter); in text format they print in front of the message.
 */
import type { BrokerOptions } from "moleculer";

export function loggerOptions(env: NodeJS.ProcessEnv): BrokerOptions["logger"] {
	const json = (env.LOG_FORMAT ?? (env.NODE_ENV === "production" ? "json" : "text")) === "json";
	return { type: "Console", options: { formatter: json ? "jsonext" : "short", colors: !json && process.stdout.isTTY } };
}

export interface EventLogFields {
	eventId: string;
	event: string;
	orderId?: string;
}

/** The ids that identify an event in the logs, with the order it is about when it has one. */
export function eventLogFields(eventId: string, event: string, payload: unknown): EventLogFields {
	const orderId = (payload as { orderId?: unknown } | null)?.orderId;
	return { eventId, event, ...(typeof orderId === "string" && { orderId }) };
}
