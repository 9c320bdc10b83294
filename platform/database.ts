/**
 * Where each service's database is.
 *
 * `ORDERS_DATABASE_URL` / `PAYMENTS_DATABASE_URL` point a service at any Postgres. Unset, the
 * service uses a database of the same name in the embedded Postgres (platform/embedded-postgres.ts)
 * whose data lives in `.data/postgres`, started once per process on first use.
 */
import path from "node:path";
import { Client } from "pg";
import { EmbeddedPostgres, type EmbeddedPostgresSettings } from "./embedded-postgres";
import { PROJECT_ROOT } from "./paths";
import { SQLSTATE } from "./sql";

export function embeddedPostgresSettings(env: NodeJS.ProcessEnv = process.env): EmbeddedPostgresSettings {
	return {
		dataDir: path.resolve(PROJECT_ROOT, env.EMBEDDED_POSTGRES_DIR ?? ".data/postgres"),
		port: Number(env.EMBEDDED_POSTGRES_PORT ?? 5439)
	};
}

const EMBEDDED_CREDENTIALS = "postgres:postgres";

function embeddedUrl(database: string, env: NodeJS.ProcessEnv): string {
	return `postgres://${EMBEDDED_CREDENTIALS}@127.0.0.1:${embeddedPostgresSettings(env).port}/${database}`;
}

export interface DatabaseLocation {
	url: string;
	/** True when the URL is the embedded default, which this process may have to start. */
	embedded: boolean;
}

/** A service's database: `<SERVICE>_DATABASE_URL`, else a database of its name in the embedded server. */
export function databaseFor(service: string, env: NodeJS.ProcessEnv = process.env): DatabaseLocation {
	const configured = env[`${service.toUpperCase()}_DATABASE_URL`];
	return configured ? { url: configured, embedded: false } : { url: embeddedUrl(service, env), embedded: true };
}

let embeddedServer: EmbeddedPostgres | null = null;
let embeddedStarting: Promise<void> | null = null;

/** Stops the embedded server if this process owns it. */
export async function stopEmbeddedPostgres(): Promise<void> {
	const server = embeddedServer;
	embeddedServer = null;
	embeddedStarting = null;
	if (server) await server.stop();
}

/** Creates the URL's database when it does not exist yet (connecting to the `postgres` database). */
export async function createDatabaseIfMissing(url: string): Promise<void> {
	const target = new URL(url);
	const database = decodeURIComponent(target.pathname.slice(1));
	const admin = new URL(url);
	admin.pathname = "/postgres";
	const client = new Client({ connectionString: admin.toString() });
	await client.connect();
	try {
		const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1::text", [database]);
		if (rowCount === 0) {
			await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
				// A concurrent CREATE DATABASE of the same name fails with either code.
				if (err.code !== SQLSTATE.DUPLICATE_DATABASE && err.code !== SQLSTATE.UNIQUE_VIOLATION) throw err;
			});
		}
	} finally {
		await client.end();
	}
}

/**
 * Makes the database behind `url` reachable: starts the embedded server first when the URL is the
 * embedded default, then creates the database if it is missing.
 */
export async function prepareDatabase(
	{ url, embedded }: DatabaseLocation,
	log: (msg: string) => void,
	env: NodeJS.ProcessEnv = process.env
): Promise<void> {
	if (embedded) {
		embeddedStarting ??= (async () => {
			const server = new EmbeddedPostgres(embeddedPostgresSettings(env), log);
			await server.start();
			embeddedServer = server;
		})().catch(err => {
			embeddedStarting = null;
			throw err;
		});
		await embeddedStarting;
	}
	await createDatabaseIfMissing(url);
}
