/**
 * The targets for this system on a 2-core machine. They are reported, never enforced: a slow run
 * still exits 0.
 */
import { megabytes, ms, percent, perSecond } from "./format";
import type { EndToEndLevel, ModeResult, SoakResult, SoakWindow } from "./results";
import { percentile } from "./stats";

export const TARGETS = Object.freeze({
	lightLoadP50Ms: 15,
	lightLoadP99Ms: 50,
	/** Saturation throughput end to end, as a share of the same run's database limit. */
	saturationShareOfLimit: 0.5,
	maxRssMb: 200,
	/** Long run: how much a process' peak RSS may rise from the first half to the second (GC noise). */
	soakRssGrowthMb: 10,
	/** Long run: how much a process' open file descriptors may rise (pooled connections come and go). */
	soakFdGrowth: 10
});

export interface TargetCheck {
	target: string;
	measured: string;
	met: boolean;
}

/**
 * Each saturation pair's end-to-end throughput as a share of its database limit, in the order
 * measured; NaN where the limit completed nothing (its transactions failed), which judges nothing.
 */
export function saturationShares(result: ModeResult): number[] {
	return result.saturationPairs.map(pair => (pair.limit.ordersPerSecond > 0 ? pair.endToEnd.ordersPerSecond / pair.limit.ordersPerSecond : Number.NaN));
}

/** The figures both the console table and the report show for a level: throughput against the limit, then latencies. */
export function throughputAndLatencyCells(result: ModeResult, level: EndToEndLevel): string[] {
	const limit = result.databaseLimit.find(l => l.clients === level.clients);
	return [
		perSecond(level.ordersPerSecond),
		perSecond(limit?.ordersPerSecond ?? Number.NaN),
		percent(level.ordersPerSecond / (limit?.ordersPerSecond ?? Number.NaN)),
		ms(level.createToFinal.p50),
		ms(level.createToFinal.p95),
		ms(level.createToFinal.p99),
		ms(level.httpCreate.p50),
		ms(level.httpCreate.p99)
	];
}

export function checkTargets(result: ModeResult): TargetCheck[] {
	// Light load is one client; without that level, the lowest one measured.
	const light = result.endToEnd.find(level => level.clients === 1) ?? result.endToEnd[0];
	const lightLabel = light.clients === 1 ? "light load (1 client)" : `light load (lowest level measured: ${light.clients} clients)`;
	const best = result.endToEnd.reduce((a, b) => (b.ordersPerSecond > a.ordersPerSecond ? b : a));
	const bestLimit = result.databaseLimit.reduce((a, b) => (b.ordersPerSecond > a.ordersPerSecond ? b : a));
	const bestShare = best.ordersPerSecond / bestLimit.ordersPerSecond;
	// The verdict is the median pair's: each pair's two sides ran seconds apart, and a slow spell of
	// the shared machine during one side of one pair moves that pair only. With an even count, the lower middle.
	const shares = saturationShares(result);
	const unjudged = shares.filter(share => Number.isNaN(share)).length;
	const medianShare = percentile(
		shares.filter(share => !Number.isNaN(share)).sort((a, b) => a - b),
		0.5
	);
	const loaded = [...result.endToEnd, ...result.saturationPairs.map(pair => pair.endToEnd)];
	const rss = loaded.flatMap(level => level.resources.nodes).reduce((a, b) => (b.maxRssMb > a.maxRssMb ? b : a));
	return [
		{ target: `${lightLabel}: create→FINISHED p50 ≤ ${TARGETS.lightLoadP50Ms} ms`, measured: `${ms(light.createToFinal.p50)} ms`, met: light.createToFinal.p50 <= TARGETS.lightLoadP50Ms },
		{ target: `${lightLabel}: create→FINISHED p99 ≤ ${TARGETS.lightLoadP99Ms} ms`, measured: `${ms(light.createToFinal.p99)} ms`, met: light.createToFinal.p99 <= TARGETS.lightLoadP99Ms },
		{
			target: `saturation throughput ≥ ${percent(TARGETS.saturationShareOfLimit)} of the database limit`,
			measured:
				`median of ${shares.length} pair(s) at ${result.saturationPairs[0].endToEnd.clients} clients: ${percent(medianShare)} (${shares.map(percent).join(", ")}); ` +
				`best level against best level: ${perSecond(best.ordersPerSecond)} orders/s (${best.clients} clients) of ${perSecond(bestLimit.ordersPerSecond)} (${bestLimit.clients} clients), ${percent(bestShare)}` +
				(unjudged > 0 ? `; ${unjudged} pair(s) without a limit to judge by (its transactions failed)` : ""),
			met: unjudged === 0 && medianShare >= TARGETS.saturationShareOfLimit
		},
		{ target: `no process above ${TARGETS.maxRssMb} MB RSS`, measured: `largest: ${rss.name} ${megabytes(rss.maxRssMb)} MB`, met: rss.maxRssMb <= TARGETS.maxRssMb }
	];
}

/** The long run's first and second half, the first window (warm-up) left out. */
export function soakHalves(soak: SoakResult): { first: SoakWindow[]; second: SoakWindow[] } {
	const steady = soak.windows.slice(1);
	const half = Math.ceil(steady.length / 2);
	return { first: steady.slice(0, half), second: steady.slice(half) };
}

export function mean(windows: readonly SoakWindow[], value: (w: SoakWindow) => number): number {
	return windows.reduce((sum, w) => sum + value(w), 0) / windows.length;
}

/**
 * The long run: nothing may grow from its first half to its second (the first window, warm-up,
 * left out). Memory within GC noise; open file descriptors within the churn of pooled connections,
 * which come and go; database connections never above what the pools and listeners may hold;
 * backlogs (unconfirmed events, queued messages) within a quarter of the first half's peak or a
 * small floor, since at any moment some are in flight; the same RabbitMQ queues; throughput and
 * latency no worse.
 */
export function checkSoak(soak: SoakResult): TargetCheck[] {
	const { first, second } = soakHalves(soak);
	const peak = (windows: SoakWindow[], value: (w: SoakWindow) => number) => Math.max(...windows.map(value));
	const growth = (value: (w: SoakWindow) => number) => ({ first: peak(first, value), second: peak(second, value) });
	const names = soak.windows[0].processes.map(p => p.name);
	const of = (name: string, field: "rssMb" | "fds") => (w: SoakWindow) => w.processes.find(p => p.name === name)?.[field] ?? 0;
	const largestRise = (field: "rssMb" | "fds") => names.map(name => ({ name, ...growth(of(name, field)) })).reduce((a, b) => (b.second - b.first > a.second - a.first ? b : a));

	const rss = largestRise("rssMb");
	const fds = largestRise("fds");
	const connections = peak(soak.windows, w => w.databaseConnections);
	const unconfirmed = growth(w => w.unconfirmedEvents);
	const queued = growth(w => w.waitingMessages);
	const backlogBound = (firstPeak: number) => firstPeak + Math.max(firstPeak / 4, 100);
	const throughput = { first: mean(first, w => w.ordersPerSecond), second: mean(second, w => w.ordersPerSecond) };
	const p99 = { first: mean(first, w => w.createToFinal.p99), second: mean(second, w => w.createToFinal.p99) };
	const label = "long run, first half → second half";
	return [
		{
			target: `${label}: peak RSS of every process up by ≤ ${TARGETS.soakRssGrowthMb} MB`,
			measured: `largest rise: ${rss.name} ${megabytes(rss.first)} → ${megabytes(rss.second)} MB`,
			met: rss.second - rss.first <= TARGETS.soakRssGrowthMb
		},
		{
			target: `${label}: open file descriptors of every process up by ≤ ${TARGETS.soakFdGrowth} (pooled connections come and go)`,
			measured: `largest rise: ${fds.name} ${fds.first} → ${fds.second}`,
			met: fds.second - fds.first <= TARGETS.soakFdGrowth
		},
		{
			target: `long run: database connections never above the pools' and listeners' ceiling (${soak.databaseConnectionCeiling})`,
			measured: `peak ${connections}`,
			met: connections <= soak.databaseConnectionCeiling
		},
		{
			target: `${label}: unconfirmed outbox events and queued messages up by ≤ 25 % of the first half's peak, or 100`,
			measured: `unconfirmed ${unconfirmed.first} → ${unconfirmed.second}, queued ${queued.first} → ${queued.second}`,
			met: unconfirmed.second <= backlogBound(unconfirmed.first) && queued.second <= backlogBound(queued.first)
		},
		{ target: "long run: the same RabbitMQ queues at the end as at the start", measured: `${soak.queuesAtStart} → ${soak.queuesAtEnd}`, met: soak.queuesAtEnd === soak.queuesAtStart },
		{
			target: `${label}: throughput ≥ 90 %, p99 ≤ 150 % (no slowdown)`,
			measured:
				`${perSecond(throughput.first)} → ${perSecond(throughput.second)} orders/s, p99 ${ms(p99.first)} → ${ms(p99.second)} ms` + (soak.autovacuum ? "" : " (autovacuum off on this server)"),
			met: throughput.second >= 0.9 * throughput.first && p99.second <= 1.5 * p99.first
		}
	];
}
