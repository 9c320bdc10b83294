/**
 * Log lines about an event or an order carry its ids as fields: pass `eventLogFields(...)` (or
 * `{ orderId, requestId }`) as the first argument. `requestId` is the request's trace id (platform/tracing.ts):
 * one value for every line, on every service, about what one order's request caused. With LOG_FORMAT=json (the default when
 * NODE_ENV=production) each line is one JSON object and these become its fields; errors become
 * an `error` field with their message and stack. In text format they print before the message.
 */
import type { BrokerOptions } from "moleculer";
import type { Configuration } from "./config";

function errorFields(err: Error): Record<string, unknown> {
	const { code, type, data } = err as Error & { code?: unknown; type?: unknown; data?: unknown };
	return { name: err.name, message: err.message, stack: err.stack, ...(code !== undefined && { code }), ...(type !== undefined && { type }), ...(data !== undefined && { data }) };
}

/** One JSON object per line. Moleculer's own "json" formats drop an error's message and stack. */
export function formatJsonLine(type: string, args: unknown[], bindings: Record<string, unknown>, { printArgs }: { printArgs(args: unknown[]): unknown[] }): string[] {
	const record: Record<string, unknown> = { time: new Date().toISOString(), level: type, ...bindings };
	const parts: unknown[] = [];
	args.forEach((arg, index) => {
		if (arg instanceof Error) record.error = errorFields(arg);
		else if (index === 0 && arg !== null && typeof arg === "object" && !Array.isArray(arg)) Object.assign(record, arg);
		else parts.push(arg);
	});
	record.message = printArgs(parts).join(" ");
	try {
		return [JSON.stringify(record)];
	} catch {
		return [JSON.stringify({ time: record.time, level: type, message: String(record.message), unserializable: true })];
	}
}

export function loggerOptions({ format }: Configuration["logging"]): BrokerOptions["logger"] {
	const json = format === "json";
	return { type: "Console", options: { formatter: json ? formatJsonLine : "short", colors: !json && process.stdout.isTTY } };
}

export interface EventLogFields {
	eventId: string;
	event: string;
	orderId?: string;
	requestId?: string;
}

/** The ids that identify an event in the logs, with the order it is about and the trace it belongs to when known. */
export function eventLogFields(eventId: string, event: string, payload: unknown, requestId?: string | null): EventLogFields {
	const orderId = (payload as { orderId?: unknown } | null)?.orderId;
	return { eventId, event, ...(typeof orderId === "string" && { orderId }), ...(requestId && { requestId }) };
}
