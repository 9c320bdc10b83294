/**
 * Broker options, the same on every node: transport (RabbitMQ when TRANSPORTER is set, otherwise
 * all services in one process), validation, timeouts and shutdown, and the embedded Postgres'
 * lifecycle. Where each service's database is: platform/database.ts.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Validators, type BrokerOptions, type Middleware, type ReplOptions, type ServiceBroker } from "moleculer";
import { stopEmbeddedPostgres } from "./platform/database";
import { EventDurableAmqpTransporter, requestsBalancedByRabbitMq } from "./platform/amqp-transporter";
import { ORDER_EVENTS } from "./services/orders/contracts";
import { MESSAGING_EVENTS } from "./mixins/messaging-contracts";
import { configuration, REQUEST_DRAIN_TIMEOUT_MS, type Configuration } from "./platform/config";
import { createFaultInjectionMiddleware } from "./tools/fault-injection";
import { createHealthServerMiddleware } from "./platform/health-server";
import { loggerOptions } from "./platform/logging";
import { tracingOptions } from "./platform/tracing";
import { replCommands } from "./tools/repl-commands";
import { VALIDATION_MESSAGES } from "./platform/validation";

/**
 * RabbitMQ settings that make the normal path durable: persistent events (requests are not, nor
 * the events whose loss is repaired anyway: platform/amqp-transporter.ts), queues that outlive their
 * consumers, and balancing by RabbitMQ itself (`disableBalancer`), so an event for a consumer
 * group that is briefly offline waits in its queue instead of being dropped. This is not the
 * guarantee (there are no publisher confirms, a throwing handler's message is acked and gone):
 * the outbox's re-emit until confirmed is. It makes re-emits rare.
 */
function amqpTransporter(url: string, { amqpQueueExpiryMs, amqpQueueType }: Configuration["transport"]) {
	return new EventDurableAmqpTransporter({
		url: amqpUrls(url),
		messageOptions: { persistent: true },
		// Their loss is repaired anyway: a confirmation or rejection by the producer's re-emit, a
		// status change by the front end's re-reading of orders still NEW (frontend/src/live.ts).
		transientEvents: [MESSAGING_EVENTS.OUTBOX_CONFIRMED, MESSAGING_EVENTS.OUTBOX_REJECTED, ORDER_EVENTS.ORDER_STATUS_CHANGED],
		// amqplib leaves Nagle's algorithm on: small messages then wait for the peer's delayed
		// ACK (~40 ms) before they leave, on every hop of an order's path.
		socketOptions: { noDelay: true },
		// A queue nobody has consumed for a day goes: node ids change with every deployment, and
		// the queues of departed nodes would pile up. Events waiting in it are not lost: their
		// outbox re-emits them. Tests use minutes.
		autoDeleteQueues: amqpQueueExpiryMs,
		// `quorum` for a RabbitMQ cluster: the shared queues replicated, so that a node's loss loses
		// and blocks nothing. Classic by default: an existing queue cannot change type (README).
		queueType: amqpQueueType,
		prefetch: 10
	});
}

/**
 * The default node id: the host name and pid, as Moleculer's, plus a random suffix. Host name and pid
 * are not unique where containers share a host name (host networking, or one set by hand) and each
 * runs as pid 1; two nodes with one id share its queues, and Moleculer stops one of them when it
 * notices. An explicit NODE_ID must be unique across the cluster.
 */
export function uniqueNodeId(): string {
	return `${hostname().toLowerCase()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/**
 * The RabbitMQ nodes TRANSPORTER lists, separated by commas or semicolons (Moleculer's own
 * separator): every node of a cluster, so that the transporter, which connects to one and tries
 * the next at each reconnection, fails over when its node goes. A separator counts only before
 * another `amqp://` or `amqps://`, so a comma in a password needs no escaping.
 */
export function amqpUrls(value: string): string[] {
	return value
		.split(/[,;](?=\s*amqps?:\/\/)/)
		.map(url => url.trim())
		.filter(Boolean);
}

/** Stops the embedded Postgres, if this process started one, after every service has closed its pool. */
const embeddedPostgresLifecycle: Middleware = {
	name: "EmbeddedPostgresLifecycle",
	async stopped() {
		await stopEmbeddedPostgres();
	}
};

export function createBrokerOptions({ transport, broker, logging, tracing, faultInjection }: Configuration): BrokerOptions {
	const transporterUrl = transport.url;
	const isAmqp = transporterUrl?.startsWith("amqp");
	return {
		namespace: broker.namespace,
		nodeID: broker.nodeId ?? uniqueNodeId(),
		logger: loggerOptions(logging),
		logLevel: logging.level,

		// Other transporters (NATS, Redis, ...) work too, with Moleculer's defaults.
		transporter: transporterUrl ? (isAmqp ? amqpTransporter(transporterUrl, transport) : (transporterUrl as "NATS")) : null,
		disableBalancer: Boolean(isAmqp),

		requestTimeout: 10_000,
		retryPolicy: { enabled: false },
		// Graceful stop: wait (up to the timeout) for requests in flight before stopping services.
		tracking: { enabled: true, shutdownTimeout: REQUEST_DRAIN_TIMEOUT_MS },
		registry: { strategy: "RoundRobin", preferLocal: true },

		// Moleculer's tracer (TRACING_EXPORTER; off when unset), one trace per order across the outbox: platform/tracing.ts.
		tracing: tracingOptions(tracing),

		// Prometheus metrics (Moleculer's own and the outbox's) at http://host:METRICS_PORT/metrics.
		metrics: broker.metricsPort ? { enabled: true, reporter: [{ type: "Prometheus", options: { port: broker.metricsPort, path: "/metrics" } }] } : { enabled: false },

		// The operator's commands (outbox, dead, replay, order, as) in every REPL: `npm run dev`'s and `npm run repl`'s.
		// moleculer-repl reads them as tools/repl-commands.ts types them, not as Moleculer's typings say.
		replOptions: { customCommands: replCommands as unknown as ReplOptions["customCommands"] },

		validator: new Validators.Fastest({ useNewCustomCheckerFunction: true, messages: VALIDATION_MESSAGES }),

		middlewares: [
			embeddedPostgresLifecycle,
			...(isAmqp ? [requestsBalancedByRabbitMq] : []),
			...(broker.healthPort ? [createHealthServerMiddleware(broker.healthPort)] : []),
			...(faultInjection ? [createFaultInjectionMiddleware(faultInjection)] : [])
		]
	};
}

/**
 * SIGTERM or SIGINT starts a graceful stop: the gateway refuses new requests, requests and event
 * handlers in flight finish (up to the tracking timeout), the relays stop, pools close, the
 * embedded Postgres (if owned) stops last. A second signal, or GRACEFUL_STOP_TIMEOUT_MS (default
 * 30 s) without the stop completing, ends the process at once; events not yet confirmed are
 * re-emitted after the restart.
 */
function gracefulStopOnSignals(timeoutMs: number): Middleware {
	let stopRequestedAt = 0;
	return {
		name: "GracefulStopOnSignals",
		created(broker: ServiceBroker) {
			const onSignal = (signal: NodeJS.Signals) => {
				if (stopRequestedAt) {
					// One Ctrl-C often arrives twice (the terminal signals the whole process group, and
					// npm or a supervisor passes it on too): only a signal sent later forces.
					if (Date.now() - stopRequestedAt < SAME_SIGNAL_WINDOW_MS) return;
					broker.logger.warn(`Got ${signal} again: stopping at once.`);
					process.exit(1);
				}
				stopRequestedAt = Date.now();
				// While stopping, Moleculer's AMQP heartbeat can still fire on a channel being closed
				// ("Channel closing"): such a rejection must not turn a clean stop into a crash.
				process.on("unhandledRejection", err => broker.logger.warn("Ignored while stopping:", err));
				broker.logger.info(`Got ${signal}: stopping gracefully (send it again, a second later, to force).`);
				setTimeout(() => {
					broker.logger.error(`The graceful stop took more than ${timeoutMs} ms: stopping at once.`);
					process.exit(1);
				}, timeoutMs).unref();
				broker.stop().then(
					() => process.exit(0),
					err => {
						broker.logger.error("The graceful stop failed.", err);
						process.exit(1);
					}
				);
			};
			process.on("SIGTERM", onSignal);
			process.on("SIGINT", onSignal);
		}
	};
}

/** Signals closer together than this are one request to stop. */
const SAME_SIGNAL_WINDOW_MS = 1000;

/**
 * What moleculer-runner loads. A function, so that importing this module (tests, the REPL script)
 * has no side effect: the runner calls it before it starts the broker and loads the services. A
 * wrong setting stops the start here, with its one line (the runner would print a stack).
 */
export default function runnerConfig(): BrokerOptions {
	let settings: Configuration;
	try {
		settings = configuration();
	} catch (err) {
		process.stderr.write(`Configuration: ${(err as Error).message}\n`);
		process.exit(1);
	}
	const options = createBrokerOptions(settings);
	// moleculer-runner overwrites every option that has a same-named environment variable:
	// TRANSPORTER would replace the transporter object with a bare URL and drop its durability settings.
	delete process.env.TRANSPORTER;
	return {
		...options,
		// The runner's process: signals are handled by the middleware below, not by Moleculer's default.
		skipProcessEventRegistration: true,
		middlewares: [...(options.middlewares ?? []), gracefulStopOnSignals(settings.broker.gracefulStopTimeoutMs)]
	};
}
