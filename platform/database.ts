/**
 * Where each service's database is: any Postgres by its URL (`ORDERS_DATABASE_URL`,
 * `PAYMENTS_DATABASE_URL`), or by default a database of the service's name in the embedded Postgres
 * (platform/embedded-postgres.ts), started once per process on first use.
 */
import { Client } from "pg";
import { EmbeddedPostgres, type EmbeddedPostgresSettings } from "./embedded-postgres";
import { SQLSTATE } from "./sql";

const EMBEDDED_CREDENTIALS = "postgres:postgres";

export interface DatabaseLocation {
	url: string;
	/** Set when the URL is in the embedded server, which this process may have to start. */
	embedded: EmbeddedPostgresSettings | null;
}

/** A database of this name in the embedded server. */
export function embeddedDatabase(database: string, server: EmbeddedPostgresSettings): DatabaseLocation {
	return { url: `postgres://${EMBEDDED_CREDENTIALS}@127.0.0.1:${server.port}/${database}`, embedded: server };
}

export function externalDatabase(url: string): DatabaseLocation {
	return { url, embedded: null };
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
export async function prepareDatabase({ url, embedded }: DatabaseLocation, log: (msg: string) => void): Promise<void> {
	if (embedded) {
		embeddedStarting ??= (async () => {
			const server = new EmbeddedPostgres(embedded, log);
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
