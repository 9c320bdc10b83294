/**
 * A wrong setting stops the start (issue 17): moleculer-runner, as `npm start` runs it, exits at
 * once with one line on stderr naming the variable, before any broker, database or port is touched.
 */
import { describe, expect, it } from "vitest";
import { spawnRunner } from "../../tools/runner-process";

/** What a runner started with `env` printed on stderr, and its exit code. */
function run(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
	const child = spawnRunner({ TRANSPORTER: "", NODE_ID: "", ...env });
	let stderr = "";
	child.stderr?.on("data", chunk => (stderr += String(chunk)));
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`The runner did not stop; it printed:\n${stderr}`));
		}, 20_000);
		child.once("exit", code => {
			clearTimeout(timer);
			resolve({ code, stderr });
		});
	});
}

describe("a wrong setting at start", () => {
	it.each([
		[{ OUTBOX_RETRY_BASE_MS: "soon" }, 'Configuration: OUTBOX_RETRY_BASE_MS must be a positive integer, not "soon".'],
		[{ PORT: "3100", HEALTH_PORT: "3100" }, "Configuration: HEALTH_PORT must differ from PORT (both are 3100): each is a server of its own."],
		[{ INBOX_RETENTION_HOURS: "24" }, /^Configuration: INBOX_RETENTION_HOURS must exceed OUTBOX_MAX_AGE_HOURS/]
	])("%j stops it with one line naming the variable", async (env, line) => {
		const { code, stderr } = await run(env);
		expect(code).not.toBe(0);
		const lines = stderr.trim().split("\n");
		expect(lines).toHaveLength(1);
		expect(lines[0]).toMatch(line);
	});
});
