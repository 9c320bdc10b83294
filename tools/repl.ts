/**
 * `npm run repl`: a Moleculer REPL node that joins a running cluster (TRANSPORTER, default the
 * local RabbitMQ; NAMESPACE, default empty like `npm run cluster`). It runs no service of its
 * own; everything it calls runs on the cluster's nodes. For the single-process `npm start`,
 * which has no transporter to join, use `npm run dev`: it has the REPL attached.
 */
import { ServiceBroker } from "moleculer";
import { createBrokerOptions } from "../moleculer.config";
import { loadConfiguration } from "../platform/config";

const env = { ...process.env, TRANSPORTER: process.env.TRANSPORTER ?? "amqp://guest:guest@127.0.0.1:5672" };
const options = createBrokerOptions(loadConfiguration(env));
const broker = new ServiceBroker({
	...options,
	nodeID: `repl-${process.pid}`,
	logLevel: "warn",
	// A REPL node needs no health server or metrics of its own.
	middlewares: [],
	metrics: { enabled: false }
});

broker
	.start()
	.then(() => broker.repl())
	.catch((err: unknown) => {
		// A cluster it cannot join (no RabbitMQ reachable): say why and end, not an unhandled rejection.
		console.error("repl | could not start:", err);
		process.exit(1);
	});
