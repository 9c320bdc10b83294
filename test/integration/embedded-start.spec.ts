/**
 * The newcomer's path: `npm start` with no configuration runs the whole system on an embedded
 * Postgres, and starts again after being killed (an orphaned postmaster, then a stale pid file).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, onTestFailed } from "vitest";
import { isProcessAlive } from "../../platform/embedded-postgres";
import { freePort, waitFor } from "../support/system";

const ROOT = path.resolve(__dirname, "../..");
const DATA_DIR = `.data/test-embedded-${process.pid}`;
const PID_FILE = path.join(ROOT, DATA_DIR, "postmaster.pid");

const postmasterPid = () => Number(readFileSync(PID_FILE, "utf8").split("\n")[0]);

/** node [flags…] …/moleculer-runner.js … (not the sh -c that npm starts it with). */
const isNodeRunningRunner = (argv: string[]) => /(^|\/)node$/.test(argv[0]) && argv.slice(1).some(arg => /moleculer-runner\.js$/.test(arg));

/** The node processes running moleculer-runner with our data folder (npm and sh sit above them). */
function runnerPids(): number[] {
	return readdirSync("/proc")
		.filter(entry => /^\d+$/.test(entry))
		.map(Number)
		.filter(pid => {
			try {
				return (
					isNodeRunningRunner(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")) && readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`EMBEDDED_POSTGRES_DIR=${DATA_DIR}`)
				);
			} catch {
				return false;
			}
		});
}

/** What the started processes printed on stderr, shown only if the test fails. */
const serverLog: string[] = [];
let pgPort: number;
const running: ChildProcess[] = [];

/** `npm start` in its own process group, with no database or transporter configured. */
function npmStart(httpPort: number): ChildProcess {
	const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(httpPort), EMBEDDED_POSTGRES_DIR: DATA_DIR, EMBEDDED_POSTGRES_PORT: String(pgPort), LOGLEVEL: "warn" };
	for (const name of ["ORDERS_DATABASE_URL", "PAYMENTS_DATABASE_URL", "TRANSPORTER", "SERVICES", "NAMESPACE"]) delete env[name];
	// Without its prestart build: `npm test` has just built, and rebuilding dist/ and frontend/dist/
	// here would pull the files from under the suites that run alongside (the cluster, the browser).
	const child = spawn("npm", ["start", "--ignore-scripts"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "ignore", "pipe"] });
	child.stderr?.on("data", chunk => serverLog.push(String(chunk)));
	running.push(child);
	return child;
}

async function request(httpPort: number, method: string, urlPath: string, body?: unknown) {
	const res = await fetch(`http://127.0.0.1:${httpPort}${urlPath}`, {
		method,
		headers: { "X-User-Id": "newcomer", "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	return { status: res.status, body: await res.json() };
}

const waitForReady = (httpPort: number) => waitFor("the system to be ready", async () => (await fetch(`http://127.0.0.1:${httpPort}/ready`).catch(() => null))?.ok, 120_000);

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
	rmSync(path.join(ROOT, `${DATA_DIR}.owner`), { force: true });
});

describe("npm start on the embedded default", () => {
	it("serves the seed scenario, survives SIGKILLs, shares its server and stops gracefully", async () => {
		onTestFailed(() => console.error(`npm start printed:\n${serverLog.join("")}`));
		const [portA, portB, portC, portD] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
		pgPort = await freePort();

		// A: a fresh start initialises the database; the seed scenario works.
		const a = npmStart(portA);
		await waitForReady(portA);
		expect((await request(portA, "POST", "/api/accounts", {})).status).toBe(201);
		expect((await request(portA, "POST", "/api/accounts/topup", { amount: 1000 })).status).toBe(200);
		const order = (await request(portA, "POST", "/api/orders", { amount: 100, description: "seed" })).body;
		await waitFor("the order to be paid", async () => (await request(portA, "GET", `/api/orders/${order.id}`)).body.status === "FINISHED");
		expect((await request(portA, "GET", "/api/accounts/balance")).body.balance).toBe(900);

		// SIGKILL of the node process: the server (in its own session) lives on, and B adopts it.
		const postmaster = postmasterPid();
		for (const pid of runnerPids()) process.kill(pid, "SIGKILL");
		await exited(a);
		expect(isProcessAlive(postmaster)).toBe(true);
		const b = npmStart(portB);
		await waitForReady(portB);
		expect(postmasterPid()).toBe(postmaster);
		expect((await request(portB, "GET", "/api/accounts/balance")).body.balance).toBe(900);

		// C on the same data folder uses B's server and leaves it running when it stops.
		const c = npmStart(portC);
		await waitForReady(portC);
		const [runnerC] = runnerPids().filter(pid => readFileSync(`/proc/${pid}/environ`, "utf8").includes(`PORT=${portC}\0`));
		process.kill(runnerC, "SIGTERM");
		await exited(c);
		expect(isProcessAlive(postmaster)).toBe(true);
		expect((await request(portB, "GET", "/api/accounts/balance")).body.balance).toBe(900);

		// A crash of everything (server included) leaves a stale pid file; D starts anyway.
		process.kill(postmaster, "SIGKILL");
		for (const pid of runnerPids()) process.kill(pid, "SIGKILL");
		await exited(b);
		await waitFor("the server to die", async () => !isProcessAlive(postmaster));
		expect(existsSync(PID_FILE)).toBe(true);
		const d = npmStart(portD);
		await waitForReady(portD);
		expect((await request(portD, "GET", `/api/orders/${order.id}`)).body.status).toBe("FINISHED");

		// SIGTERM to the node process alone: a graceful stop, which takes the server down last.
		const server = postmasterPid();
		const exitCode = new Promise(resolve => d.once("exit", code => resolve(code)));
		for (const pid of runnerPids()) process.kill(pid, "SIGTERM");
		expect(await exitCode).toBe(0);
		expect(serverLog.join("")).not.toMatch(/ERROR/);
		await waitFor("the server to stop", async () => !isProcessAlive(server), 15_000);
	}, 300_000);
});
