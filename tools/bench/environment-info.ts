/** The machine, the versions and the settings a run measured, for the report. */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { PROJECT_ROOT } from "../../platform/paths";
import { configuration } from "../../platform/config";
import type { BenchConfig } from "./config";
import { rabbitmqVersion } from "./rabbitmq";

export interface EnvironmentInfo {
	machine: { cpus: number; cpuModel: string; memoryGb: number; os: string };
	versions: { node: string; moleculer: string; rabbitmq: string };
	/** The settings the services ran with (the environment's, else the defaults). */
	serviceSettings: Record<string, string>;
}

/** The Postgres settings that bear on commit cost, concurrency and (autovacuum) a long run. */
const POSTGRES_SETTINGS = ["autovacuum", "fsync", "synchronous_commit", "shared_buffers", "max_connections", "wal_level"];

function osName(): string {
	const pretty = /^PRETTY_NAME="?(.*?)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
	return `${pretty?.[1] ?? os.type()}, kernel ${os.release()}`;
}

export async function describeEnvironment(config: BenchConfig): Promise<EnvironmentInfo> {
	const { outbox, database } = configuration();
	const moleculer = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "node_modules/moleculer/package.json"), "utf8")) as { version: string };
	return {
		machine: {
			cpus: os.cpus().length,
			cpuModel: os.cpus()[0]?.model ?? "unknown",
			memoryGb: Math.round(os.totalmem() / 2 ** 30),
			os: osName()
		},
		versions: { node: process.version, moleculer: moleculer.version, rabbitmq: await rabbitmqVersion(config.transporter) },
		serviceSettings: {
			OUTBOX_POLL_INTERVAL_MS: String(outbox.pollIntervalMs),
			OUTBOX_BATCH_SIZE: String(outbox.batchSize),
			OUTBOX_RETRY_BASE_MS: String(outbox.retry.baseMs),
			DATABASE_POOL_MAX: String(database.poolMax),
			"AMQP prefetch": "10 (moleculer.config.ts)",
			LOGLEVEL: "warn",
			RATE_LIMIT_PER_MINUTE: "0 (off)"
		}
	};
}

export async function describePostgres(adminUrl: string): Promise<{ version: string; settings: Record<string, string> }> {
	const client = new Client({ connectionString: adminUrl });
	await client.connect();
	try {
		const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0].server_version;
		const { rows } = await client.query<{ name: string; value: string }>("SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name", [
			POSTGRES_SETTINGS
		]);
		return { version, settings: Object.fromEntries(rows.map(row => [row.name, row.value])) };
	} finally {
		await client.end();
	}
}
