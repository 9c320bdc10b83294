/**
 * Two readings of the machine's own speed, taken at the start of a run, so that runs on a shared
 * virtual machine can be told apart: the same code has measured 1.3-2× slower here within an
 * hour, the cluster (many processes, many hops) more than the database limit, and the CPU loop
 * not at all. What moved with it was the time a message takes from one process to another.
 * - A round trip between two processes over loopback TCP: every hop of an order pays a few.
 * - A fixed CPU-bound loop in this process.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import readline from "node:readline";

export interface MachineCalibration {
	/** Median of one byte sent to another process over loopback TCP and echoed back, in microseconds. */
	processRoundTripUs: number;
	/** The loop's duration, in milliseconds. */
	cpuLoopMs: number;
}

const ROUND_TRIPS = 3000;
const WARMUP_ROUND_TRIPS = 300;

/** Echoes what it receives, without Nagle's delay, and prints its port. */
const ECHO_SERVER = `const s = require("node:net").createServer(c => { c.setNoDelay(true); c.pipe(c); });
s.listen(0, "127.0.0.1", () => console.log(s.address().port));`;

async function processRoundTripUs(): Promise<number> {
	const child = spawn(process.execPath, ["-e", ECHO_SERVER], { stdio: ["ignore", "pipe", "inherit"] });
	// Should the echo process fail to start or die, the reading fails instead of waiting forever.
	const failed = new Promise<never>((_resolve, reject) => {
		child.once("error", reject);
		child.once("exit", code => reject(new Error(`The calibration's echo process exited (${code}).`)));
	});
	failed.catch(() => undefined); // raced below
	let socket: net.Socket | undefined;
	try {
		const [port] = (await Promise.race([once(readline.createInterface({ input: child.stdout }), "line"), failed])) as [string];
		socket = net.connect({ port: Number(port), host: "127.0.0.1", noDelay: true });
		socket.on("error", () => undefined); // reported by `failed` or the race below
		await Promise.race([once(socket, "connect"), failed]);
		const samples: number[] = [];
		for (let i = 0; i < WARMUP_ROUND_TRIPS + ROUND_TRIPS; i++) {
			const startedAt = process.hrtime.bigint();
			const echoed = once(socket, "data");
			socket.write("x");
			await Promise.race([echoed, failed]);
			if (i >= WARMUP_ROUND_TRIPS) samples.push(Number(process.hrtime.bigint() - startedAt) / 1000);
		}
		samples.sort((a, b) => a - b);
		return samples[Math.floor(samples.length / 2)];
	} finally {
		socket?.destroy();
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
