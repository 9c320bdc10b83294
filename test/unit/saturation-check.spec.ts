/** The saturation verdict (a pure function of the measured pairs): the median pair decides, not one slow spell; the pairs count for memory too. */
import { describe, expect, it } from "vitest";
import type { DatabaseLimitLevel, EndToEndLevel, ModeResult, SaturationPair } from "../../tools/bench/results";
import { checkTargets } from "../../tools/bench/targets";

const latency = { p50: 10, p95: 20, p99: 30, max: 40 };
const resources = { nodes: [], postgresCpuMs: 1000, rabbitmqCpuMs: 500, benchCpuMs: 200, machineBusyPercent: 95 };

function level(clients: number, ordersPerSecond: number, maxRssMb = 120): EndToEndLevel {
	const nodes = [{ name: "orders-1", maxRssMb, cpuMs: 1000 }];
	return { clients, ordersPerSecond, createToFinal: latency, httpCreate: latency, failedCreates: 0, unfinished: 0, notFinished: 0, firstError: null, resources: { ...resources, nodes } };
}

function limit(clients: number, ordersPerSecond: number): DatabaseLimitLevel {
	return { clients, ordersPerSecond, createToFinal: latency, errors: 0, firstError: null, resources };
}

/**
 * A run whose sweep ends at 32 clients, with pairs at that level as [end to end, limit] orders/s
 * (and the pair's largest RSS); the first pair is the sweep's last level, as the bench records it.
 */
function run(pairs: [number, number, number?][]): ModeResult {
	const saturationPairs: SaturationPair[] = pairs.map(([ordersPerSecond, limitOrdersPerSecond, maxRssMb], index) => ({
		limitFirst: index % 2 === 1,
		endToEnd: level(32, ordersPerSecond, maxRssMb),
		limit: limit(32, limitOrdersPerSecond)
	}));
	return {
		mode: "cluster",
		postgres: { version: "15", settings: {} },
		endToEnd: [level(1, 100), saturationPairs[0].endToEnd],
		databaseLimit: [limit(1, 300), saturationPairs[0].limit],
		saturationPairs,
		lightLoadHops: null
	};
}

const saturation = (result: ModeResult) => checkTargets(result).find(check => check.target.startsWith("saturation"))!;

describe("the saturation verdict", () => {
	it("is met when the median pair reaches half of its limit, whatever one slow pair measured", () => {
		const check = saturation(
			run([
				[400, 1000],
				[560, 1000],
				[550, 1000],
				[300, 1000],
				[530, 1000]
			])
		);
		expect(check.met).toBe(true);
		expect(check.measured).toMatch(/^median of 5 pair\(s\) at 32 clients: 53% \(40%, 56%, 55%, 30%, 53%\)/);
	});

	it("is not met when the median pair falls short, whatever one fast pair measured", () => {
		const check = saturation(
			run([
				[450, 1000],
				[700, 1000],
				[480, 1000],
				[470, 1000],
				[490, 1000]
			])
		);
		expect(check.met).toBe(false);
		expect(check.measured).toMatch(/^median of 5 pair\(s\) at 32 clients: 48%/);
	});

	it("is not met while a pair's limit completed nothing (its transactions failed), and says so", () => {
		const check = saturation(
			run([
				[520, 1000],
				[530, 0],
				[540, 0],
				[550, 0],
				[560, 1000]
			])
		);
		expect(check.met).toBe(false);
		expect(check.measured).toMatch(/3 pair\(s\) without a limit to judge by/);
	});

	it("takes the lower middle of an even count", () => {
		expect(
			saturation(
				run([
					[490, 1000],
					[600, 1000]
				])
			).met
		).toBe(false);
	});

	it("shows the best level against the limit's best level beside the median", () => {
		const check = saturation(run([[520, 1000]]));
		expect(check.measured).toMatch(/best level against best level: 520 orders\/s \(32 clients\) of 1000 \(32 clients\), 52%$/);
	});
});

describe("the memory target", () => {
	it("counts the saturation pairs, not only the sweep's levels", () => {
		const rss = checkTargets(
			run([
				[520, 1000],
				[530, 1000, 230]
			])
		).find(check => check.target.startsWith("no process above"))!;
		expect(rss).toMatchObject({ met: false, measured: "largest: orders-1 230 MB" });
	});
});
