/**
 * The broker as a three-node RabbitMQ cluster with quorum queues (issue 19), in
 * `npm run test:faults`: the cluster of services (gateway, 2× orders, 2× payments, as separate
 * processes) runs on a RabbitMQ cluster of its own (tools/rabbitmq-cluster.ts: its own node
 * names, ports and folders; the machine's RabbitMQ is not touched), every process's TRANSPORTER
 * listing every node, starting with a different one. Under steady orders and balance reads, one
 * node is stopped gracefully and restarted, then another is killed (SIGKILL) and restarted.
 * Afterwards: nothing lost, nothing applied twice, every ledger balanced, no service process
 * exited, and every request's fate, per phase, is reported: the share that failed during each
 * failover. Figures are printed and written to test-results/broker-cluster.json, the services'
 * output to test-results/broker-cluster.log.
 *
 * Durations: FAULT_BROKER_DOWN_SECONDS (how long a node stays away before it is started again),
 * FAULT_BROKER_ORDERS_PER_SECOND, FAULT_BROKER_READS_PER_SECOND.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../platform/paths";
import { CLUSTER_NODES } from "../../tools/runner-process";
import { rabbitmqInstalled, startRabbitCluster, type RabbitCluster } from "../../tools/rabbitmq-cluster";
import { waitFor } from "../support/system";
import {
	awaitQuiescence,
	callUntilAnswered,
	examineOutcome,
	expectNothingLost,
	lastErrorLines,
	openFundedAccounts,
	sleep,
	startFaultCluster,
	type Attempt,
	type FaultCluster,
	type PlacedOrder
} from "./fault-cluster";

const run = promisify(execFile);
const DOWN_SECONDS = Number(process.env.FAULT_BROKER_DOWN_SECONDS ?? 15);
const ORDERS_PER_SECOND = Number(process.env.FAULT_BROKER_ORDERS_PER_SECOND ?? 10);
const READS_PER_SECOND = Number(process.env.FAULT_BROKER_READS_PER_SECOND ?? 10);
/** Load before the first fault, and after each node is back before the next. */
const STEADY_SECONDS = 10;
const USERS = 50;
const RABBIT_CLUSTER_NAME = "faults-broker";
/** Longest a process may stay unready while a node is away: the reconnection delay (5 s), resubscribing, a busy machine. */
const MAX_UNREADY_SECONDS = 10;

let rabbit: RabbitCluster | undefined;
let cluster: FaultCluster | undefined;
/** What the services printed, kept past the cluster's stop. */
let output: string[] = [];
const figures: Record<string, unknown> = { downSeconds: DOWN_SECONDS, ordersPerSecond: ORDERS_PER_SECOND, readsPerSecond: READS_PER_SECOND };

/** The node list rotated by `by`: each process starts on another node, as behind a load balancer. */
const rotated = <T>(list: readonly T[], by: number) => list.map((_, i) => list[(i + by) % list.length]);

interface Phase {
	name: string;
	from: number;
	to: number;
}

interface RecordedAttempt extends Attempt {
	kind: "create" | "read";
}

const isFailure = (a: Attempt) => a.status === 0 || a.status >= 500 || a.status === 429;
const share = (part: number, whole: number) => (whole ? Math.round((part / whole) * 1000) / 10 : 0);

/**
 * What the clients saw in one phase. Reads are not retried, so their failed share is the share of
 * the phase's time the gateway could not answer; creates are retried with their key at once (from
 * 100 ms), so a few failing seconds make many failed attempts.
 */
function summarise(phase: Phase, attempts: RecordedAttempt[], notReady: Map<string, number>) {
	const inPhase = attempts.filter(a => a.at >= phase.from && a.at < phase.to);
	const failed = inPhase.filter(isFailure);
	const ofKind = (kind: RecordedAttempt["kind"]) => {
		const all = inPhase.filter(a => a.kind === kind);
		const failures = all.filter(isFailure).length;
		return { requests: all.length, failed: failures, failedShare: share(failures, all.length) };
	};
	return {
		seconds: Math.round((phase.to - phase.from) / 100) / 10,
		reads: ofKind("read"),
		creates: ofKind("create"),
		/** From the first failed request's start to the last one's end. */
		failingSeconds: failed.length ? Math.round((Math.max(...failed.map(a => a.at + a.ms)) - Math.min(...failed.map(a => a.at))) / 100) / 10 : 0,
		statuses: inPhase.reduce<Record<string, number>>((counts, a) => ({ ...counts, [`${a.kind} ${a.status}`]: (counts[`${a.kind} ${a.status}`] ?? 0) + 1 }), {}),
		slowestMs: Math.max(0, ...inPhase.map(a => a.ms)),
		/** Seconds each process answered /ready with anything but 200 (sampled every 500 ms). */
		notReadySeconds: Object.fromEntries([...notReady].filter(([, samples]) => samples > 0).map(([id, samples]) => [id, samples / 2]))
	};
}

describe.skipIf(!rabbitmqInstalled())("a three-node RabbitMQ cluster with quorum queues", () => {
	beforeAll(async () => {
		const booting = Date.now();
		rabbit = await startRabbitCluster({ name: RABBIT_CLUSTER_NAME, size: 3 });
		figures.secondsToStartTheRabbitCluster = Math.round((Date.now() - booting) / 100) / 10;
		cluster = await startFaultCluster({
			rabbitmqUrl: index => rotated(rabbit!.urls, index).join(","),
			// AMQP_QUEUE_TYPE as well as the vhost's default: with the default alone, each process's own
			// auto-delete queues are durable classic ones, and a killed node left them unusable
			// ("NOT_FOUND - home node ... is down") until it was back, its processes deaf meanwhile.
			env: { AMQP_QUEUE_TYPE: "quorum", OUTBOX_POLL_INTERVAL_MS: "500", OUTBOX_RETRY_BASE_MS: "500", OUTBOX_RETRY_MAX_MS: "5000" }
		});
		output = cluster.output;
	});

	afterAll(async () => {
		mkdirSync(path.join(PROJECT_ROOT, "test-results"), { recursive: true });
		writeFileSync(path.join(PROJECT_ROOT, "test-results/broker-cluster.json"), JSON.stringify(figures, null, 2));
		// The services' own account of each failover (JSON lines), to read beside the figures.
		writeFileSync(path.join(PROJECT_ROOT, "test-results/broker-cluster.log"), output.join(""));
		console.log(`\nBroker cluster figures:\n${JSON.stringify(figures, null, 2)}\n`);
		await cluster?.stop();
		await rabbit?.destroy();
	});

	it("loses nothing, doubles nothing and keeps every process alive while one node, then another, is stopped and restarted under load", async () => {
		onTestFailed(() => console.error(lastErrorLines(cluster!.output)));
		const { port } = cluster!;
		const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
		await openFundedAccounts(port, users, () => 100_000);

		// No durable classic queue: the shared queues are quorum, each process's own ones transient.
		const queues = (await rabbit!.ctl(0, ["list_queues", "-p", "quorum", "-q", "--no-table-headers", "name", "type", "durable", "auto_delete"]))
			.split("\n")
			.filter(Boolean)
			.map(line => line.split("\t"));
		const durable = queues.filter(([, , isDurable, autoDelete]) => isDurable === "true" && autoDelete === "false");
		figures.queues = { quorum: queues.filter(([, type]) => type === "quorum").length, classic: queues.filter(([, type]) => type === "classic").length };
		expect(durable.length).toBeGreaterThan(0);
		expect(durable.filter(([, type]) => type !== "quorum")).toEqual([]);

		const attempts: RecordedAttempt[] = [];
		const placed: PlacedOrder[] = [];
		let loading = true;
		const ordering = (async () => {
			const pending: Promise<void>[] = [];
			for (let n = 0; loading; n++) {
				const key = `order-${n}`;
				pending.push(
					callUntilAnswered(port, "POST", "/api/orders", users[n % USERS], { amount: 1 + (n % 50), description: `order ${n}` }, key, 300_000, attempt =>
						attempts.push({ kind: "create", ...attempt })
					).then(answer => void placed.push({ key, answer }))
				);
				await sleep(1000 / ORDERS_PER_SECOND);
			}
			await Promise.all(pending);
		})();
		const reading = (async () => {
			const pending: Promise<void>[] = [];
			for (let n = 0; loading; n++) {
				const at = Date.now();
				pending.push(
					fetch(`http://127.0.0.1:${port}/api/accounts/balance`, { headers: { "X-User-Id": users[n % USERS] }, signal: AbortSignal.timeout(15_000) })
						.then(
							res => res.status,
							() => 0
						)
						.then(status => void attempts.push({ kind: "read", at, ms: Date.now() - at, status }))
				);
				await sleep(1000 / READS_PER_SECOND);
			}
			await Promise.all(pending);
		})();

		// Each process's readiness, sampled every 500 ms: the gateway on its port, the others on their health ports.
		const notReadyByPhase: Map<string, number>[] = [];
		const sampling = (async () => {
			while (loading) {
				const current = notReadyByPhase.at(-1);
				await Promise.all(
					CLUSTER_NODES.map(async (node, index) => {
						const healthPort = index === 0 ? port : port + 1 + index;
						const ok = (await fetch(`http://127.0.0.1:${healthPort}/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok;
						if (!ok && current) current.set(node.id, (current.get(node.id) ?? 0) + 1);
					})
				);
				await sleep(500);
			}
		})();

		const phases: Phase[] = [];
		const phase = async (name: string, action: () => Promise<unknown>) => {
			notReadyByPhase.push(new Map());
			const from = Date.now();
			await action();
			phases.push({ name, from, to: Date.now() });
		};
		/** An operator's check before taking a node down: no quorum queue would lose its majority. */
		const awaitNotQuorumCritical = (index: number) =>
			waitFor(
				`node ${index + 1} to be safe to stop`,
				() =>
					rabbit!.ctl(index, ["check_if_node_is_quorum_critical"], "rabbitmq-queues").then(
						() => true,
						() => false
					),
				60_000
			);

		await phase("steady", () => sleep(STEADY_SECONDS * 1000));
		for (const [index, how] of [
			[0, "graceful"],
			[1, "kill"]
		] as const) {
			await awaitNotQuorumCritical(index);
			const label = `node ${index + 1} ${how === "kill" ? "killed" : "stopped"}`;
			await phase(`${label}, until it is back`, async () => {
				await rabbit!.stopNode(index, how);
				await sleep(DOWN_SECONDS * 1000);
				await rabbit!.startNode(index);
			});
			await phase(`${STEADY_SECONDS} s after node ${index + 1} is back`, () => sleep(STEADY_SECONDS * 1000));
		}
		loading = false;
		await Promise.all([ordering, reading, sampling]);
		const answeredAt = Date.now();

		const quiet = await awaitQuiescence(cluster!.pools, 120_000);
		figures.secondsFromLastAnswerToQuiescence = Math.round((Date.now() - answeredAt) / 100) / 10;
		const outcome = await examineOutcome(cluster!.pools, placed);
		figures.phases = Object.fromEntries(phases.map((p, i) => [p.name, summarise(p, attempts, notReadyByPhase[i])]));
		figures.ordersPlaced = placed.length;
		figures.clientRetries = placed.reduce((sum, o) => sum + o.answer.attempts - 1, 0);
		figures.outcome = outcome;
		figures.unexpectedExits = cluster!.unexpectedExits;

		expect(cluster!.unexpectedExits).toEqual([]);
		expect(quiet).toBe(true);
		// A broker event is a dependency away (503, or 504 for a call already sent), never an internal error.
		expect(attempts.filter(a => a.status === 500)).toEqual([]);
		// A node's loss costs its processes a reconnection (Moleculer retries after 5 s), not the node's absence;
		// once it is back, nothing fails any more.
		for (const [i, p] of phases.entries()) {
			const summary = summarise(p, attempts, notReadyByPhase[i]);
			if (p.name.includes("until it is back")) for (const seconds of Object.values(summary.notReadySeconds)) expect(seconds, p.name).toBeLessThanOrEqual(MAX_UNREADY_SECONDS);
			else expect(summary.reads.failed + summary.creates.failed, p.name).toBe(0);
		}
		expectNothingLost(outcome, placed);
		expect(outcome.finished).toBe(placed.length);
		// Every process serves again: none is left half-connected.
		for (const [index, node] of CLUSTER_NODES.entries()) {
			const healthPort = index === 0 ? port : port + 1 + index;
			await waitFor(`${node.id} to be ready`, async () => (await fetch(`http://127.0.0.1:${healthPort}/ready`).catch(() => null))?.ok, 30_000);
		}
	}, 900_000);

	it("leaves nothing behind: the nodes stopped, their folders and queues gone", async () => {
		await cluster?.stop();
		cluster = undefined;
		const folder = rabbit!.folder;
		await rabbit!.destroy();
		rabbit = undefined;
		expect(existsSync(folder)).toBe(false);
		const { stdout } = await run("epmd", ["-names"]).catch(() => ({ stdout: "" }));
		expect(stdout).not.toContain(`${RABBIT_CLUSTER_NAME}-`);
	});
});
