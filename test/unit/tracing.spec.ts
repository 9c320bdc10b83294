import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { adoptRequestTrace, parseTraceparent, tracingOptions } from "../../platform/tracing";
import { loadConfiguration } from "../../platform/config";

const tracingOptionsFor = (env: NodeJS.ProcessEnv) => tracingOptions(loadConfiguration(env).tracing);

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

const request = (headers: Record<string, string | string[]>) =>
	({ headersDistinct: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value : [value]])) }) as unknown as IncomingMessage;

describe("W3C traceparent", () => {
	it("reads the trace, the parent and the sampled flag", () => {
		expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({ traceID: TRACE, id: PARENT, sampled: true });
		expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).toEqual({ traceID: TRACE, id: PARENT, sampled: false });
		// A later version may carry more; it is read as version 00.
		expect(parseTraceparent(`01-${TRACE}-${PARENT}-03-more`)).toEqual({ traceID: TRACE, id: PARENT, sampled: true });
	});

	it.each([
		["absent", undefined],
		["empty", ""],
		["upper-case hex", `00-${TRACE.toUpperCase()}-${PARENT}-01`],
		["an all-zero trace id", `00-${"0".repeat(32)}-${PARENT}-01`],
		["an all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
		["version ff", `ff-${TRACE}-${PARENT}-01`],
		["version 00 with more after the flags", `00-${TRACE}-${PARENT}-01-x`],
		["a short trace id", `00-${TRACE.slice(1)}-${PARENT}-01`],
		["garbage", "<script>"]
	])("ignores %s", (_what, value) => {
		expect(parseTraceparent(value)).toBeUndefined();
	});
});

describe("the gateway's request trace", () => {
	it("continues a valid traceparent, before any X-Request-ID", () => {
		const options: Record<string, unknown> = { requestID: "from moleculer-web" };
		adoptRequestTrace(options, request({ traceparent: `00-${TRACE}-${PARENT}-01`, "x-request-id": "0f8fad5b-d9cb-469f-a165-70867728950e" }));
		expect(options).toEqual({ requestID: TRACE, parentSpan: { traceID: TRACE, id: PARENT, sampled: true } });
	});

	it("adopts a UUID or hex X-Request-ID, in lower case", () => {
		for (const [sent, adopted] of [
			["0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950e"],
			["a3ce929d0e0e4736", "a3ce929d0e0e4736"]
		]) {
			const options: Record<string, unknown> = {};
			adoptRequestTrace(options, request({ "x-request-id": sent }));
			expect(options).toEqual({ requestID: adopted });
		}
	});

	it("drops what moleculer-web took unchecked: an unusable X-Request-ID, any X-Correlation-ID, a header sent twice", () => {
		const unusable: Record<string, string | string[]>[] = [
			{ "x-request-id": "<script>" },
			{ "x-request-id": "x".repeat(33) },
			{ "x-correlation-id": TRACE },
			{ "x-request-id": [TRACE, TRACE] },
			{ traceparent: [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`] }
		];
		for (const headers of unusable) {
			const options: Record<string, unknown> = { requestID: "unchecked" };
			adoptRequestTrace(options, request(headers));
			expect(options, JSON.stringify(headers)).toEqual({});
		}
	});
});

describe("tracing settings", () => {
	it("are off unless TRACING_EXPORTER is set", () => {
		expect(tracingOptionsFor({})).toEqual({ enabled: false });
		expect(tracingOptionsFor({ TRACING_EXPORTER: "" })).toEqual({ enabled: false });
	});

	it("trace actions and events with the chosen exporter", () => {
		expect(tracingOptionsFor({ TRACING_EXPORTER: "console" })).toMatchObject({ enabled: true, events: true, sampling: { rate: 1 }, exporter: { type: "Console" } });
		expect(tracingOptionsFor({ TRACING_EXPORTER: "event", TRACING_SAMPLING_RATE: "0.25" })).toMatchObject({ exporter: { type: "Event" }, sampling: { rate: 0.25 } });
		expect(tracingOptionsFor({ TRACING_EXPORTER: "jaeger", TRACING_URL: "http://jaeger:14268/api/traces" })).toMatchObject({
			exporter: { type: "Jaeger", options: { endpoint: "http://jaeger:14268/api/traces" } }
		});
		expect(tracingOptionsFor({ TRACING_EXPORTER: "zipkin", TRACING_URL: "http://zipkin:9411/" })).toMatchObject({ exporter: { opts: { baseURL: "http://zipkin:9411" } } });
	});

	it.each([
		[{ TRACING_EXPORTER: "Zipkin" }, /TRACING_EXPORTER must be one of console, zipkin, jaeger, event/],
		[{ TRACING_EXPORTER: "zipkin" }, /TRACING_EXPORTER=zipkin needs TRACING_URL/],
		[{ TRACING_EXPORTER: "jaeger", TRACING_URL: "jaeger:14268" }, /TRACING_EXPORTER=jaeger needs TRACING_URL, an http\(s\) URL/],
		[{ TRACING_EXPORTER: "zipkin", TRACING_URL: "not a url" }, /needs TRACING_URL/],
		[{ TRACING_EXPORTER: "console", TRACING_SAMPLING_RATE: "2" }, /TRACING_SAMPLING_RATE must be a number from 0 to 1/],
		[{ TRACING_EXPORTER: "console", TRACING_SAMPLING_RATE: "half" }, /TRACING_SAMPLING_RATE/]
	])("refuse %j with a clear message", (env, message) => {
		expect(() => tracingOptionsFor(env)).toThrow(message);
	});
});
