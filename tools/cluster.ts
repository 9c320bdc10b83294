/**
 * `npm run cluster`: the system as separate processes over RabbitMQ, as it runs in production:
 * the gateway, two orders instances and two payments instances, against the machine's Postgres
 * and RabbitMQ (override with the usual variables). Each line of output is prefixed with the
 * node that wrote it; Ctrl-C (or SIGTERM) stops every process gracefully.
 *
 * Needs the compiled code and front end (`npm run build`, which `npm run cluster` does first).
 */
import type { ChildProcess } from "node:child_process";
import readline from "node:readline";
import { CLUSTER_NODES, spawnRunner, type ClusterNode } from "./runner-process";

const shared: NodeJS.ProcessEnv = {
	TRANSPORTER: process.env.TRANSPORTER ?? "amqp://guest:guest@127.0.0.1:5672",
	ORDERS_DATABASE_URL: process.env.ORDERS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/orders",
	PAYMENTS_DATABASE_URL: process.env.PAYMENTS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/payments",
	NAMESPACE: process.env.NAMESPACE ?? ""
};
const gatewayPort = Number(process.env.PORT ?? 3000);

// Health ports follow the gateway's (PORT+1…), metrics ports METRICS_BASE_PORT (3031)….
const children: ChildProcess[] = [];
let stopping = false;
/** A node exited on its own, or did not stop cleanly: the cluster's exit code says so. */
let failed = false;

function startNode({ id, services }: ClusterNode, index: number): ChildProcess {
	const child = spawnRunner(
		{
			...shared,
			SERVICES: services,
			NODE_ID: shared.NAMESPACE ? `${shared.NAMESPACE}-${id}` : id,
			PORT: String(gatewayPort),
			HEALTH_PORT: String(gatewayPort + 1 + index),
			METRICS_PORT: String(Number(process.env.METRICS_BASE_PORT ?? 3031) + index)
		},
		// Its own process group: a Ctrl-C in the terminal reaches this script only, which then
		// stops each node once (a second signal to a node would force it).
		{ detached: true }
	);
	for (const stream of [child.stdout!, child.stderr!]) {
		readline.createInterface({ input: stream }).on("line", line => console.log(`${id.padEnd(10)} | ${line}`));
	}
	child.on("exit", (code, signal) => {
		console.log(`${id.padEnd(10)} | exited (${signal ?? code})`);
		if (!stopping) {
			failed = true;
			stopAll(`${id} exited`);
		} else if (code !== 0) failed = true;
		if (children.every(c => c.exitCode !== null || c.signalCode !== null)) process.exit(failed ? 1 : 0);
	});
	return child;
}

let stopRequestedAt = 0;

function stopAll(reason: string) {
	if (stopping) {
		// A second signal forces, unless it is the same Ctrl-C passed on by npm or tsx a moment later.
		if (Date.now() - stopRequestedAt < 1000) return;
		for (const child of children) child.kill("SIGKILL");
		return;
	}
	stopping = true;
	stopRequestedAt = Date.now();
	console.log(`cluster    | stopping (${reason})`);
	for (const child of children) child.kill("SIGTERM");
}

process.on("SIGINT", () => stopAll("SIGINT"));
process.on("SIGTERM", () => stopAll("SIGTERM"));

console.log(`cluster    | namespace "${shared.NAMESPACE}", gateway on http://localhost:${gatewayPort}`);
CLUSTER_NODES.forEach((node, index) => children.push(startNode(node, index)));
