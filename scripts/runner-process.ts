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

/** The cluster as it runs in production (and in `npm run cluster`): a gateway, two orders and two payments instances, in start order. */
export const CLUSTER_NODES: readonly { id: string; services: string }[] = Object.freeze([
	{ id: "api-1", services: "api" },
	{ id: "orders-1", services: "orders" },
	{ id: "orders-2", services: "orders" },
	{ id: "payments-1", services: "payments" },
	{ id: "payments-2", services: "payments" }
]);

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
