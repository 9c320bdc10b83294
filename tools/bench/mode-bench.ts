/**
 * One deployment, measured: its system started, users prepared, then at each concurrency level
 * the system driven end to end (with the hop timings at the lowest level) and, right before or
 * after, the database limit at the same level on the same Postgres server, while the system
 * idles. Measured in pairs, seconds apart, so that a ratio compares the two under the same
 * conditions of the shared machine, whose speed drifts during a run; the highest level is measured
 * in several pairs (BENCH_SATURATION_PAIRS), whose median ratio is the saturation verdict.
 */
import type { BenchConfig, Mode } from "./config";
import { prepareDatabaseLimit } from "./database-limit";
import { benchUser, prepareUsers, runEndToEndLevel } from "./end-to-end-load";
import { describePostgres } from "./environment-info";
import { measureHops } from "./light-load-hops";
import { ResourceSampler } from "./resource-sampler";
import type { DatabaseLimitLevel, EndToEndLevel, ModeResult, SaturationPair } from "./results";
import { startSystem } from "./system-under-test";
import type { Teardown } from "./teardown";

function describeLevel(mode: Mode, level: EndToEndLevel): string {
	const largest = [...level.resources.nodes].sort((a, b) => b.maxRssMb - a.maxRssMb)[0];
	return (
		`bench | ${mode}, ${level.clients} client(s): ${level.ordersPerSecond.toFixed(0)} orders/s, create→final p50 ${level.createToFinal.p50.toFixed(1)} ms ` +
		`p99 ${level.createToFinal.p99.toFixed(1)} ms, POST p50 ${level.httpCreate.p50.toFixed(1)} ms, largest RSS ${largest.name} ${largest.maxRssMb.toFixed(0)} MB` +
		(level.firstError ? ` (errors: ${level.failedCreates} failed, ${level.unfinished} unfinished; first: ${level.firstError})` : "")
	);
}

export async function benchMode(mode: Mode, config: BenchConfig, runId: string, teardown: Teardown): Promise<ModeResult> {
	const warmupMs = config.warmupSeconds * 1000;
	const measureMs = config.seconds * 1000;
	const limitPrefix = `bench_${runId}_${mode}`;
	const mark = teardown.mark;
	console.log(`bench | ${mode}: starting`);
	try {
		const system = await startSystem(mode, config, runId, teardown);
		const postgres = await describePostgres(system.adminUrl);
		const users = Array.from({ length: Math.max(...config.levels) }, (_, index) => benchUser(index));
		await prepareUsers(system.gatewayUrl, users);

		const limit = await prepareDatabaseLimit(system.adminUrl, limitPrefix, users.length, teardown);

		const measureLimit = (clients: number) => limit.measure(clients, warmupMs, measureMs);
		/** One level end to end and the limit at the same level, back to back; the limit first at odd positions of the sequence. */
		const measurePair = async (clients: number, position: number) => {
			const limitFirst = position % 2 === 1;
			const limitBefore = limitFirst ? await measureLimit(clients) : null;
			const run = await runEndToEndLevel(system.gatewayUrl, users.slice(0, clients), warmupMs, measureMs, new ResourceSampler(system.nodes));
			console.log(describeLevel(mode, run.figures));
			const pair: SaturationPair = { limitFirst, endToEnd: run.figures, limit: limitBefore ?? (await measureLimit(clients)) };
			return { run, pair };
		};

		const endToEnd: EndToEndLevel[] = [];
		const databaseLimit: DatabaseLimitLevel[] = [];
		const saturationPairs: SaturationPair[] = [];
		let lightLoadHops: ModeResult["lightLoadHops"] = null;
		for (const [index, clients] of config.levels.entries()) {
			// Which side goes first alternates: what one side leaves Postgres to do afterwards (autovacuum
			// of the tables it churned) then falls on either side alike.
			const { run, pair } = await measurePair(clients, index);
			endToEnd.push(run.figures);
			databaseLimit.push(pair.limit);
			if (index === 0) {
				const hops = await measureHops(system.databaseUrls, run.timelines);
				lightLoadHops = hops && { clients, ...hops };
			}
			if (index === config.levels.length - 1) saturationPairs.push(pair);
		}
		// The highest level again, the order still alternating: the verdict is the median pair's, so
		// that a slow spell of the shared machine during one side of one pair cannot decide it.
		const highest = config.levels[config.levels.length - 1];
		for (let round = 1; round < config.saturationPairs; round++) {
			console.log(`bench | ${mode}: saturation pair ${round + 1} of ${config.saturationPairs}`);
			saturationPairs.push((await measurePair(highest, config.levels.length - 1 + round)).pair);
		}
		return { mode, postgres, endToEnd, databaseLimit, saturationPairs, lightLoadHops };
	} finally {
		await teardown.run(mark);
	}
}
