/**
 * Liveness and readiness of one process, on its own port (`HEALTH_PORT`), for processes that
 * run no gateway (an orders or payments instance in a cluster), as Kubernetes probes expect:
 * - `GET /health`: 200 while the process lives, from the moment the broker is created (a slow
 *   start, say migrations waiting for a lock, is not a dead process);
 * - `GET /ready`: 200 once the broker has started, the transporter works (on RabbitMQ: a channel
 *   open, not lost since), the node consumes its services' RabbitMQ queues (a second or so after the
 *   start, and again after a reconnection) and every local service with a
 *   database answers its `readiness` action; 503 (with the checks) otherwise, and from the moment
 *   a graceful stop begins.
 * Both answer only what a probe needs: no node id (host name and pid), no error text (issue 15).
 * HEAD is answered as GET, without the body (probes that use it failed), and Node's own answers to
 * malformed requests carry the security headers too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Middleware, ServiceBroker } from "moleculer";
import { EventDurableAmqpTransporter, isTransporterWorking } from "./amqp-transporter";
import { answerClientError } from "./http-server";
import { setSecurityHeaders } from "./security-headers";

interface Check {
	name: string;
	ready: boolean;
}

async function readinessChecks(broker: ServiceBroker, stopping: boolean): Promise<Check[]> {
	const checks: Check[] = [
		{ name: "broker", ready: broker.started && !stopping },
		{ name: "transporter", ready: isTransporterWorking(broker) }
	];
	if (!broker.started) return checks;
	const transporter = (broker.transit as { tx?: unknown } | undefined)?.tx;
	if (transporter instanceof EventDurableAmqpTransporter && broker.options.disableBalancer) {
		checks.push({ name: "queues", ready: broker.services.every(service => transporter.consumesQueuesOf(service.fullName)) });
	}
	for (const service of broker.services) {
		if (!service.schema.actions?.readiness) continue;
		const ready = await broker.call<{ ready: boolean }, object>(`${service.name}.readiness`, {}, { nodeID: broker.nodeID, timeout: 2000, tracking: false }).then(
			result => result.ready,
			() => false
		);
		checks.push({ name: service.name, ready });
	}
	return checks;
}

/** The probes' whole surface: nothing here reads a body, a query or a header. */
function answer(req: IncomingMessage, res: ServerResponse, broker: ServiceBroker, stopping: boolean): void {
	const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
		if (res.headersSent) return;
		res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
		res.end(JSON.stringify(body));
	};
	// Node sends no body for HEAD.
	if (req.method !== "GET" && req.method !== "HEAD") return reply(405, { error: "method not allowed" }, { Allow: "GET, HEAD" });
	if (req.url === "/health") return reply(200, { status: "ok" });
	if (req.url !== "/ready") return reply(404, { error: "not found" });
	readinessChecks(broker, stopping).then(
		checks => {
			const ready = checks.every(c => c.ready);
			reply(ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks });
		},
		// Which check failed is in the log; the probe's answer names no driver, address or node.
		err => {
			broker.logger.warn("The readiness checks failed.", err);
			reply(503, { status: "not ready" });
		}
	);
}

export function createHealthServerMiddleware(port: number): Middleware {
	let server: Server | null = null;
	let stopping = false;
	return {
		name: "HealthServer",
		created(broker: ServiceBroker) {
			server = createServer((req, res) => {
				setSecurityHeaders(res, "data");
				try {
					answer(req, res, broker, stopping);
				} catch (err) {
					broker.logger.warn("A health request failed.", err);
					res.destroy();
				}
			});
			server.on("clientError", answerClientError);
			// Only the first error is the listen's; later ones (a socket's) must not be unhandled.
			server.once("error", err => broker.fatal(`The health endpoints cannot listen on port ${port}.`, err, true));
			server.on("listening", () => server?.on("error", err => broker.logger.warn("Health server error.", err)));
			server.listen(port, () => broker.logger.info(`Health endpoints on http://0.0.0.0:${port}/health and /ready`));
		},
		async stopping() {
			stopping = true;
		},
		stopped() {
			return new Promise<void>(resolve => (server ? server.close(() => resolve()) : resolve()));
		}
	};
}
