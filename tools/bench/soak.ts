/**
 * The long run: the cluster, in production's shape, under steady closed-loop load for BENCH_SOAK_SECONDS, in consecutive
 * windows, each recording what could grow without bound: each process' resident memory and open
 * file descriptors, the services' database connections and unconfirmed outbox events, the
 * messages waiting in RabbitMQ and the number of its queues, next to throughput and latency.
 * Growth is judged between the first and the second half of the run (the first window, warm-up,
 * left out). The outbox and inbox tables grow by design until the retention job deletes rows
 * older than their retention (hours; tested in test/integration/poison-and-retention.spec.ts).
 */
import { readdirSync } from "node:fs";
import amqp from "amqplib";
import { Client } from "pg";
import { selectPendingSummary } from "../../mixins/outbox-sql";
import { configuration } from "../../platform/config";
import { PRODUCTION_INSTANCES_PER_SERVICE } from "../runner-process";
import type { BenchConfig } from "./config";
import { benchUser, prepareUsers, runEndToEndLevel } from "./end-to-end-load";
import { namespaceQueues } from "./rabbitmq";
import { ResourceSampler, completedOrders, totalCpuMs } from "./resource-sampler";
import type { SoakResult, SoakWindow } from "./results";
import { startSystem } from "./system-under-test";
import type { Teardown } from "./teardown";

function openFileDescriptors(pid: number): number {
	try {
		return readdirSync(`/proc/${pid}/fd`).length;
	} catch {
		return 0; // the process is gone
	}
}

/** A service database's unconfirmed events (the outbox's own summary) and its outbox and inbox rows. */
async function messagingState(database: Client): Promise<{ unconfirmed: number; outboxRows: number; inboxRows: number }> {
	const [{ pending }] = (await database.query<{ pending: number }>(selectPendingSummary())).rows;
	const [rows] = (await database.query<{ outbox: number; inbox: number }>("SELECT (SELECT count(*)::int FROM outbox_events) AS outbox, (SELECT count(*)::int FROM inbox_events) AS inbox")).rows;
	return { unconfirmed: pending, outboxRows: rows.outbox, inboxRows: rows.inbox };
}

export async function measureSoak(config: BenchConfig, runId: string, teardown: Teardown): Promise<SoakResult> {
	const mark = teardown.mark;
	console.log(`bench | soak: ${config.soakSeconds} s at ${config.soakClients} clients on the cluster as production runs it`);
	try {
		// Production's shape: what must not grow includes what two competing instances of each service hold.
		const system = await startSystem("cluster", config, `${runId}soak`, teardown, PRODUCTION_INSTANCES_PER_SERVICE);
		const namespace = `bench-${runId}soak`;
		const users = Array.from({ length: config.soakClients }, (_, index) => benchUser(index));
		await prepareUsers(system.gatewayUrl, users);
		const databases = { orders: new Client({ connectionString: system.databaseUrls.orders }), payments: new Client({ connectionString: system.databaseUrls.payments }) };
		const rabbit = await amqp.connect(config.transporter);
		teardown.add("close the soak's connections", async () => {
			await databases.orders.end();
			await databases.payments.end();
			await rabbit.close();
		});
		await Promise.all([databases.orders.connect(), databases.payments.connect()]);
		const channel = await rabbit.createChannel();
		const queuesAtStart = await namespaceQueues(namespace);

		const windows: SoakWindow[] = [];
		const windowCount = Math.max(2, Math.round(config.soakSeconds / config.soakWindowSeconds));
		const startedAt = Date.now();
		for (let index = 0; index < windowCount; index++) {
			const run = await runEndToEndLevel(system.gatewayUrl, users, 0, config.soakWindowSeconds * 1000, new ResourceSampler(system.nodes));
			const [orders, payments] = await Promise.all([messagingState(databases.orders), messagingState(databases.payments)]);
			const { rows: connections } = await databases.orders.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1::text[])", [
				[databases.orders.database, databases.payments.database]
			]);
			const { resources } = run.figures;
			const completed = completedOrders(run.figures.ordersPerSecond, config.soakWindowSeconds);
			let waitingMessages = 0;
			for (const queue of queuesAtStart) waitingMessages += (await channel.checkQueue(queue)).messageCount;
			const window: SoakWindow = {
				endSeconds: (Date.now() - startedAt) / 1000,
				ordersPerSecond: run.figures.ordersPerSecond,
				createToFinal: run.figures.createToFinal,
				errors: run.figures.failedCreates + run.figures.unfinished + run.figures.notFinished,
				cpuMsPerOrder: { postgres: resources.postgresCpuMs / completed, rest: (totalCpuMs(resources) - resources.postgresCpuMs) / completed },
				processes: resources.nodes.map(node => ({
					name: node.name,
					rssMb: node.maxRssMb,
					fds: openFileDescriptors(system.nodes.find(n => n.name === node.name)?.pid ?? 0)
				})),
				// Less the two connections of the soak itself.
				databaseConnections: connections[0].n - 2,
				unconfirmedEvents: orders.unconfirmed + payments.unconfirmed,
				outboxRows: orders.outboxRows + payments.outboxRows,
				inboxRows: orders.inboxRows + payments.inboxRows,
				waitingMessages
			};
			windows.push(window);
			const rss = window.processes.map(p => `${p.name} ${p.rssMb.toFixed(0)}`).join(", ");
			console.log(
				`bench | soak ${window.endSeconds.toFixed(0)} s: ${window.ordersPerSecond.toFixed(0)} orders/s, p99 ${window.createToFinal.p99.toFixed(0)} ms, ` +
					`CPU ms/order Postgres ${window.cpuMsPerOrder.postgres.toFixed(2)} rest ${window.cpuMsPerOrder.rest.toFixed(2)}, ` +
					`RSS MB ${rss}; ${window.databaseConnections} db connections, ${window.unconfirmedEvents} unconfirmed, ${window.waitingMessages} queued`
			);
		}
		const queuesAtEnd = await namespaceQueues(namespace);
		const autovacuum = (await databases.orders.query<{ autovacuum: string }>("SHOW autovacuum")).rows[0].autovacuum === "on";
		// Each instance of the two services: its pool, and one connection listening for due outbox events.
		const databaseConnectionCeiling = 2 * PRODUCTION_INSTANCES_PER_SERVICE * (configuration().database.poolMax + 1);
		return {
			windows,
			queuesAtStart: queuesAtStart.length,
			queuesAtEnd: queuesAtEnd.length,
			databaseConnectionCeiling,
			autovacuum
		};
	} finally {
		await teardown.run(mark);
	}
}
