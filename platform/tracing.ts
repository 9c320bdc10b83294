/**
 * One trace per order, across the outbox (issue 16). Moleculer's tracer follows calls and events
 * only while a context is alive; an outbox row is emitted after its transaction commits, or minutes
 * later by a relay of another process. So each row stores the trace it was written in (its
 * `TraceContext`), and every emit of it, first or re-emit, continues that trace: a re-emitted event
 * and its duplicates show up in the trace of the order that caused them.
 *
 * The trace id is Moleculer's request id (`ctx.requestID`): it travels with every call and event
 * whether tracing is on or off, and the log lines about an order carry it as `requestId`.
 */
import type { IncomingMessage } from "node:http";
import { TracerExporters, type BrokerOptions, type Context, type Span, type TracerOptions } from "moleculer";
import type { TracingSettings } from "./config";

/** Where a row (or a log line) stands in its trace. */
export interface TraceContext {
	/** The request id, which is the trace id. */
	traceId: string;
	/** The span that caused the row: the parent of its emits. */
	parentSpanId: string;
	/** Whether the trace is recorded (sampled); false while tracing is off. */
	sampled: boolean;
}

/** The trace a context is in, to store with what it writes. */
export function traceContextOf(ctx: Context): TraceContext {
	return { traceId: ctx.requestID ?? ctx.id, parentSpanId: ctx.span?.id ?? ctx.id, sampled: Boolean(ctx.tracing) && ctx.broker.isTracingEnabled() };
}

/** The columns a row keeps its trace in (outbox_events). */
export interface StoredTraceContext {
	trace_id: string | null;
	trace_parent_span_id: string | null;
	trace_sampled: boolean | null;
}

/** The trace a row was written in; undefined for rows written before traces were kept. */
export function storedTraceContext(row: StoredTraceContext): TraceContext | undefined {
	return row.trace_id ? { traceId: row.trace_id, parentSpanId: row.trace_parent_span_id ?? row.trace_id, sampled: row.trace_sampled === true } : undefined;
}

/** What Moleculer takes as the parent of a new context (`parentSpan` of emit, broadcast and call). */
export interface ParentSpan {
	id: string;
	traceID: string;
	sampled: boolean;
}

export function asParentSpan(trace: TraceContext): ParentSpan {
	return { id: trace.parentSpanId, traceID: trace.traceId, sampled: trace.sampled };
}

// W3C Trace Context, level 1: version-traceid-parentid-flags, lower-case hex. Version 00 has
// nothing after the flags; a later version may (and is read as 00, as the spec says).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;
/**
 * A request id the gateway adopts from `X-Request-ID`: a UUID or 16 to 32 hex digits, what proxies
 * and meshes generate (nginx's `$request_id`, Envoy's UUIDs). Anything else is replaced by a new
 * id: it becomes the trace id, and trace back ends take hex ids only.
 */
const REQUEST_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,32})$/i;

/** The only value of a header, or undefined when it is absent or sent more than once. */
function singleHeader(req: IncomingMessage, name: string): string | undefined {
	const values = req.headersDistinct[name];
	return values?.length === 1 ? values[0] : undefined;
}

/** The parent an incoming `traceparent` names, or undefined when it is absent or invalid (the trace then starts here). */
export function parseTraceparent(value: string | undefined): ParentSpan | undefined {
	const match = value === undefined ? null : TRACEPARENT.exec(value.trim());
	if (!match) return undefined;
	const [, version, traceId, parentId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
	if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
	if (ALL_ZEROS.test(traceId) || ALL_ZEROS.test(parentId)) return undefined;
	return { id: parentId, traceID: traceId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/**
 * The gateway's root call options for a request (moleculer-web's `rootCallOptions`): the trace of
 * a valid `traceparent`, else the request id of a valid `X-Request-ID`, else none (Moleculer makes
 * one). moleculer-web would adopt `X-Request-ID` and `X-Correlation-ID` unchecked; they are
 * replaced here. The request id goes back in the response's `X-Request-ID`.
 */
export function adoptRequestTrace(options: { requestID?: string; parentSpan?: ParentSpan }, req: IncomingMessage): void {
	delete options.requestID;
	const parent = parseTraceparent(singleHeader(req, "traceparent"));
	if (parent) {
		options.requestID = parent.traceID;
		options.parentSpan = parent;
		return;
	}
	const requestId = singleHeader(req, "x-request-id");
	if (requestId !== undefined && REQUEST_ID.test(requestId)) options.requestID = requestId.toLowerCase();
}

/**
 * Moleculer's Zipkin exporter cuts trace ids to 16 hex digits: a trace adopted from a W3C
 * `traceparent` would show in Zipkin under another id than the caller's. This one keeps a 32-digit
 * trace id whole (Zipkin takes both lengths).
 */
class ZipkinExporter extends TracerExporters.Zipkin {
	override makePayload(span: Span): Record<string, unknown> {
		const payload = (TracerExporters.Zipkin.prototype as unknown as { makePayload(span: Span): Record<string, unknown> }).makePayload.call(this, span);
		const traceId = span.traceID?.replace(/-/g, "");
		if (traceId && /^[0-9a-f]{32}$/i.test(traceId)) payload.traceId = traceId.toLowerCase();
		return payload;
	}
}

export const TRACING_EXPORTERS = ["console", "zipkin", "jaeger", "event"] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];

/**
 * Moleculer's tracer for the configured exporter (TRACING_EXPORTER; off when unset) and, for
 * `zipkin` and `jaeger`, URL (TRACING_URL); the sampling rate is the share of new traces recorded.
 * Actions and event handlers are traced.
 */
export function tracingOptions({ exporter, url, samplingRate }: TracingSettings): BrokerOptions["tracing"] {
	if (exporter === null) return { enabled: false };
	// Moleculer takes an exporter instance too, though its typings list only the option objects.
	return { enabled: true, exporter: exporterOf(exporter, url) as TracerOptions["exporter"], events: true, sampling: { rate: samplingRate } };
}

function exporterOf(exporter: TracingExporter, url: string | null): unknown {
	switch (exporter) {
		case "console":
			return { type: "Console", options: { colors: false, width: 100 } };
		case "zipkin":
			return new ZipkinExporter({ baseURL: url!, interval: 2 });
		case "jaeger":
			// jaeger-client's HTTP sender, to the collector's Thrift endpoint; 128-bit ids, as W3C's.
			return { type: "Jaeger", options: { endpoint: url!, legacyMode: false } };
		case "event":
			// `$tracing.spans` events, for a collector service in the cluster; sent every second.
			return { type: "Event", options: { interval: 1 } };
	}
}
