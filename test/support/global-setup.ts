/**
 * Once per test run: a Postgres to create throw-away databases in, and RabbitMQ if it is there.
 *
 * - TEST_DATABASE_URL (an admin URL, e.g. postgres://postgres@127.0.0.1:5432/postgres) uses that
 *   server; unset, an embedded Postgres is started for the run in .data/test-postgres.
 * - TEST_TRANSPORTER (default amqp://guest:guest@127.0.0.1:5672) is probed. Unreachable: under CI
 *   the run fails; elsewhere the RabbitMQ suites are skipped with a loud line saying so.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";
import type { TestProject } from "vitest/node";
import { prepareDatabase, stopEmbeddedPostgres } from "../../lib/database";

declare module "vitest" {
	export interface ProvidedContext {
		databaseAdminUrl: string;
		rabbitmqUrl: string | null;
	}
}

const execFileAsync = promisify(execFile);

const TEST_EMBEDDED_ENV = { EMBEDDED_POSTGRES_DIR: ".data/test-postgres", EMBEDDED_POSTGRES_PORT: "5440" };

async function probeRabbitMq(url: string): Promise<string | null> {
	try {
		const connection = await amqp.connect(url, { timeout: 3000 });
		await connection.close();
		return url;
	} catch (err) {
		const message = `RabbitMQ is not reachable at ${url} (${(err as Error).message}).`;
		if (process.env.CI) throw new Error(`${message} CI needs it: start it with 'rabbitmq-server -detached'.`);
		console.warn(`\n${"!".repeat(100)}\n!! ${message}\n!! SKIPPING the RabbitMQ suites. Start RabbitMQ ('rabbitmq-server -detached') or set TEST_TRANSPORTER to run them.\n${"!".repeat(100)}\n`);
		return null;
	}
}

/**
 * The Moleculer namespaces tests make up; their queues and exchanges are removed after the run.
 * Not the fault suites' (`MOL-faults-`): their queues expire by themselves (AMQP_QUEUE_EXPIRY_MS),
 * and one that is unused for a moment (its consumers killed on purpose) may belong to a fault run
 * going on beside this one.
 */
const TEST_PREFIXES = ["MOL-test-", "MOL-cluster-test-"];

/**
 * Deletes the queues (without consumers) and exchanges (unused) that test namespaces left in
 * RabbitMQ. Listing needs `rabbitmqctl` (a local RabbitMQ); without it nothing is removed.
 */
async function deleteTestQueues(url: string): Promise<void> {
	/** The rows (name first, then the columns asked for) of the test namespaces' queues or exchanges. */
	const list = async (what: string, ...columns: string[]) => {
		try {
			const { stdout } = await execFileAsync("rabbitmqctl", [what, "-q", "--no-table-headers", "name", ...columns], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
			return stdout.split("\n").map(line => line.trim().split(/\s+/)).filter(([name]) => TEST_PREFIXES.some(prefix => name.startsWith(prefix)));
		} catch {
			return [];
		}
	};
	const [queues, exchanges] = [await list("list_queues", "type", "consumers"), await list("list_exchanges")];
	if (queues.length + exchanges.length === 0) return;
	const connection = await amqp.connect(url);
	connection.on("error", () => undefined);
	for (const [queue, type, consumers] of queues) {
		// RabbitMQ refuses `ifUnused` on a quorum queue (and closes the connection): its consumers as listed instead.
		if (type === "quorum" && consumers !== "0") continue;
		const channel = await connection.createChannel(); // a refused delete closes its channel...
		channel.on("error", () => undefined); // ...with an error event, which must not crash the run
		await channel.deleteQueue(queue, { ifUnused: type !== "quorum" }).catch(() => undefined);
		await channel.close().catch(() => undefined);
	}
	for (const [exchange] of exchanges) {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		await channel.deleteExchange(exchange, { ifUnused: true }).catch(() => undefined);
		await channel.close().catch(() => undefined);
	}
	await connection.close();
}

export default async function setup(project: TestProject) {
	let databaseAdminUrl = process.env.TEST_DATABASE_URL;
	if (!databaseAdminUrl) {
		databaseAdminUrl = `postgres://postgres:postgres@127.0.0.1:${TEST_EMBEDDED_ENV.EMBEDDED_POSTGRES_PORT}/postgres`;
		await prepareDatabase({ url: databaseAdminUrl, embedded: true }, msg => console.log(msg), TEST_EMBEDDED_ENV);
	}
	project.provide("databaseAdminUrl", databaseAdminUrl);
	const rabbitmqUrl = await probeRabbitMq(process.env.TEST_TRANSPORTER ?? "amqp://guest:guest@127.0.0.1:5672");
	project.provide("rabbitmqUrl", rabbitmqUrl);

	return async () => {
		await stopEmbeddedPostgres();
		if (rabbitmqUrl) await deleteTestQueues(rabbitmqUrl);
	};
}
