/**
 * Two readings of the machine's own speed, taken at the start of a run, so that runs on a shared
 * virtual machine can be told apart: the same code has measured 1.3-1.5× slower here within half
 * an hour, the cluster (many processes, many hops) more than the database limit.
 * - A round trip between two processes over a pipe: every message hop of the cluster pays a few.
 * - A fixed CPU-bound loop in this process.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";

export interface MachineCalibration {
	/** Median of one byte sent to a child process and echoed back, in microseconds. */
	processRoundTripUs: number;
	/** The loop's duration, in milliseconds. */
	cpuLoopMs: number;
}

const ROUND_TRIPS = 3000;
const WARMUP_ROUND_TRIPS = 300;

async function processRoundTripUs(): Promise<number> {
	const child = spawn(process.execPath, ["-e", "process.stdin.on('data', d => process.stdout.write(d))"], { stdio: ["pipe", "pipe", "inherit"] });
	// Should the echo process fail to start or die, the reading fails instead of waiting forever.
	const failed = new Promise<never>((_resolve, reject) => {
		child.once("error", reject);
		child.once("exit", code => reject(new Error(`The calibration's echo process exited (${code}).`)));
	});
	failed.catch(() => undefined); // raced below
	child.stdin.on("error", () => undefined); // a write to a dead process: reported by `failed`
	try {
		const samples: number[] = [];
		for (let i = 0; i < WARMUP_ROUND_TRIPS + ROUND_TRIPS; i++) {
			const startedAt = process.hrtime.bigint();
			const echoed = once(child.stdout, "data");
			child.stdin.write("x");
			await Promise.race([echoed, failed]);
			if (i >= WARMUP_ROUND_TRIPS) samples.push(Number(process.hrtime.bigint() - startedAt) / 1000);
		}
		samples.sort((a, b) => a - b);
		return samples[Math.floor(samples.length / 2)];
	} finally {
		child.kill();
	}
}

function cpuLoopMs(): number {
	const startedAt = performance.now();
	let sum = 0;
	for (let i = 1; i < 20_000_000; i++) sum += Math.sqrt(i) % 7;
	if (sum < 0) throw new Error("unreachable: keeps the loop from being optimised away");
	return performance.now() - startedAt;
}

export async function calibrateMachine(): Promise<MachineCalibration> {
	return { processRoundTripUs: await processRoundTripUs(), cpuLoopMs: cpuLoopMs() };
}
