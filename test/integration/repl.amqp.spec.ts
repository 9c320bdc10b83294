/**
 * The operator's REPL commands as an operator gets them: a REPL process joining the system over
 * RabbitMQ, typed at through its standard input, both the way `npm run repl` starts it
 * (tools/repl.ts) and the way `npm run dev` does (moleculer-runner --repl): both must take the
 * commands from moleculer.config.ts. A service going away is printed, and the REPL goes on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../platform/paths";
import { startSystem, waitFor, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

const PROMPT = "mol $ ";

/** A REPL process; `type` sends a line and returns what the REPL printed until its next prompt. */
class ReplProcess {
	private output = "";
	readonly exited: Promise<number | null>;

	constructor(private readonly child: ChildProcess) {
		child.stdout!.on("data", chunk => (this.output += stripVTControlCharacters(String(chunk))));
		child.stderr!.on("data", chunk => (this.output += String(chunk)));
		this.exited = new Promise(resolve => child.once("exit", code => resolve(code)));
	}

	async type(line: string, timeoutMs = 20_000): Promise<string> {
		const from = this.output.length;
		this.child.stdin!.write(`${line}\n`);
		return waitFor(
			`the REPL to answer '${line}'`,
			async () => {
				const answer = this.output.slice(from);
				// An answer ends with the prompt: the command finished (the prompt before it may be printed after the line was sent).
				const end = answer.lastIndexOf(PROMPT);
				return end > 0 && answer.slice(0, end).trim() !== "" ? answer.slice(0, end).replaceAll(PROMPT, "").trim() : null;
			},
			timeoutMs
		);
	}

	/** Types `line` until the answer matches: the REPL's registry learns the services a moment after it starts. */
	async typeUntil(line: string, expected: RegExp, timeoutMs = 30_000): Promise<string> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const answer = await this.type(line);
			if (expected.test(answer) || Date.now() > deadline) return answer;
			await new Promise(resolve => setTimeout(resolve, 300));
		}
	}

	/** Ctrl-D: the REPL stops its broker and exits. */
	async close(): Promise<number | null> {
		this.child.stdin!.end();
		return this.exited;
	}

	kill(): void {
		if (this.child.exitCode === null) this.child.kill("SIGKILL");
	}

	printed(): string {
		return this.output;
	}
}

const ENTRY_POINTS = {
	"npm run repl": ["tools/repl.ts"],
	"npm run dev": ["node_modules/moleculer/bin/moleculer-runner.js", "--config", "moleculer.config.ts", "--repl"]
};

describe.skipIf(!rabbitmqUrl)("the REPL over RabbitMQ", () => {
	let system: TestSystem;
	const repls: ReplProcess[] = [];
	const user = `repl-amqp-${Date.now()}`;

	function startRepl(entryPoint: keyof typeof ENTRY_POINTS): ReplProcess {
		const child = spawn(path.join(PROJECT_ROOT, "node_modules/.bin/tsx"), ENTRY_POINTS[entryPoint], {
			cwd: PROJECT_ROOT,
			env: { ...process.env, TRANSPORTER: rabbitmqUrl!, NAMESPACE: system.namespace, LOGLEVEL: "warn", AMQP_QUEUE_EXPIRY_MS: "60000", NODE_ID: "" },
			stdio: ["pipe", "pipe", "pipe"]
		});
		const repl = new ReplProcess(child);
		repls.push(repl);
		onTestFailed(() => console.log(`${entryPoint} printed:\n${repl.printed()}`));
		return repl;
	}

	beforeAll(async () => {
		system = await startSystem({ transporter: rabbitmqUrl! });
		await system.request("POST", "/api/accounts", { user, body: {} });
		await system.request("POST", "/api/accounts/topup", { user, body: { amount: 12.5 } });
	});

	afterAll(async () => {
		for (const repl of repls) repl.kill();
		await system?.stop();
	});

	for (const entryPoint of Object.keys(ENTRY_POINTS) as (keyof typeof ENTRY_POINTS)[]) {
		it(`${entryPoint}: outbox shows both services' backlog and as shows a user's balance`, async () => {
			const repl = startRepl(entryPoint);
			const outbox = await repl.typeUntil("outbox", /payments\s*│/);
			expect(outbox).toMatch(/orders\s*│\s*\d+\s*│/);
			expect(outbox).toMatch(/payments\s*│\s*\d+\s*│/);
			const balance = await repl.type(`as ${user} payments.getBalance`);
			expect(balance).toContain(`userId: '${user}'`);
			expect(balance).toContain("balance: 12.5");
			expect(await repl.close()).toBe(0);
		});
	}

	it("prints a service gone as one line and goes on answering", async () => {
		const repl = startRepl("npm run repl");
		await repl.typeUntil("outbox", /payments\s*│/);
		await system.brokers.payments.stop();

		// Stopped gracefully, its node says so: "not available" (a node gone unannounced: "not found").
		const gone = await repl.typeUntil(`as ${user} payments.getBalance`, /404 SERVICE_NOT_/);
		expect(gone.split("\n").at(-1)).toMatch(/^>> payments.getBalance: Service 'payments.getBalance' is not (available|found)\. \(404 SERVICE_NOT_(AVAILABLE|FOUND)\)$/);
		const outbox = await repl.type("outbox");
		expect(outbox).toMatch(/orders\s*│\s*\d+\s*│/);
		expect(outbox).not.toContain("payments");
		expect(await repl.close()).toBe(0);
	});
});
