/**
 * One Moleculer node as its own process, started the way production starts it (moleculer-runner
 * on the compiled code), with the bench's settings: warnings only, no per-user rate limit (the
 * load would be throttled otherwise). Its output is passed through, prefixed with its name.
 */
import type { ChildProcess } from "node:child_process";
import readline from "node:readline";
import { spawnRunner } from "../runner-process";
import { sleep } from "./clock";

export interface RunnerNode {
	name: string;
	pid: number;
	process: ChildProcess;
	/** Resolves when the process has exited. */
	exited: Promise<void>;
}

const STOP_TIMEOUT_MS = 40_000;

/** The first line of a log entry in Moleculer's text format: `[time] LEVEL message`. */
const LOG_ENTRY_HEAD = /^\[[^\]]+\]\s+([A-Z]+)\s+(.*)$/;

/**
 * Prints a node's output prefixed with its name. A log entry (its first line and the stack or
 * fields below it) that repeats an earlier one is counted instead of printed: the gateway warns,
 * with a stack, each time a client closes its live channel.
 */
class NodeOutput {
	private readonly seen = new Set<string>();
	private repeats = 0;
	private printing = true;

	constructor(private readonly name: string) {}

	line(line: string): void {
		const head = LOG_ENTRY_HEAD.exec(line);
		if (head) {
			const entry = `${head[1]} ${head[2]}`;
			this.printing = !this.seen.has(entry);
			if (this.printing) this.seen.add(entry);
			else this.repeats++;
		}
		if (this.printing) this.print(line);
	}

	summarize(): void {
		if (this.repeats > 0) this.print(`(${this.repeats} repeats of log entries shown above)`);
	}

	private print(line: string): void {
		console.log(`${this.name.padEnd(10)} | ${line}`);
	}
}

/** Starts a node with the bench's environment on top of `env` (which goes on top of the bench's own environment). */
export function startRunnerNode(name: string, env: NodeJS.ProcessEnv): RunnerNode {
	// Its own process group: a Ctrl-C reaches the bench only, which then stops each node once.
	const child = spawnRunner({ ...env, LOGLEVEL: "warn", RATE_LIMIT_PER_MINUTE: "0" }, { detached: true });
	const output = new NodeOutput(name);
	for (const stream of [child.stdout!, child.stderr!]) readline.createInterface({ input: stream }).on("line", line => output.line(line));
	const exited = new Promise<void>(resolve =>
		child.once("exit", () => {
			output.summarize();
			resolve();
		})
	);
	if (child.pid === undefined) throw new Error(`Could not start ${name}.`);
	return { name, pid: child.pid, process: child, exited };
}

function hasExited(node: RunnerNode): boolean {
	return node.process.exitCode !== null || node.process.signalCode !== null;
}

/** Stops the nodes gracefully (SIGTERM) and waits for their exit; a node still there after the timeout is killed. */
export async function stopRunnerNodes(nodes: readonly RunnerNode[]): Promise<void> {
	const running = nodes.filter(node => !hasExited(node));
	for (const node of running) node.process.kill("SIGTERM");
	const deadline = sleep(STOP_TIMEOUT_MS).then(() => "timeout" as const);
	for (const node of running) {
		if ((await Promise.race([node.exited, deadline])) === "timeout") {
			console.error(`bench | ${node.name} did not stop within ${STOP_TIMEOUT_MS} ms: killing it.`);
			node.process.kill("SIGKILL");
			await node.exited;
		}
	}
}

/** Polls an HTTP readiness URL until it answers 200; fails at once if one of the nodes exits. */
export async function waitUntilReady(url: string, nodes: readonly RunnerNode[], timeoutMs = 120_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const gone = nodes.find(hasExited);
		if (gone) throw new Error(`${gone.name} exited (${gone.process.exitCode ?? gone.process.signalCode}) while starting.`);
		const ready = await fetch(url, { signal: AbortSignal.timeout(3000) }).then(
			async response => (await response.arrayBuffer(), response.ok),
			() => false
		);
		if (ready) return;
		if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${url}.`);
		await sleep(200);
	}
}
