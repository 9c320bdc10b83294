/**
 * The newcomer's path: `npm start` with no configuration runs the whole system on an embedded
 * Postgres, and starts again after being killed (an orphaned postmaster, then a stale pid file).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it, onTestFailed } from "vitest";
import { isProcessAlive } from "../../lib/database";
import { waitFor } from "../support/system";

const ROOT = path.resolve(__dirname, "../..");
const DATA_DIR = `.data/test-embedded-${process.pid}`;
const PID_FILE = path.join(ROOT, DATA_DIR, "postmaster.pid");

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
		server.on("error", reject);
	});
}

const postmasterPid = () => Number(readFileSync(PID_FILE, "utf8").split("\n")[0]);
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1]);

/** What the started processes printed on stderr, shown only if the test fails. */
const serverLog: string[] = [];
let httpPort: number;
let pgPort: number;
const running: ChildProcess[] = [];

/** `npm start` in its own process group, with no database or transporter configured. */
function npmStart(): ChildProcess {
	const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(httpPort), EMBEDDED_POSTGRES_DIR: DATA_DIR, EMBEDDED_POSTGRES_PORT: String(pgPort), LOGLEVEL: "warn" };
	for (const name of ["ORDERS_DATABASE_URL", "PAYMENTS_DATABASE_URL", "TRANSPORTER", "SERVICES", "NAMESPACE"]) delete env[name];
	const child = spawn("npm", ["start"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "ignore", "pipe"] });
	child.stderr?.on("data", chunk => serverLog.push(String(chunk)));
	running.push(child);
	return child;
}

async function request(method: string, urlPath: string, body?: unknown) {
	const res = await fetch(`http://127.0.0.1:${httpPort}${urlPath}`, {
		method,
		headers: { "X-User-Id": "newcomer", "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	return { status: res.status, body: await res.json() };
}

const waitForReady = () =>
	waitFor("the system to be ready", async () => (await fetch(`http://127.0.0.1:${httpPort}/ready`).catch(() => null))?.ok, 120_000);

const exited = (child: ChildProcess) => new Promise(resolve => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));

afterAll(async () => {
	for (const child of running) {
		try {
			process.kill(-child.pid!, "SIGKILL");
		} catch {
			// already gone
		}
	}
	if (existsSync(PID_FILE) && isProcessAlive(postmasterPid())) process.kill(postmasterPid(), "SIGKILL");
	rmSync(path.join(ROOT, DATA_DIR), { recursive: true, force: true });
});

describe("npm start on the embedded default", () => {
	it("serves the seed scenario, survives SIGKILL twice and stops cleanly", async () => {
		onTestFailed(() => console.error(`npm start printed:\n${serverLog.join("")}`));
		httpPort = await freePort();
		pgPort = await freePort();

		const first = npmStart();
		await waitForReady();
		expect((await request("POST", "/api/accounts", {})).status).toBe(201);
		expect((await request("POST", "/api/accounts/topup", { amount: 1000 })).status).toBe(200);
		const order = (await request("POST", "/api/orders", { amount: 100, description: "seed" })).body;
		await waitFor("the order to be paid", async () => (await request("GET", `/api/orders/${order.id}`)).body.status === "FINISHED");
		expect((await request("GET", "/api/accounts/balance")).body.balance).toBe(900);

		// 1. Kill only the node process: its postmaster lives on as an orphan holding the data directory.
		const orphan = postmasterPid();
		process.kill(parentOf(orphan), "SIGKILL");
		await exited(first);
		expect(isProcessAlive(orphan)).toBe(true);

		const second = npmStart();
		await waitForReady();
		expect(isProcessAlive(orphan)).toBe(false);
		expect((await request("GET", "/api/accounts/balance")).body.balance).toBe(900);

		// 2. Kill the whole process group, postmaster included: a stale pid file stays behind.
		process.kill(-second.pid!, "SIGKILL");
		await exited(second);
		await waitFor("the postmaster to die", async () => !isProcessAlive(postmasterPid()));
		expect(existsSync(PID_FILE)).toBe(true);

		const third = npmStart();
		await waitForReady();
		expect((await request("GET", `/api/orders/${order.id}`)).body.status).toBe("FINISHED");

		// 3. SIGTERM: a graceful stop takes the embedded Postgres down with it.
		const postmaster = postmasterPid();
		process.kill(-third.pid!, "SIGTERM");
		await exited(third);
		await waitFor("the postmaster to stop", async () => !isProcessAlive(postmaster), 15_000);
	}, 300_000);
});
