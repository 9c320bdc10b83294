/** docs/BENCHMARKS.md from a run's figures. */
import { megabytes, ms, percent, perSecond } from "./format";
import { completedOrders, totalCpuMs } from "./resource-sampler";
import { PRODUCTION_INSTANCES_PER_SERVICE } from "../runner-process";
import type { Mode } from "./config";
import type { BenchReport, EndToEndLevel, ModeResult, ScaleOutResult } from "./results";
import { checkSoak, checkTargets, mean, saturationShares, soakHalves, throughputAndLatencyCells } from "./targets";

/** A cell's text, safe inside a table row (error messages may hold pipes or line breaks). */
function cell(text: string): string {
	return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function table(header: string[], rows: string[][]): string {
	return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map(row => `| ${row.map(cell).join(" | ")} |`)].join("\n");
}

function machineSection(report: BenchReport): string {
	const { machine, versions, serviceSettings } = report.environment;
	const postgres = report.modes.map(
		result =>
			`${result.postgres.version} (${result.mode}; ${Object.entries(result.postgres.settings)
				.map(([k, v]) => `${k}=${v}`)
				.join(", ")})`
	);
	return table(
		["", ""],
		[
			["Machine", `${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGb} GB memory, ${machine.os}`],
			["Node.js", versions.node],
			["PostgreSQL server", postgres.join("<br>")],
			["RabbitMQ", versions.rabbitmq],
			["Moleculer", versions.moleculer],
			[
				"Service settings",
				Object.entries(serviceSettings)
					.map(([k, v]) => `${k}=${v}`)
					.join(", ")
			],
			[
				"Bench settings",
				`BENCH_SECONDS=${report.config.seconds}, BENCH_WARMUP_SECONDS=${report.config.warmupSeconds}, BENCH_LEVELS=${report.config.levels.join(",")}, ` +
					`BENCH_MODES=${report.config.modes.join(",")}, BENCH_SATURATION_PAIRS=${report.config.saturationPairs}, BENCH_CLUSTER_INSTANCES=${report.config.clusterInstances}, BENCH_SCALE_OUT_ROUNDS=${report.config.scaleOutRounds}, BENCH_RELAY_EVENTS=${report.config.relayEvents}, BENCH_RELAY_SAMPLES=${report.config.relaySamples}, ` +
					`BENCH_SOAK_SECONDS=${report.config.soakSeconds}, BENCH_SOAK_CLIENTS=${report.config.soakClients}, BENCH_SOAK_WINDOW_SECONDS=${report.config.soakWindowSeconds}`
			],
			["Command", `\`npm run bench\` (${report.startedAt.toISOString()}, ${report.durationSeconds} s)`]
		]
	);
}

function endToEndTable(result: ModeResult): string {
	return table(
		["clients", "orders/s", "DB limit orders/s", "ratio", "create→final p50", "p95", "p99", "POST p50", "POST p99", "machine CPU busy", "max RSS per process (MB)", "errors"],
		result.endToEnd.map(level => {
			return [
				String(level.clients),
				...throughputAndLatencyCells(result, level),
				percent(level.resources.machineBusyPercent / 100),
				level.resources.nodes.map(node => `${node.name} ${megabytes(node.maxRssMb)}`).join(", "),
				level.firstError ? `${level.failedCreates + level.unfinished + level.notFinished}: ${level.firstError}` : "0"
			];
		})
	);
}

function cpuTable(result: ModeResult, seconds: number): string {
	const nodeNames = result.endToEnd[0].resources.nodes.map(node => node.name);
	const perOrder = (level: EndToEndLevel, cpuMs: number) => ms(cpuMs / completedOrders(level.ordersPerSecond, seconds));
	return table(
		["clients", ...nodeNames, "Postgres", "RabbitMQ", "bench client", "total"],
		result.endToEnd.map(level => {
			const { nodes, postgresCpuMs, rabbitmqCpuMs, benchCpuMs } = level.resources;
			return [
				String(level.clients),
				...nodes.map(node => perOrder(level, node.cpuMs)),
				perOrder(level, postgresCpuMs),
				perOrder(level, rabbitmqCpuMs),
				perOrder(level, benchCpuMs),
				perOrder(level, totalCpuMs(level.resources))
			];
		})
	);
}

function saturationPairsTable(result: ModeResult): string {
	const shares = saturationShares(result);
	return table(
		["pair", "measured first", "orders/s", "create→final p99", "DB limit orders/s", "ratio", "max RSS per process (MB)", "errors: end to end / limit"],
		result.saturationPairs.map((pair, index) => [
			String(index + 1) + (index === 0 ? " (the sweep's)" : ""),
			pair.limitFirst ? "DB limit" : "end to end",
			perSecond(pair.endToEnd.ordersPerSecond),
			ms(pair.endToEnd.createToFinal.p99),
			perSecond(pair.limit.ordersPerSecond),
			percent(shares[index]),
			pair.endToEnd.resources.nodes.map(node => `${node.name} ${megabytes(node.maxRssMb)}`).join(", "),
			`${pair.endToEnd.failedCreates + pair.endToEnd.unfinished + pair.endToEnd.notFinished} / ${pair.limit.errors}`
		])
	);
}

function limitTable(report: BenchReport): string {
	return table(
		["mode (server)", "clients", "orders/s", "(i)→(iii) p50", "p99", "machine CPU busy", "CPU ms/order: Postgres", "bench client", "errors"],
		report.modes.flatMap(result =>
			result.databaseLimit.map(level => [
				`${result.mode} (Postgres ${result.postgres.version})`,
				String(level.clients),
				perSecond(level.ordersPerSecond),
				ms(level.createToFinal.p50),
				ms(level.createToFinal.p99),
				percent(level.resources.machineBusyPercent / 100),
				ms(level.resources.postgresCpuMs / completedOrders(level.ordersPerSecond, report.config.seconds)),
				ms(level.resources.benchCpuMs / completedOrders(level.ordersPerSecond, report.config.seconds)),
				level.firstError ? `${level.errors}: ${level.firstError}` : "0"
			])
		)
	);
}

function hopsSection(result: ModeResult): string {
	if (!result.lightLoadHops) return `No order of the lowest level had a clean path (each event emitted once) to time.`;
	const { clients, orders, hops } = result.lightLoadHops;
	return `${orders} orders at ${clients} client(s):\n\n${table(
		["hop", "median ms", "p90 ms"],
		hops.map(hop => [hop.hop, ms(hop.medianMs), ms(hop.p90Ms)])
	)}`;
}

function relaySection(report: BenchReport): string {
	if (!report.relay) return "Not measured in this run (BENCH_RELAY_EVENTS=0).";
	return table(
		[
			"relays",
			"burst rows",
			"commit → first claim ms",
			"emitted/s",
			"confirmed/s",
			"re-emits",
			"settled after s",
			"latency samples",
			"commit→emit p50 / max ms",
			"commit→applied p50 / max ms",
			"commit→confirmed p50 / max ms"
		],
		report.relay.map(({ relays, burst, latency }) => [
			String(relays),
			String(burst.events) + (burst.unconfirmed ? ` (${burst.unconfirmed} unconfirmed at the timeout)` : ""),
			ms(burst.waitForFirstEmitMs),
			perSecond(burst.emittedPerSecond),
			perSecond(burst.confirmedPerSecond),
			String(burst.reemits),
			burst.settledSeconds.toFixed(1),
			String(latency.samples),
			`${ms(latency.commitToEmit.p50)} / ${ms(latency.commitToEmit.max)}`,
			`${ms(latency.commitToApplied.p50)} / ${ms(latency.commitToApplied.max)}`,
			`${ms(latency.commitToConfirmed.p50)} / ${ms(latency.commitToConfirmed.max)}`
		])
	);
}

/** The delay a TCP stall between Nagle's algorithm and a delayed ACK adds on Linux (40 ms), give or take. */
const STALL_MS = { min: 35, max: 50 };

/** Sentences read off the figures, so that they stay true for whatever run wrote the page. */
function observations(report: BenchReport): string[] {
	const notes: string[] = [];
	for (const result of report.modes) {
		const hops = result.lightLoadHops?.hops;
		const total = hops?.find(hop => hop.hop.startsWith("total"));
		const steps = hops?.filter(hop => !hop.hop.startsWith("total") && !hop.hop.startsWith("(aside)")) ?? [];
		if (total && steps.length) {
			const largest = steps.reduce((a, b) => (b.medianMs > a.medianMs ? b : a));
			const lowest = result.databaseLimit[0];
			notes.push(
				`**${result.mode}, light load**: of a median ${ms(total.medianMs)} ms from POST to the push, the largest hop is "${largest.hop}" ` +
					`(${ms(largest.medianMs)} ms). The database's own share, the three transactions back to back, is ${ms(lowest.createToFinal.p50)} ms (p50 at ${lowest.clients} client(s)).`
			);
			const stalls = steps.filter(hop => [hop.medianMs, hop.p90Ms].some(value => value >= STALL_MS.min && value <= STALL_MS.max));
			if (stalls.length > 0) {
				notes.push(
					`**${result.mode}, ~40 ms steps**: ${stalls.map(hop => `"${hop.hop}"`).join(", ")} take about 40 ms (median or p90) where a hop otherwise ` +
						`takes 1–3 ms. A fixed ~40 ms is the signature of Nagle's algorithm meeting delayed ACKs: amqplib leaves TCP_NODELAY off unless ` +
						`the transporter's \`socketOptions\` set \`noDelay: true\`, and a second small publish right after another waits for the broker's ACK.`
				);
			}
		}
		const best = result.endToEnd.reduce((a, b) => (b.ordersPerSecond > a.ordersPerSecond ? b : a));
		const { nodes, postgresCpuMs, rabbitmqCpuMs, benchCpuMs } = best.resources;
		const orders = completedOrders(best.ordersPerSecond, report.config.seconds);
		const nodeCpu = nodes.reduce((sum, node) => sum + node.cpuMs, 0);
		notes.push(
			`**${result.mode}, saturation**: the best level (${best.clients} clients) completed ${perSecond(best.ordersPerSecond)} orders/s with the machine ` +
				`${percent(best.resources.machineBusyPercent / 100)} busy; per order it cost ${ms(nodeCpu / orders)} ms of CPU in the service processes, ` +
				`${ms(postgresCpuMs / orders)} ms in Postgres, ${ms(rabbitmqCpuMs / orders)} ms in RabbitMQ and ${ms(benchCpuMs / orders)} ms in the bench's client.`
		);
	}
	for (const scenario of report.relay ?? []) {
		notes.push(
			`**Relay ×${scenario.relays}**: rows committed by a program without a relay wake the relays through Postgres NOTIFY: commit→emit p50 ` +
				`${ms(scenario.latency.commitToEmit.p50)} ms, max ${ms(scenario.latency.commitToEmit.max)} ms ` +
				`(a poll, every ${report.environment.serviceSettings.OUTBOX_POLL_INTERVAL_MS} ms, would take half that interval on average). The burst of ${scenario.burst.events} was emitted at ` +
				`${perSecond(scenario.burst.emittedPerSecond)}/s but confirmed at ${perSecond(scenario.burst.confirmedPerSecond)}/s, with ${scenario.burst.reemits} re-emits ` +
				`(a row still queued when its lease ends is sent again; the relay claims its next batch once the consumers have confirmed half of the last one); ` +
				`everything was confirmed and every queue empty ${scenario.burst.settledSeconds.toFixed(1)} s after the commit.`
		);
	}
	if (report.soak) {
		const { first, second } = soakHalves(report.soak);
		const cpu = (part: "postgres" | "rest") => `${mean(first, w => w.cpuMsPerOrder[part]).toFixed(2)} → ${mean(second, w => w.cpuMsPerOrder[part]).toFixed(2)} ms`;
		notes.push(
			`**Long run, CPU per order** (first half → second half): Postgres ${cpu("postgres")}, everything else ${cpu("rest")}. A database ` +
				`or a service growing costlier would raise its own share; all of them rising alike is the machine getting slower (a shared host's drift).`
		);
	}
	if (report.soak && !report.soak.autovacuum) {
		notes.push(
			`**Long run, autovacuum off**: this Postgres server runs without autovacuum (its configuration says so), so the old version of every ` +
				`updated row (each confirmed outbox event, each ended order) stays until someone vacuums: tables and indexes only grow during the run. ` +
				`Production servers vacuum on their own (Postgres' default, as in docker-compose and the embedded server), so a slowdown ` +
				`in this run's second half may be that bloat rather than the system's.`
		);
	}
	return notes;
}

function clusterShape(instancesPerService: number): string {
	return `gateway, ${instancesPerService}× orders, ${instancesPerService}× payments`;
}

function modeTitle(mode: Mode, report: BenchReport): string {
	return mode === "cluster" ? `cluster (${clusterShape(report.config.clusterInstances)})` : mode;
}

/** Mean orders/s of the scale-out runs with `instances` per service. */
function meanThroughput(scaleOut: ScaleOutResult, instances: number): number {
	const runs = scaleOut.runs.filter(run => run.instancesPerService === instances);
	return runs.reduce((sum, run) => sum + run.ordersPerSecond, 0) / runs.length;
}

function scaleOutSection(report: BenchReport): string {
	const scaleOut = report.scaleOut;
	if (!scaleOut) return "Not measured in this run (BENCH_SCALE_OUT_ROUNDS=0, no cluster mode, or the cluster already runs production's instances).";
	const rows = scaleOut.runs.map(run => [
		String(run.round),
		clusterShape(run.instancesPerService),
		perSecond(run.ordersPerSecond),
		ms(run.createToFinal.p50),
		ms(run.createToFinal.p99),
		ms(run.cpuMsPerOrder)
	]);
	const [fewer, production] = [meanThroughput(scaleOut, report.config.clusterInstances), meanThroughput(scaleOut, PRODUCTION_INSTANCES_PER_SERVICE)];
	return (
		`${scaleOut.clients} clients; CPU ms/order counts every process of the cluster, Postgres, RabbitMQ and the bench's client.\n\n` +
		`${table(["round", "cluster", "orders/s", "c→f p50", "p99", "CPU ms/order"], rows)}\n\n` +
		`Mean throughput with production's ${PRODUCTION_INSTANCES_PER_SERVICE} instances per service: ${percent(production / fewer)} of that with ${report.config.clusterInstances} on this ${report.environment.machine.cpus}-core machine.`
	);
}

function soakSection(report: BenchReport): string {
	const soak = report.soak;
	if (!soak) return "Not measured in this run (BENCH_SOAK_SECONDS=0).";
	const names = soak.windows[0].processes.map(p => p.name);
	return table(
		[
			"s",
			"orders/s",
			"c→f p50",
			"p99",
			"CPU ms/order: Postgres",
			"the rest",
			...names.map(name => `${name} RSS MB / fds`),
			"db conns",
			"unconfirmed",
			"queued",
			"outbox rows",
			"inbox rows",
			"errors"
		],
		soak.windows.map(w => [
			w.endSeconds.toFixed(0),
			perSecond(w.ordersPerSecond),
			ms(w.createToFinal.p50),
			ms(w.createToFinal.p99),
			w.cpuMsPerOrder.postgres.toFixed(2),
			w.cpuMsPerOrder.rest.toFixed(2),
			...names.map(name => {
				const p = w.processes.find(process => process.name === name);
				return p ? `${megabytes(p.rssMb)} / ${p.fds}` : "–";
			}),
			String(w.databaseConnections),
			String(w.unconfirmedEvents),
			String(w.waitingMessages),
			String(w.outboxRows),
			String(w.inboxRows),
			String(w.errors)
		])
	);
}

export function renderMarkdown(report: BenchReport): string {
	const modeSections = report.modes.map(
		result =>
			`### ${modeTitle(result.mode, report)}\n\n${endToEndTable(result)}\n\nCPU time per completed order (ms), during the measured window:\n\n${cpuTable(result, report.config.seconds)}` +
			`\n\nSaturation, in pairs at ${result.saturationPairs[0].endToEnd.clients} clients (the verdict is their median ratio):\n\n${saturationPairsTable(result)}`
	);
	const targetRows = [
		...report.modes.flatMap(result => checkTargets(result).map(check => [modeTitle(result.mode, report), check.target, check.measured, check.met ? "met" : "**not met**"])),
		...(report.soak ? checkSoak(report.soak).map(check => [`cluster (${clusterShape(PRODUCTION_INSTANCES_PER_SERVICE)})`, check.target, check.measured, check.met ? "met" : "**not met**"]) : [])
	];
	return `# Benchmarks

Written by \`npm run bench\` (tools/bench/); the figures below are from the run described here. Re-run it to refresh them.

${machineSection(report)}

## How it measures

- **End to end**: closed-loop clients over HTTP through the gateway, each its own user with an account and a large balance,
  each with its live channel (\`GET /api/events\`) open before the level starts. A client posts an order and waits until the
  push with its final status arrives, then posts the next. Latency = push arrival − POST start; orders/s = final statuses
  arriving in the ${report.config.seconds} s window after a ${report.config.warmupSeconds} s warm-up. Modes: **cluster** (${clusterShape(report.config.clusterInstances)},
  separate processes, RabbitMQ, the machine's Postgres) and **embedded** (the default \`npm start\`: one process,
  embedded Postgres). RSS is the peak VmRSS of each process during the window; CPU is from /proc.
- **Database limit**: the same transactions per order, built by the services' own SQL builders (so with the same prepared statements) and run directly with \`pg\` on the same server (one pool per database with
  one connection per client and one for the confirmations, no messaging), on fresh databases migrated with the services' migrations: (i) order + outbox
  row; (ii) inbox row, payment lookup, debit, payment row, outbox row; (iii) inbox row, order status; and the outbox
  confirmations, batched as the consumers batch them (one UPDATE per database every 50 ms). Each level of it is measured
  right before or after the same level end to end (alternately), the system idle meanwhile, so that a ratio compares measurements taken seconds
  apart (this shared machine's speed drifts; the cluster, with its many processes and hops, suffers most from it). The ratio is end-to-end orders/s over this limit at the same number of clients. It leaves out what the
  system needs on top: the messaging itself and the relays' polls (one claim statement per instance every ${report.environment.serviceSettings.OUTBOX_POLL_INTERVAL_MS} ms).
- **Saturation verdict**: the highest level is measured in ${report.config.saturationPairs} pairs of end to end and limit, the sweep's and ${report.config.saturationPairs - 1} more, the side that
  goes first alternating; the verdict is the median pair's ratio, so that a slow spell of the machine during one side of one pair cannot decide it.
  The best level against the limit's best level, minutes apart, is shown beside it.
- **Hops**: the timestamps the system writes anyway (order row inserted and updated, each outbox row's claim, the start of
  each consumer transaction) joined with the client's clock, at the lowest level; orders whose events were re-emitted are left out.
- **Outbox relay**: orders instances (one, then two on one database) relay \`payment.requested\` rows that the bench inserts
  itself, so the relays hear of them only through Postgres NOTIFY (as with a backfill or a replay); two payments instances consume.
  A burst of ${report.config.relayEvents} rows in one statement gives emitted/s (first claim → last first claim) and confirmed/s
  (first claim → last confirmation), and how long until every outbox was confirmed and every queue empty; then, on the
  settled system, ${report.config.relaySamples} single rows, committed one at a time at random moments relative
  to the poll timers (so that a poll cannot pass for a notification), give the latencies, all from database timestamps on one server clock.
- **Instances per service**: the cluster as above and as production runs it (${clusterShape(PRODUCTION_INSTANCES_PER_SERVICE)}),
  both started side by side, driven in turn at the highest level for ${report.config.scaleOutRounds} round(s), the order alternating by round.
- **Long run**: the cluster as production runs it (${clusterShape(PRODUCTION_INSTANCES_PER_SERVICE)}) under ${report.config.soakClients} closed-loop clients for ${report.config.soakSeconds} s, in ${report.config.soakWindowSeconds} s windows; at
  the end of each: every process' open file descriptors, the services' database connections, the unconfirmed outbox events,
  the outbox and inbox rows and the messages waiting in RabbitMQ (RSS is each window's peak; CPU per order is Postgres' and
  that of every other process measured, so that a database growing costlier shows apart). Growth compares the first and
  the second half, the first window (warm-up) left out. The outbox and inbox tables grow by design until the retention job
  deletes rows past their retention (hours; tested in test/integration/poison-and-retention.spec.ts).
- Each level is one ${report.config.seconds} s window on a shared machine whose cores also run Postgres, RabbitMQ and the bench
  itself: repeat a run before reading much into a difference in saturation figures.

## Targets (2-core machine; reported, not enforced)

${table(["mode", "target", "measured", "verdict"], targetRows)}

## End to end

![Create → final latency against throughput](benchmark-latency.svg)

${modeSections.join("\n\n")}

## Database limit

${limitTable(report)}

## Light load, hop by hop

${report.modes.map(result => `### ${result.mode}\n\n${hopsSection(result)}`).join("\n\n")}

## Outbox relay

${relaySection(report)}

## Instances per service

${scaleOutSection(report)}

## Long run

${soakSection(report)}

## Reading the figures

${observations(report)
	.map(note => `- ${note}`)
	.join("\n")}
`;
}
