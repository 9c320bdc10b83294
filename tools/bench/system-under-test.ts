/**
 * The two deployments the bench drives end to end, each started as real processes:
 * - cluster: the gateway and BENCH_CLUSTER_INSTANCES orders and payments instances (or as many as
 *   asked for), each its own process, over the machine's RabbitMQ (a namespace of the run's own)
 *   and Postgres (databases of the run's own);
 * - embedded: the default `npm start` deployment, all services in one process with its embedded
 *   Postgres (a data folder of the bench's own, on a free port).
 * Everything started is registered with the teardown.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { loadConfiguration } from "../../platform/config";
import { embeddedDatabase } from "../../platform/database";
import { isProcessAlive } from "../../platform/embedded-postgres";
import { PROJECT_ROOT } from "../../platform/paths";
import { createDatabases, dropDatabases } from "../throwaway-databases";
import { sleep } from "./clock";
import type { BenchConfig, Mode } from "./config";
import { freePort } from "../free-port";
import { clusterNodes } from "../runner-process";
import { deleteNamespace } from "./rabbitmq";
import { startRunnerNode, stopRunnerNodes, waitUntilReady, type RunnerNode } from "./runner-node";
import type { Teardown } from "./teardown";

export interface SystemUnderTest {
	gatewayUrl: string;
	nodes: RunnerNode[];
	/** Admin URL of the Postgres server the services use. */
	adminUrl: string;
	databaseUrls: { orders: string; payments: string };
}

/** Queues of departed nodes expire on their own too, should a cleanup not happen. */
const QUEUE_EXPIRY_MS = "600000";

/** The environment of a node over RabbitMQ, in the run's namespace, on the run's databases. */
export function clusterNodeEnv(config: BenchConfig, namespace: string, nodeName: string, databaseUrls: { orders: string; payments: string }): NodeJS.ProcessEnv {
	return {
		NAMESPACE: namespace,
		NODE_ID: `${namespace}-${nodeName}`,
		TRANSPORTER: config.transporter,
		AMQP_QUEUE_EXPIRY_MS: QUEUE_EXPIRY_MS,
		ORDERS_DATABASE_URL: databaseUrls.orders,
		PAYMENTS_DATABASE_URL: databaseUrls.payments
	};
}

/** A cluster run's databases (created now) and namespace, both removed at teardown; returns the databases' URLs. */
export async function createClusterResources(config: BenchConfig, names: string[], namespace: string, teardown: Teardown): Promise<string[]> {
	const urls = await createDatabases(config.adminUrl, names);
	teardown.add(`drop ${names.join(", ")}`, () => dropDatabases(config.adminUrl, names));
	teardown.add(`delete the RabbitMQ queues of ${namespace}`, () => deleteNamespace(config.transporter, namespace));
	return urls;
}

async function startCluster(config: BenchConfig, runId: string, teardown: Teardown, instancesPerService: number): Promise<SystemUnderTest> {
	const namespace = `bench-${runId}`;
	const names = [`bench_${runId}_orders`, `bench_${runId}_payments`];
	const [orders, payments] = await createClusterResources(config, names, namespace, teardown);
	const nodes: RunnerNode[] = [];
	teardown.add("stop the cluster", () => stopRunnerNodes(nodes));

	const port = await freePort();
	const healthUrls: string[] = [];
	for (const { id: name, services } of clusterNodes(instancesPerService)) {
		const healthPort = await freePort();
		healthUrls.push(`http://127.0.0.1:${healthPort}/ready`);
		const env = { ...clusterNodeEnv(config, namespace, name, { orders, payments }), SERVICES: services, PORT: String(port), HEALTH_PORT: String(healthPort) };
		nodes.push(startRunnerNode(name, env));
	}
	const gatewayUrl = `http://127.0.0.1:${port}`;
	for (const url of [`${gatewayUrl}/ready`, ...healthUrls]) await waitUntilReady(url, nodes);
	return { gatewayUrl, nodes, adminUrl: config.adminUrl, databaseUrls: { orders, payments } };
}

/** The data folder of the bench's embedded Postgres (EMBEDDED_POSTGRES_DIR is relative to the project). */
const EMBEDDED_DIR = ".data/bench-postgres";

/** Removes the embedded Postgres' folder; stops its server first if its owner could not (pid file left). */
async function removeEmbeddedPostgres(dataDir: string): Promise<void> {
	const pidFile = path.join(dataDir, "postmaster.pid");
	if (existsSync(pidFile)) {
		const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
		if (pid > 0 && isProcessAlive(pid)) {
			process.kill(pid, "SIGINT"); // Postgres' fast shutdown
			while (isProcessAlive(pid)) await sleep(100);
		}
	}
	rmSync(dataDir, { recursive: true, force: true });
	rmSync(`${dataDir}.owner`, { force: true });
}

async function startEmbedded(runId: string, teardown: Teardown): Promise<SystemUnderTest> {
	const dataDir = path.join(PROJECT_ROOT, EMBEDDED_DIR);
	if (existsSync(path.join(dataDir, "postmaster.pid"))) {
		throw new Error(`${EMBEDDED_DIR} has a running (or crashed) Postgres from an earlier bench: stop it, then remove the folder.`);
	}
	rmSync(dataDir, { recursive: true, force: true }); // a leftover without a server: start afresh
	teardown.add(`remove ${EMBEDDED_DIR}`, () => removeEmbeddedPostgres(dataDir));
	const nodes: RunnerNode[] = [];
	teardown.add("stop the embedded process", () => stopRunnerNodes(nodes));

	const [port, postgresPort] = [await freePort(), await freePort()];
	const postgresEnv = { EMBEDDED_POSTGRES_DIR: EMBEDDED_DIR, EMBEDDED_POSTGRES_PORT: String(postgresPort) };
	// One process with every service, no transporter, the embedded databases: the empty values
	// override whatever the bench's own environment says (empty counts as unset for all of them).
	const unset = { TRANSPORTER: "", ORDERS_DATABASE_URL: "", PAYMENTS_DATABASE_URL: "", SERVICES: "", HEALTH_PORT: "" };
	nodes.push(startRunnerNode("embedded", { ...unset, ...postgresEnv, NODE_ID: `bench-${runId}-embedded`, PORT: String(port) }));
	const gatewayUrl = `http://127.0.0.1:${port}`;
	await waitUntilReady(`${gatewayUrl}/ready`, nodes);
	// The embedded server's URLs, as the services derive them (the `postgres` database for admin work).
	const { orders, payments } = loadConfiguration(postgresEnv).database;
	return { gatewayUrl, nodes, adminUrl: embeddedDatabase("postgres", orders.embedded!).url, databaseUrls: { orders: orders.url, payments: payments.url } };
}

/** Starts a deployment; a cluster with `instancesPerService` orders and payments instances. */
export function startSystem(mode: Mode, config: BenchConfig, runId: string, teardown: Teardown, instancesPerService = config.clusterInstances): Promise<SystemUnderTest> {
	return mode === "cluster" ? startCluster(config, runId, teardown, instancesPerService) : startEmbedded(runId, teardown);
}
