/**
 * Once per test run: a Postgres to create throw-away databases in, and RabbitMQ if it is there.
 *
 * - TEST_DATABASE_URL (an admin URL, e.g. postgres://postgres@127.0.0.1:5432/postgres) uses that
 *   server; unset, an embedded Postgres is started for the run in .data/test-postgres.
 * - TEST_TRANSPORTER (default amqp://guest:guest@127.0.0.1:5672) is probed. Unreachable: under CI
 *   the run fails; elsewhere the RabbitMQ suites are skipped with a loud line saying so.
 */
import path from "node:path";
import amqp from "amqplib";
import type { TestProject } from "vitest/node";
import { embeddedDatabase, prepareDatabase, stopEmbeddedPostgres } from "../../platform/database";
import { PROJECT_ROOT } from "../../platform/paths";
import { deleteUnusedQueues } from "./rabbitmq-queues";

declare module "vitest" {
	export interface ProvidedContext {
		databaseAdminUrl: string;
		rabbitmqUrl: string | null;
	}
}

const TEST_EMBEDDED_POSTGRES = { dataDir: path.join(PROJECT_ROOT, ".data/test-postgres"), port: 5440 };

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
 * Not the fault suites' (`MOL-faults-`): each fault cluster removes its own when it stops, and one
 * that is unused for a moment (its consumers killed on purpose) may belong to a fault run going on
 * beside this one.
 */
const TEST_PREFIXES = ["MOL-test-", "MOL-cluster-test-"];

export default async function setup(project: TestProject) {
	let databaseAdminUrl = process.env.TEST_DATABASE_URL;
	if (!databaseAdminUrl) {
		const admin = embeddedDatabase("postgres", TEST_EMBEDDED_POSTGRES);
		databaseAdminUrl = admin.url;
		await prepareDatabase(admin, msg => console.log(msg));
	}
	project.provide("databaseAdminUrl", databaseAdminUrl);
	const rabbitmqUrl = await probeRabbitMq(process.env.TEST_TRANSPORTER ?? "amqp://guest:guest@127.0.0.1:5672");
	project.provide("rabbitmqUrl", rabbitmqUrl);

	return async () => {
		await stopEmbeddedPostgres();
		if (rabbitmqUrl) await deleteUnusedQueues(rabbitmqUrl, TEST_PREFIXES);
	};
}
