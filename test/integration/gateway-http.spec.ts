/**
 * The gateway's HTTP server against slow and malformed clients, and its methods (issue 15, second
 * attack): stalled headers and bodies are cut within their timeouts, connections are capped,
 * Node's own error answers carry the security headers, HEAD answers like GET, a wrong method on a
 * known path is 405 with Allow, and a path in another case is no way around the data profile.
 * A gateway alone (no orders or payments): everything here is answered before any service call.
 */
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import fc from "fast-check";
import { ServiceBroker, type Service } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_CONTENT_SECURITY_POLICY } from "../../platform/security-headers";
import { createApiService } from "../../services/api/api.service";

const TIMEOUTS = { headersTimeout: 500, requestTimeout: 1000, idleTimeout: 1500 };
const MAX_CONNECTIONS = 20;
let broker: ServiceBroker;
let port: number;
let baseUrl: string;

beforeAll(async () => {
	broker = new ServiceBroker({ nodeID: `gateway-http-${process.pid}`, logger: false });
	broker.createService(createApiService({ port: 0, logRequest: null, logResponse: null, ...TIMEOUTS, maxConnections: MAX_CONNECTIONS }, { rateLimitPerMinute: 0 }));
	await broker.start();
	port = (broker.getLocalService("api") as Service & { server: { address(): AddressInfo } }).server.address().port;
	baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
	await broker?.stop();
});

interface Exchange {
	/** Everything the server sent, as latin1 text. */
	received: string;
	/** When the server closed the connection, in ms after it was opened. */
	closedAfterMs: number;
}

/** Writes `text` on a fresh connection and waits (at most `limitMs`) for the server to close it. */
function exchange(text: string, limitMs = 5000): Promise<Exchange> {
	return new Promise((resolve, reject) => {
		const started = Date.now();
		const socket = connect(port, "127.0.0.1");
		let received = "";
		const timer = setTimeout(() => {
			socket.destroy();
			reject(new Error(`still open after ${limitMs} ms; received ${JSON.stringify(received.slice(0, 200))}`));
		}, limitMs);
		socket.on("data", chunk => (received += chunk.toString("latin1")));
		socket.on("error", () => undefined); // a reset is a close too
		socket.on("close", () => {
			clearTimeout(timer);
			resolve({ received, closedAfterMs: Date.now() - started });
		});
		socket.write(text, "latin1");
	});
}

function expectSecurityHeaders(received: string, what: string): void {
	const head = received.split("\r\n\r\n")[0].toLowerCase();
	expect(head, what).toContain("x-content-type-options: nosniff");
	expect(head, what).toContain(`content-security-policy: ${DATA_CONTENT_SECURITY_POLICY.toLowerCase()}`);
	expect(head, what).toContain("x-frame-options: deny");
}

describe("slow clients", () => {
	it("closes a connection whose client stops reading its answers, within the idle timeout (third attack)", async () => {
		const server = (broker.getLocalService("api") as Service & { server: { getConnections(cb: (err: Error | null, count: number) => void): void } }).server;
		const connections = () => new Promise<number>(resolve => server.getConnections((_err, count) => resolve(count)));
		const socket = connect(port, "127.0.0.1");
		socket.on("error", () => undefined);
		await new Promise(resolve => socket.once("connect", resolve));
		socket.pause(); // never reads: answers pile up in the buffers (and it never reads the close either)
		socket.write("GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3));
		try {
			await expect.poll(connections, { timeout: 2000 }).toBe(1);
			await expect.poll(connections, { timeout: 5000, interval: 100 }).toBe(0);
		} finally {
			socket.destroy();
		}
	});

	it("answers an Expect it does not know with 417 carrying the security headers", async () => {
		const { received } = await exchange("GET /health HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n");
		expect(received).toMatch(/^HTTP\/1\.1 417/);
		expectSecurityHeaders(received, "417");
	});

	it("cuts a request whose body stalls within the request timeout, with a 408 carrying the security headers", async () => {
		const { received, closedAfterMs } = await exchange("POST /api/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
		expect(closedAfterMs).toBeLessThan(TIMEOUTS.requestTimeout + 1500);
		expect(received).toMatch(/^HTTP\/1\.1 408 /);
		expectSecurityHeaders(received, "408");
	});

	it("cuts a request whose headers stall within the headers timeout", async () => {
		const { received, closedAfterMs } = await exchange("GET /health HTTP/1.1\r\nHost: x\r\n");
		expect(closedAfterMs).toBeLessThan(TIMEOUTS.headersTimeout + 1500);
		expect(received).toMatch(/^HTTP\/1\.1 408 /);
	});

	it("closes connections past the cap at once, and serves again once they are gone", async () => {
		const idle = await Promise.all(
			Array.from(
				{ length: MAX_CONNECTIONS },
				() =>
					new Promise<ReturnType<typeof connect>>(resolve => {
						const socket = connect(port, "127.0.0.1", () => resolve(socket));
						socket.on("error", () => undefined);
					})
			)
		);
		try {
			const { received, closedAfterMs } = await exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
			expect(received).toBe("");
			expect(closedAfterMs).toBeLessThan(TIMEOUTS.headersTimeout);
		} finally {
			for (const socket of idle) socket.destroy();
		}
		await expect.poll(async () => (await fetch(`${baseUrl}/health`)).status).toBe(200);
	});
});

describe("Node's own error answers", () => {
	it.each([
		["a control byte in a header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n", 400],
		["Content-Length and Transfer-Encoding together", "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
		["headers over 16 KB", `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431]
	])("answer %s with the security headers and Connection: close", async (_label, request, status) => {
		const { received } = await exchange(request);
		expect(received).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
		expectSecurityHeaders(received, String(status));
		expect(received.toLowerCase()).toContain("connection: close");
	});
});

describe("methods", () => {
	it.each(["/health", "/ready", "/openapi.json", "/docs", "/docs/swagger-ui.css"])("answers HEAD %s like GET, without a body", async path => {
		const [get, head] = [await fetch(baseUrl + path), await fetch(baseUrl + path, { method: "HEAD" })];
		await get.arrayBuffer();
		expect(head.status).toBe(get.status);
		expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
		expect(await head.text()).toBe("");
	});

	it.each([
		["POST", "/health", "GET, HEAD, OPTIONS"],
		["DELETE", "/ready", "GET, HEAD, OPTIONS"],
		["PUT", "/docs/swagger-ui.css", "GET, HEAD, OPTIONS"]
	])("answers %s %s with 405 and Allow", async (method, path, allow) => {
		const res = await fetch(baseUrl + path, { method });
		expect(res.status).toBe(405);
		expect(res.headers.get("allow")).toBe(allow);
		expect((await res.json()).type).toBe("METHOD_NOT_ALLOWED");
	});
});

describe("paths in another case (issue 15, second attack)", () => {
	const flipCase = (path: string) => fc.array(fc.boolean(), { minLength: path.length, maxLength: path.length }).map(flips => [...path].map((c, i) => (flips[i] ? c.toUpperCase() : c)).join(""));
	const variants = fc.constantFrom("/api/accounts/balance", "/api/orders", "/api/nothing", "/health", "/ready", "/openapi.json").chain(path => fc.tuple(fc.constant(path), flipCase(path)));

	it("are 404 unless canonical, for GET and OPTIONS, and always get the data profile with no-store", async () => {
		await fc.assert(
			fc.asyncProperty(variants, fc.constantFrom("GET", "OPTIONS"), async ([path, variant], method) => {
				const res = await fetch(baseUrl + variant, { method, headers: { "X-User-Id": "case" } });
				await res.arrayBuffer();
				if (variant !== path) expect(res.status, `${method} ${variant}`).toBe(404);
				expect(res.headers.get("content-security-policy"), variant).toBe(DATA_CONTENT_SECURITY_POLICY);
				expect(res.headers.get("cache-control"), variant).toBe("no-store");
			}),
			{ numRuns: 60 }
		);
	});
});
