/**
 * The targets for this system on a 2-core machine. They are reported, never enforced: a slow run
 * still exits 0.
 */
import { megabytes, ms, percent, perSecond } from "./format";
import type { EndToEndLevel, ModeResult } from "./results";

export const TARGETS = Object.freeze({
	lightLoadP50Ms: 15,
	lightLoadP99Ms: 50,
	/** Saturation throughput end to end, as a share of the same run's database limit. */
	saturationShareOfLimit: 0.5,
	maxRssMb: 200
});

export interface TargetCheck {
	target: string;
	measured: string;
	met: boolean;
}

/** End-to-end throughput as a share of the database limit at the same number of clients. */
export function shareOfLimit(result: ModeResult, level: EndToEndLevel): number {
	const limit = result.databaseLimit.find(l => l.clients === level.clients);
	return limit ? level.ordersPerSecond / limit.ordersPerSecond : Number.NaN;
}

/** The figures both the console table and the report show for a level: throughput against the limit, then latencies. */
export function throughputAndLatencyCells(result: ModeResult, level: EndToEndLevel): string[] {
	const limit = result.databaseLimit.find(l => l.clients === level.clients);
	return [
		perSecond(level.ordersPerSecond),
		perSecond(limit?.ordersPerSecond ?? Number.NaN),
		percent(shareOfLimit(result, level)),
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
	const saturationShare = best.ordersPerSecond / bestLimit.ordersPerSecond;
	const rss = result.endToEnd.flatMap(level => level.resources.nodes).reduce((a, b) => (b.maxRssMb > a.maxRssMb ? b : a));
	return [
		{ target: `${lightLabel}: create→FINISHED p50 ≤ ${TARGETS.lightLoadP50Ms} ms`, measured: `${ms(light.createToFinal.p50)} ms`, met: light.createToFinal.p50 <= TARGETS.lightLoadP50Ms },
		{ target: `${lightLabel}: create→FINISHED p99 ≤ ${TARGETS.lightLoadP99Ms} ms`, measured: `${ms(light.createToFinal.p99)} ms`, met: light.createToFinal.p99 <= TARGETS.lightLoadP99Ms },
		{
			target: `saturation throughput ≥ ${percent(TARGETS.saturationShareOfLimit)} of the database limit`,
			measured: `${perSecond(best.ordersPerSecond)} orders/s (${best.clients} clients) of ${perSecond(bestLimit.ordersPerSecond)} (${bestLimit.clients} clients): ${percent(saturationShare)}`,
			met: saturationShare >= TARGETS.saturationShareOfLimit
		},
		{ target: `no process above ${TARGETS.maxRssMb} MB RSS`, measured: `largest: ${rss.name} ${megabytes(rss.maxRssMb)} MB`, met: rss.maxRssMb <= TARGETS.maxRssMb }
	];
}
