/** The long run's verdicts (a pure function of the sampled windows): steady passes, each kind of growth fails. */
import { describe, expect, it } from "vitest";
import type { SoakResult, SoakWindow } from "../../tools/bench/results";
import { checkSoak } from "../../tools/bench/targets";

function window(index: number, change: Partial<SoakWindow> & { rssMb?: number; fds?: number } = {}): SoakWindow {
	const { rssMb = 110, fds = 30, ...rest } = change;
	return {
		endSeconds: (index + 1) * 15,
		ordersPerSecond: 250,
		createToFinal: { p50: 25, p95: 40, p99: 50, max: 60 },
		errors: 0,
		cpuMsPerOrder: { postgres: 2.5, rest: 7 },
		processes: [
			{ name: "api-1", rssMb: 105, fds: 25 },
			{ name: "orders-1", rssMb, fds }
		],
		databaseConnections: 30,
		unconfirmedEvents: 5,
		outboxRows: 1000 * (index + 1),
		inboxRows: 1000 * (index + 1),
		waitingMessages: 0,
		...rest
	};
}

function soak(windows: SoakWindow[], queuesAtEnd = 81): SoakResult {
	return { windows, queuesAtStart: 81, queuesAtEnd, databaseConnectionCeiling: 44, autovacuum: true };
}

const failed = (result: SoakResult) =>
	checkSoak(result)
		.filter(check => !check.met)
		.map(check => check.target);

describe("the long run's checks", () => {
	it("pass a steady run, whatever its warm-up window did", () => {
		const windows = Array.from({ length: 16 }, (_, i) => window(i, i === 0 ? { rssMb: 60, ordersPerSecond: 100 } : {}));
		expect(failed(soak(windows))).toEqual([]);
	});

	it.each([
		["memory grows", (i: number) => window(i, { rssMb: 100 + i * 3 }), /peak RSS/],
		["file descriptors pile up", (i: number) => window(i, { fds: 30 + i * 2 }), /file descriptors/],
		["connections exceed the ceiling", (i: number) => window(i, { databaseConnections: i > 12 ? 45 : 30 }), /database connections/],
		["a backlog builds up", (i: number) => window(i, { unconfirmedEvents: i * 40 }), /unconfirmed/],
		["throughput sinks", (i: number) => window(i, { ordersPerSecond: 300 - i * 10 }), /throughput/]
	])("fail when %s", (_what, make, target) => {
		expect(failed(soak(Array.from({ length: 16 }, (_, i) => make(i))))).toEqual([expect.stringMatching(target)]);
	});

	it("fail when RabbitMQ queues pile up", () => {
		expect(
			failed(
				soak(
					Array.from({ length: 16 }, (_, i) => window(i)),
					90
				)
			)
		).toEqual([expect.stringMatching(/RabbitMQ queues/)]);
	});
});
