/**
 * `npm run bench`: the system's throughput, latency and memory, end to end through the gateway
 * (cluster over RabbitMQ and the embedded default), against the same run's database limit, plus
 * the outbox relay's figures, the cluster with production's instances per service beside the
 * bench's, and a long run of the cluster (does anything grow?). Prints the
 * figures and writes docs/BENCHMARKS.md and docs/benchmark-latency.svg. Needs the compiled server (`npm run build`), the machine's Postgres
 * and RabbitMQ. Settings: tools/bench/config.ts. Slow figures never fail the run.
 */
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../platform/paths";
import { benchConfigFromEnv } from "./config";
import { printSummary } from "./console-summary";
import { describeEnvironment } from "./environment-info";
import { renderLatencyChart } from "./latency-chart";
import { renderMarkdown } from "./markdown-report";
import { benchMode } from "./mode-bench";
import { measureRelay } from "./relay-bench";
import { PRODUCTION_INSTANCES_PER_SERVICE } from "../runner-process";
import { measureScaleOut } from "./scale-out";
import { measureSoak } from "./soak";
import type { BenchReport, ModeResult } from "./results";
import { Teardown } from "./teardown";

async function main(teardown: Teardown): Promise<void> {
	const config = benchConfigFromEnv();
	if (!existsSync(path.join(PROJECT_ROOT, "dist/moleculer.config.js"))) throw new Error("The compiled server is missing: run `npm run build` first.");
	// Names of this run's databases, namespaces and nodes.
	const runId = randomBytes(3).toString("hex");
	const startedAt = new Date();
	const environment = await describeEnvironment(config);
	const modes: ModeResult[] = [];
	for (const mode of config.modes) modes.push(await benchMode(mode, config, runId, teardown));
	const relay = config.relayEvents > 0 ? await measureRelay(config, runId, teardown) : null;
	const scaleOut =
		config.modes.includes("cluster") && config.scaleOutRounds > 0 && config.clusterInstances !== PRODUCTION_INSTANCES_PER_SERVICE ? await measureScaleOut(config, runId, teardown) : null;
	const soak = config.soakSeconds > 0 ? await measureSoak(config, runId, teardown) : null;

	const report: BenchReport = { startedAt, durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000), config, environment, modes, relay, scaleOut, soak };
	printSummary(report);
	writeFileSync(path.join(PROJECT_ROOT, "docs/BENCHMARKS.md"), renderMarkdown(report));
	writeFileSync(path.join(PROJECT_ROOT, "docs/benchmark-latency.svg"), renderLatencyChart(report));
	console.log(`bench | wrote docs/BENCHMARKS.md and docs/benchmark-latency.svg (${report.durationSeconds} s)`);
}

const teardown = new Teardown();
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
	process.on(signal, () => {
		if (interrupted) return;
		interrupted = true;
		console.error(`bench | ${signal}: cleaning up`);
		void teardown.run().finally(() => process.exit(130));
	});
}
main(teardown)
	.then(
		() => 0,
		(err: unknown) => {
			console.error("bench | failed:", err);
			return 1;
		}
	)
	.then(async code => {
		await teardown.run();
		// Open handles (keep-alive sockets closing, pools' timers) must not hold the finished run.
		process.exit(code);
	})
	.catch((err: unknown) => {
		console.error("bench | cleaning up failed:", err);
		process.exit(1);
	});
