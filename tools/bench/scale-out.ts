/**
 * What more instances per service do on this machine: the cluster with the bench's instances per
 * service (BENCH_CLUSTER_INSTANCES) and with production's two, both started and idle side by side,
 * driven in turn at the highest level, round after round, the order alternating by round, so that
 * the machine's drift falls on both alike. On a machine with fewer cores than busy processes, more
 * instances add processes to switch between, not capacity.
 */
import { PRODUCTION_INSTANCES_PER_SERVICE } from "../runner-process";
import type { BenchConfig } from "./config";
import { benchUser, prepareUsers, runEndToEndLevel } from "./end-to-end-load";
import { ResourceSampler, completedOrders, totalCpuMs } from "./resource-sampler";
import type { ScaleOutResult, ScaleOutRun } from "./results";
import { startSystem, type SystemUnderTest } from "./system-under-test";
import type { Teardown } from "./teardown";

export async function measureScaleOut(config: BenchConfig, runId: string, teardown: Teardown): Promise<ScaleOutResult> {
	const mark = teardown.mark;
	const clients = Math.max(...config.levels);
	const shapes = [config.clusterInstances, PRODUCTION_INSTANCES_PER_SERVICE];
	console.log(`bench | scale-out: the cluster with ${shapes.join(" and with ")} instances per service, ${config.scaleOutRounds} round(s) at ${clients} clients`);
	try {
		const systems = new Map<number, SystemUnderTest>();
		for (const instances of shapes) systems.set(instances, await startSystem("cluster", config, `${runId}x${instances}`, teardown, instances));
		const users = Array.from({ length: clients }, (_, index) => benchUser(index));
		for (const system of systems.values()) await prepareUsers(system.gatewayUrl, users);

		const runs: ScaleOutRun[] = [];
		for (let round = 0; round < config.scaleOutRounds; round++) {
			for (const instances of round % 2 === 0 ? shapes : [...shapes].reverse()) {
				const system = systems.get(instances)!;
				const { figures } = await runEndToEndLevel(system.gatewayUrl, users, config.warmupSeconds * 1000, config.seconds * 1000, new ResourceSampler(system.nodes));
				runs.push({
					round: round + 1,
					instancesPerService: instances,
					ordersPerSecond: figures.ordersPerSecond,
					createToFinal: figures.createToFinal,
					cpuMsPerOrder: totalCpuMs(figures.resources) / completedOrders(figures.ordersPerSecond, config.seconds)
				});
				console.log(`bench | scale-out round ${round + 1}, ${instances} instance(s) per service: ${figures.ordersPerSecond.toFixed(0)} orders/s, p99 ${figures.createToFinal.p99.toFixed(1)} ms`);
			}
		}
		return { clients, runs };
	} finally {
		await teardown.run(mark);
	}
}
