/** The run's figures and ratios as plain-text tables on the console. */
import { megabytes, ms, perSecond } from "./format";
import type { BenchReport } from "./results";
import { checkSoak, checkTargets, throughputAndLatencyCells } from "./targets";

function table(header: string[], rows: string[][]): string {
	const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map(row => row[column].length)));
	const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join("  ");
	return [line(header), widths.map(width => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n");
}

export function printSummary(report: BenchReport): void {
	const rows = report.modes.flatMap(result =>
		result.endToEnd.map(level => {
			const largest = level.resources.nodes.reduce((a, b) => (b.maxRssMb > a.maxRssMb ? b : a));
			return [
				result.mode,
				String(level.clients),
				...throughputAndLatencyCells(result, level),
				`${largest.name} ${megabytes(largest.maxRssMb)}`,
				String(level.failedCreates + level.unfinished + level.notFinished)
			];
		})
	);
	console.log(
		`\n${table(
			["mode", "clients", "orders/s", "db limit/s", "ratio", "c→f p50", "c→f p95", "c→f p99", "POST p50", "POST p99", "max RSS MB", "errors"],
			rows
		)}\n(latencies in ms; c→f: POST started → final status pushed on the live channel)\n`
	);
	for (const result of report.modes) {
		for (const check of checkTargets(result)) console.log(`${check.met ? "met    " : "NOT MET"}  ${result.mode}: ${check.target}: ${check.measured}`);
	}
	for (const check of report.soak ? checkSoak(report.soak) : []) console.log(`${check.met ? "met    " : "NOT MET"}  cluster as in production: ${check.target}: ${check.measured}`);
	if (report.scaleOut) {
		console.log(
			`\n${table(
				["round", "instances per service", "orders/s", "c→f p50", "c→f p99", "CPU ms/order"],
				report.scaleOut.runs.map(run => [
					String(run.round),
					String(run.instancesPerService),
					perSecond(run.ordersPerSecond),
					ms(run.createToFinal.p50),
					ms(run.createToFinal.p99),
					ms(run.cpuMsPerOrder)
				])
			)}\n(the cluster at ${report.scaleOut.clients} clients, in turn)`
		);
	}
	if (report.relay) {
		console.log(
			`\n${table(
				["relays", "burst", "emitted/s", "confirmed/s", "re-emits", "settled s", "commit→emit p50", "max", "commit→confirmed p50", "max"],
				report.relay.map(scenario => [
					String(scenario.relays),
					String(scenario.burst.events),
					perSecond(scenario.burst.emittedPerSecond),
					perSecond(scenario.burst.confirmedPerSecond),
					String(scenario.burst.reemits),
					scenario.burst.settledSeconds.toFixed(1),
					ms(scenario.latency.commitToEmit.p50),
					ms(scenario.latency.commitToEmit.max),
					ms(scenario.latency.commitToConfirmed.p50),
					ms(scenario.latency.commitToConfirmed.max)
				])
			)}\n`
		);
	}
}
