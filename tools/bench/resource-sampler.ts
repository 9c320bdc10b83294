/**
 * What the processes cost while a level is measured, from /proc: the peak resident memory of each
 * node (VmRSS, sampled), the CPU time of each node, of Postgres (all its processes), of RabbitMQ
 * (beam.smp) and of the bench itself, and how busy the whole machine was.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface NodeResources {
	name: string;
	maxRssMb: number;
	cpuMs: number;
}

export interface WindowResources {
	nodes: NodeResources[];
	postgresCpuMs: number;
	rabbitmqCpuMs: number;
	benchCpuMs: number;
	/** Share of the machine's CPU time (all cores) that was not idle. */
	machineBusyPercent: number;
}

/** The orders completed in a window, the divisor of a per-order cost (a window without any counts as one). */
export function completedOrders(ordersPerSecond: number, seconds: number): number {
	return Math.max(1, ordersPerSecond * seconds);
}

/** The CPU time of every process the window measured: the nodes, Postgres, RabbitMQ and the bench. */
export function totalCpuMs({ nodes, postgresCpuMs, rabbitmqCpuMs, benchCpuMs }: WindowResources): number {
	return nodes.reduce((sum, node) => sum + node.cpuMs, 0) + postgresCpuMs + rabbitmqCpuMs + benchCpuMs;
}

const RSS_SAMPLE_INTERVAL_MS = 250;
/** USER_HZ: the unit of /proc CPU times; 100 on Linux for x86 and arm. */
const TICK_MS = 10;

function read(file: string): string | null {
	try {
		return readFileSync(file, "utf8");
	} catch {
		return null; // the process is gone
	}
}

/** utime + stime of a process, in milliseconds. */
function cpuMsOf(pid: number): number {
	const stat = read(`/proc/${pid}/stat`);
	if (!stat) return 0;
	// The command name (field 2) may hold spaces: the fields that follow start after its ')'.
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function rssMbOf(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? "");
	return match ? Number(match[1]) / 1024 : 0;
}

function pidsNamed(command: string): number[] {
	return readdirSync("/proc")
		.filter(entry => /^\d+$/.test(entry) && read(`/proc/${entry}/comm`)?.trim() === command)
		.map(Number);
}

function cpuByPid(pids: number[]): Map<number, number> {
	return new Map(pids.map(pid => [pid, cpuMsOf(pid)]));
}

/** CPU spent by the processes of that name since `before` (processes started since count whole). */
function cpuSince(command: string, before: Map<number, number>): number {
	return pidsNamed(command).reduce((sum, pid) => sum + cpuMsOf(pid) - (before.get(pid) ?? 0), 0);
}

function machineTicks(): { busy: number; total: number } {
	const [, ...values] = (read("/proc/stat") ?? "").split("\n")[0].trim().split(/\s+/);
	const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
	const total = user + nice + system + idle + iowait + irq + softirq + steal;
	return { busy: total - idle - iowait, total };
}

export class ResourceSampler {
	private readonly maxRss = new Map<number, number>();
	private nodeCpu = new Map<number, number>();
	private postgresCpu = new Map<number, number>();
	private rabbitmqCpu = new Map<number, number>();
	private benchCpu = process.cpuUsage();
	private machine = machineTicks();
	private timer: ReturnType<typeof setInterval> | null = null;

	constructor(private readonly nodes: readonly { name: string; pid: number }[]) {}

	start(): void {
		this.nodeCpu = cpuByPid(this.nodes.map(node => node.pid));
		this.postgresCpu = cpuByPid(pidsNamed("postgres"));
		this.rabbitmqCpu = cpuByPid(pidsNamed("beam.smp"));
		this.benchCpu = process.cpuUsage();
		this.machine = machineTicks();
		this.sampleRss();
		this.timer = setInterval(() => this.sampleRss(), RSS_SAMPLE_INTERVAL_MS);
	}

	stop(): WindowResources {
		if (this.timer) clearInterval(this.timer);
		this.sampleRss();
		const bench = process.cpuUsage(this.benchCpu);
		const machine = machineTicks();
		return {
			nodes: this.nodes.map(({ name, pid }) => ({
				name,
				maxRssMb: this.maxRss.get(pid) ?? 0,
				cpuMs: cpuMsOf(pid) - (this.nodeCpu.get(pid) ?? 0)
			})),
			postgresCpuMs: cpuSince("postgres", this.postgresCpu),
			rabbitmqCpuMs: cpuSince("beam.smp", this.rabbitmqCpu),
			benchCpuMs: (bench.user + bench.system) / 1000,
			machineBusyPercent: (100 * (machine.busy - this.machine.busy)) / Math.max(1, machine.total - this.machine.total)
		};
	}

	private sampleRss(): void {
		for (const { pid } of this.nodes) this.maxRss.set(pid, Math.max(this.maxRss.get(pid) ?? 0, rssMbOf(pid)));
	}
}
