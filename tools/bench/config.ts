/**
 * What a benchmark run measures, from the environment (all optional):
 * - BENCH_SECONDS (8): measured seconds per concurrency level, after BENCH_WARMUP_SECONDS (2);
 * - BENCH_LEVELS (1,4,16,32): closed-loop clients per level;
 * - BENCH_MODES (cluster,embedded): which deployments to drive;
 * - BENCH_SATURATION_PAIRS (5): pairs of end-to-end run and database limit at the highest level,
 *   the sweep's included; the saturation verdict is their median ratio;
 * - BENCH_CLUSTER_INSTANCES (1): orders and payments instances in the cluster mode (one each suits
 *   a 2-core machine; production runs two: see BENCH_SCALE_OUT_ROUNDS);
 * - BENCH_SCALE_OUT_ROUNDS (2): rounds of the cluster at the highest level with that many instances
 *   and with production's two, alternately; 0 skips them;
 * - BENCH_RELAY_EVENTS (2000): size of the outbox burst of the relay figures; 0 skips them;
 * - BENCH_RELAY_SAMPLES (20): single events committed one at a time for the relay latency;
 * - BENCH_SOAK_SECONDS (240): the long run on the cluster; 0 skips it;
 * - BENCH_SOAK_CLIENTS (8): its closed-loop clients; BENCH_SOAK_WINDOW_SECONDS (15): its sampling windows;
 * - BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres): the machine's Postgres, as admin;
 * - BENCH_TRANSPORTER (amqp://guest:guest@127.0.0.1:5672): the machine's RabbitMQ.
 */
export const MODES = ["cluster", "embedded"] as const;
export type Mode = (typeof MODES)[number];

export interface BenchConfig {
	seconds: number;
	warmupSeconds: number;
	levels: number[];
	modes: Mode[];
	saturationPairs: number;
	clusterInstances: number;
	scaleOutRounds: number;
	relayEvents: number;
	relaySamples: number;
	soakSeconds: number;
	soakClients: number;
	soakWindowSeconds: number;
	adminUrl: string;
	transporter: string;
}

function wholeNumber(name: string, fallback: number, min: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not "${raw}".`);
	return value;
}

function list(name: string, fallback: string): string[] {
	return (process.env[name] || fallback)
		.split(",")
		.map(item => item.trim())
		.filter(Boolean);
}

export function benchConfigFromEnv(): BenchConfig {
	const levels = list("BENCH_LEVELS", "1,4,16,32").map(Number);
	if (levels.length === 0 || levels.some(level => !Number.isInteger(level) || level < 1)) throw new Error("BENCH_LEVELS must list positive whole numbers, e.g. 1,4,16,32.");
	const modes = list("BENCH_MODES", MODES.join(","));
	const unknown = modes.filter(mode => !(MODES as readonly string[]).includes(mode));
	if (unknown.length > 0) throw new Error(`BENCH_MODES: unknown mode(s) ${unknown.join(", ")}; known: ${MODES.join(", ")}.`);
	return {
		seconds: wholeNumber("BENCH_SECONDS", 8, 1),
		warmupSeconds: wholeNumber("BENCH_WARMUP_SECONDS", 2, 0),
		levels: [...new Set(levels)].sort((a, b) => a - b),
		modes: modes as Mode[],
		saturationPairs: wholeNumber("BENCH_SATURATION_PAIRS", 5, 1),
		clusterInstances: wholeNumber("BENCH_CLUSTER_INSTANCES", 1, 1),
		scaleOutRounds: wholeNumber("BENCH_SCALE_OUT_ROUNDS", 2, 0),
		relayEvents: wholeNumber("BENCH_RELAY_EVENTS", 2000, 0),
		relaySamples: wholeNumber("BENCH_RELAY_SAMPLES", 20, 1),
		soakSeconds: wholeNumber("BENCH_SOAK_SECONDS", 240, 0),
		soakClients: wholeNumber("BENCH_SOAK_CLIENTS", 8, 1),
		soakWindowSeconds: wholeNumber("BENCH_SOAK_WINDOW_SECONDS", 15, 1),
		adminUrl: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
		transporter: process.env.BENCH_TRANSPORTER ?? "amqp://guest:guest@127.0.0.1:5672"
	};
}
