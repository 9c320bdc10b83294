/**
 * The trace back ends TRACING_EXPORTER names get the spans (issue 16): a broker configured from the
 * environment, as the services are, sends to a local HTTP server standing in for Zipkin and Jaeger's
 * collector. A trace continued from a W3C traceparent keeps its 32-digit id in Zipkin.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ServiceBroker } from "moleculer";
import { afterEach, describe, expect, it } from "vitest";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import { waitFor } from "../support/system";

interface Received {
	path: string;
	contentType: string | undefined;
	body: Buffer;
}

let server: Server | undefined;
let broker: ServiceBroker | undefined;

afterEach(async () => {
	await broker?.stop();
	server?.close();
	broker = server = undefined;
});

/** A back end that accepts whatever is posted and keeps it. */
async function standInBackEnd(): Promise<{ url: string; received: Received[] }> {
	const received: Received[] = [];
	server = createServer((req: IncomingMessage, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => {
			received.push({ path: req.url ?? "", contentType: req.headers["content-type"], body: Buffer.concat(chunks) });
			res.writeHead(202).end();
		});
	});
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

async function tracedCall(env: NodeJS.ProcessEnv, parentSpan?: { id: string; traceID: string; sampled: boolean }) {
	broker = new ServiceBroker({ ...createBrokerOptions(loadConfiguration(env)), nodeID: "tracer-probe", logger: false, middlewares: [] });
	broker.createService({ name: "probe", actions: { hello: () => "hi" } });
	await broker.start();
	await broker.call("probe.hello", {}, parentSpan ? { parentSpan } : {});
}

describe("trace exporters", () => {
	it("zipkin: posts the spans to TRACING_URL, with the caller's 128-bit trace id whole", async () => {
		const backEnd = await standInBackEnd();
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736";
		await tracedCall({ TRACING_EXPORTER: "zipkin", TRACING_URL: backEnd.url }, { id: "00f067aa0ba902b7", traceID, sampled: true });
		const [post] = await waitFor("spans at the Zipkin stand-in", async () => (backEnd.received.length > 0 ? backEnd.received : null));
		expect(post.path).toBe("/api/v2/spans");
		const spans = JSON.parse(post.body.toString()) as { name: string; traceId: string; parentId: string }[];
		expect(spans).toContainEqual(expect.objectContaining({ name: "action 'probe.hello'", traceId: traceID, parentId: "00f067aa0ba902b7" }));
	});

	it("jaeger: posts Thrift batches to the collector endpoint in TRACING_URL", async () => {
		const backEnd = await standInBackEnd();
		await tracedCall({ TRACING_EXPORTER: "jaeger", TRACING_URL: `${backEnd.url}/api/traces` });
		const [post] = await waitFor("spans at the Jaeger stand-in", async () => (backEnd.received.length > 0 ? backEnd.received : null));
		expect(post.path).toBe("/api/traces");
		expect(post.contentType).toBe("application/x-thrift");
		expect(post.body.includes("action 'probe.hello'")).toBe(true);
	});
});
