/** The figures of a run, as the console table, BENCHMARKS.md and the chart read them. */
import type { BenchConfig, Mode } from "./config";
import type { EnvironmentInfo } from "./environment-info";
import type { WindowResources } from "./resource-sampler";
import type { LatencySummary } from "./stats";

export interface EndToEndLevel {
	clients: number;
	ordersPerSecond: number;
	/** POST started → final status pushed on the live channel. */
	createToFinal: LatencySummary;
	/** POST /api/orders round trip. */
	httpCreate: LatencySummary;
	failedCreates: number;
	/** Created, but no final status pushed within the timeout. */
	unfinished: number;
	/** Ended otherwise than FINISHED (none expected: balances are large). */
	notFinished: number;
	firstError: string | null;
	resources: WindowResources;
}

export interface DatabaseLimitLevel {
	clients: number;
	ordersPerSecond: number;
	/** Start of transaction (i) → commit of transaction (iii): the database's share of create→final. */
	createToFinal: LatencySummary;
	errors: number;
	firstError: string | null;
	/** Postgres', the bench's and the machine's CPU during the window (no service processes run). */
	resources: WindowResources;
}

/** The end-to-end run and the database limit at the highest level, measured back to back. */
export interface SaturationPair {
	/** Which side ran first: it alternates, so that what one leaves Postgres to do falls on both alike. */
	limitFirst: boolean;
	endToEnd: EndToEndLevel;
	limit: DatabaseLimitLevel;
}

export interface HopTiming {
	hop: string;
	medianMs: number;
	p90Ms: number;
}

export interface ModeResult {
	mode: Mode;
	postgres: { version: string; settings: Record<string, string> };
	endToEnd: EndToEndLevel[];
	databaseLimit: DatabaseLimitLevel[];
	/** Every pair at the highest level: the sweep's, then BENCH_SATURATION_PAIRS − 1 more. */
	saturationPairs: SaturationPair[];
	/** The path of an order at the lowest level, hop by hop (null when no order had a clean path). */
	lightLoadHops: { clients: number; orders: number; hops: HopTiming[] } | null;
}

export interface RelayBurst {
	events: number;
	/** Commit of the burst → first row claimed (notification → relay round). */
	waitForFirstEmitMs: number;
	/** Rows claimed and emitted per second, first claim → last (NaN, shown as "–", when one claim took the whole burst). */
	emittedPerSecond: number;
	/** Rows confirmed by the consumer per second, first claim → last confirmation. */
	confirmedPerSecond: number;
	/** Emits beyond the first of each row: retries of rows not confirmed within the retry delay. */
	reemits: number;
	unconfirmed: number;
	/** Burst committed → every outbox confirmed and every queue empty (the re-emitted duplicates worked off too). */
	settledSeconds: number;
}

export interface RelayScenario {
	relays: number;
	burst: RelayBurst;
	latency: {
		samples: number;
		commitToEmit: LatencySummary;
		commitToApplied: LatencySummary;
		commitToConfirmed: LatencySummary;
	};
}

export interface ScaleOutRun {
	round: number;
	instancesPerService: number;
	ordersPerSecond: number;
	createToFinal: LatencySummary;
	/** CPU time of the cluster's processes, Postgres, RabbitMQ and the bench, per completed order. */
	cpuMsPerOrder: number;
}

/** The cluster at the highest level with the bench's and with production's instances per service, in turn. */
export interface ScaleOutResult {
	clients: number;
	runs: ScaleOutRun[];
}

/** One window of the long run: its throughput and latency, then what could grow, at its end. */
export interface SoakWindow {
	/** Seconds since the long run started. */
	endSeconds: number;
	ordersPerSecond: number;
	createToFinal: LatencySummary;
	errors: number;
	/** CPU time per completed order in Postgres, and in everything else measured (the cluster, RabbitMQ, the bench). */
	cpuMsPerOrder: { postgres: number; rest: number };
	/** Peak resident memory in the window and open file descriptors at its end, per process. */
	processes: { name: string; rssMb: number; fds: number }[];
	/** Connections of the service processes to their two databases. */
	databaseConnections: number;
	/** Outbox events (both services) waiting for their consumer's confirmation. */
	unconfirmedEvents: number;
	outboxRows: number;
	inboxRows: number;
	/** Messages waiting in the namespace's RabbitMQ queues. */
	waitingMessages: number;
}

export interface SoakResult {
	windows: SoakWindow[];
	/** RabbitMQ queues of the namespace when the load started and when it ended. */
	queuesAtStart: number;
	queuesAtEnd: number;
	/** What the service instances' pools (DATABASE_POOL_MAX each) and notification listeners may hold. */
	databaseConnectionCeiling: number;
	/** Whether the server vacuums on its own: without it, each confirmed outbox row's old version stays. */
	autovacuum: boolean;
}

export interface BenchReport {
	startedAt: Date;
	durationSeconds: number;
	config: BenchConfig;
	environment: EnvironmentInfo;
	modes: ModeResult[];
	relay: RelayScenario[] | null;
	scaleOut: ScaleOutResult | null;
	soak: SoakResult | null;
}
