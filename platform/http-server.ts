/**
 * The gateway's HTTP server, bounded against slow and malformed clients (issue 15, second attack):
 * with Node's defaults a stalled body held its socket for 301 s, stalled headers for 61 s, and
 * connections had no cap. Node checks the timeouts every `connectionsCheckingInterval` (30 s by
 * default, which would add up to 30 s to each); here every second.
 *
 * Node answers a request it cannot parse (a bad header byte, a smuggling shape: 400; headers too
 * large: 431; too slow: 408) by itself, without the security headers every answer carries; the
 * `clientError` handler writes the same answers with them.
 */
import { createServer, STATUS_CODES, type RequestListener, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { securityHeaders } from "./security-headers";

/** In milliseconds, named as moleculer-web's settings (the gateway's settings extend this). */
export interface HttpServerLimits {
	/** Time to receive a request's headers. */
	headersTimeout: number;
	/** Time to receive a whole request, body included. */
	requestTimeout: number;
	/** How long an idle kept-alive connection stays open. */
	keepAliveTimeout: number;
	/** Open connections at most (GATEWAY_MAX_CONNECTIONS); past it, new ones are closed at once. */
	maxConnections: number;
	/**
	 * A connection with no traffic either way for this long is closed: a client that stops reading
	 * its responses held its connections for good (second attack). Live streams write a heartbeat
	 * every 15 s, so a reading client keeps them.
	 */
	idleTimeout: number;
}

const CONNECTIONS_CHECK_INTERVAL_MS = 1000;

/** Node's own status for its parser's and timers' errors; anything else is a 400. */
const CLIENT_ERROR_STATUS: ReadonlyMap<string, number> = new Map([
	["HPE_HEADER_OVERFLOW", 431],
	["HPE_CHUNK_EXTENSIONS_OVERFLOW", 413],
	["ERR_HTTP_REQUEST_TIMEOUT", 408]
]);

/** The data profile's security headers as raw header lines, for answers written on the socket. */
const RAW_DATA_HEADERS = Object.entries(securityHeaders("data"))
	.map(([name, value]) => `${name}: ${value}\r\n`)
	.join("");

/** The answer Node would give, with the security headers, only where Node would give one: before anything was written. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
	if ((socket as Socket).writable && (socket as Socket).bytesWritten === 0) {
		const status = CLIENT_ERROR_STATUS.get(err.code ?? "") ?? 400;
		socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${RAW_DATA_HEADERS}Content-Length: 0\r\nConnection: close\r\n\r\n`);
	}
	socket.destroy();
}

export function createBoundedHttpServer(handler: RequestListener, limits: HttpServerLimits): Server {
	const server = createServer(
		{
			headersTimeout: limits.headersTimeout,
			requestTimeout: limits.requestTimeout,
			connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, limits.headersTimeout)
		},
		handler
	);
	server.keepAliveTimeout = limits.keepAliveTimeout;
	server.maxConnections = limits.maxConnections;
	server.timeout = limits.idleTimeout;
	// Node's own handling of that timeout leaves the socket open when a response listens for
	// `timeout` (a stalled static file did): the idle socket is closed here, whatever listens.
	server.on("connection", (socket: Socket) => socket.on("timeout", () => socket.destroy()));
	server.on("clientError", answerClientError);
	// Node's own 417 for an Expect it does not know, with the headers every answer carries.
	server.on("checkExpectation", (_req, res) => {
		res.writeHead(417, { ...securityHeaders("data"), Connection: "close", "Content-Length": "0" });
		res.end();
	});
	return server;
}
