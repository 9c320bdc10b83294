/**
 * The compiled system as moleculer-runner processes, the way `npm start` runs it: for
 * `npm run cluster`, the benchmark and the tests that need real processes (SIGKILL, SIGTERM).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/**
 * As `npm start` and the Docker image run it: a smaller young generation keeps a busy process
 * well under 200 MB (measured: 150 instead of 240 MB at 32 clients) at the same throughput.
 */
const NODE_FLAGS = ["--max-semi-space-size=8"];

export interface ClusterNode {
	id: string;
	services: string;
}

/** A cluster's nodes in start order: the gateway, then `instancesPerService` orders and payments instances. */
export function clusterNodes(instancesPerService: number): readonly ClusterNode[] {
	const instances = (service: string) => Array.from({ length: instancesPerService }, (_, index) => ({ id: `${service}-${index + 1}`, services: service }));
	return Object.freeze([{ id: "api-1", services: "api" }, ...instances("orders"), ...instances("payments")]);
}

/**
 * Instances of each service in production (and in `npm run cluster`): two, so that a stopped or
 * crashed instance leaves one consuming, and the competing consumers and relays are exercised.
 */
export const PRODUCTION_INSTANCES_PER_SERVICE = 2;

/** The cluster as it runs in production: a gateway, two orders and two payments instances. */
export const CLUSTER_NODES = clusterNodes(PRODUCTION_INSTANCES_PER_SERVICE);

export interface RunnerProcessOptions {
	/** Its own process group: a Ctrl-C in the terminal then reaches only its parent. */
	detached?: boolean;
}

/** Starts one process running the services named by `env.SERVICES` (all when unset); output is piped. */
export function spawnRunner(env: NodeJS.ProcessEnv, options: RunnerProcessOptions = {}): ChildProcess {
	return spawn(process.execPath, [...NODE_FLAGS, path.join(ROOT, "node_modules/moleculer/bin/moleculer-runner.js"), "--config", "dist/moleculer.config.js"], {
		cwd: ROOT,
		env: { ...process.env, SERVICEDIR: "dist/services", ...env },
		stdio: ["ignore", "pipe", "pipe"],
		detached: options.detached ?? false
	});
}
