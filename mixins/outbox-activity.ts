/**
 * What an outbox did lately, for the operator page (issue 16): events emitted, re-emitted,
 * confirmed and parked as dead, and orders the reconciler acted on, counted in memory per
 * 10-second bucket over the last 10 minutes. Buckets start at wall-clock multiples of 10 s, so
 * that the gateway can add up the figures of every instance bucket by bucket. Bounded: a bucket
 * older than the window is dropped at the next count. A restart forgets its figures; the
 * Prometheus counters (mixins/messaging-metrics.ts) are the durable record.
 */

export const ACTIVITY_BUCKET_SECONDS = 10;
/** Ten minutes. */
export const ACTIVITY_WINDOW_BUCKETS = 60;
const BUCKET_MS = ACTIVITY_BUCKET_SECONDS * 1000;

export const ACTIVITY_KINDS = Object.freeze(["emitted", "reemitted", "confirmed", "dead", "reconciled"] as const);
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

export type ActivityCounts = Record<ActivityKind, number>;

/** One bucket: its start (ISO-8601) and what happened in it. */
export interface ActivityBucket extends ActivityCounts {
	at: string;
}

const bucketStartOf = (ms: number) => Math.floor(ms / BUCKET_MS) * BUCKET_MS;

const zeroCounts = (): ActivityCounts => ({ emitted: 0, reemitted: 0, confirmed: 0, dead: 0, reconciled: 0 });

/** The window's bucket starts at `nowMs`, oldest first. */
function windowStarts(nowMs: number): number[] {
	const last = bucketStartOf(nowMs);
	return Array.from({ length: ACTIVITY_WINDOW_BUCKETS }, (_, i) => last - (ACTIVITY_WINDOW_BUCKETS - 1 - i) * BUCKET_MS);
}

export class ActivityCounter {
	/** Counts by bucket start (ms since the epoch); at most the window's buckets. */
	private readonly buckets = new Map<number, ActivityCounts>();

	constructor(private readonly clock: () => number = Date.now) {}

	count(kind: ActivityKind, n = 1): void {
		if (n <= 0) return;
		const now = this.clock();
		const start = bucketStartOf(now);
		let bucket = this.buckets.get(start);
		if (!bucket) {
			bucket = zeroCounts();
			this.buckets.set(start, bucket);
			const oldest = start - (ACTIVITY_WINDOW_BUCKETS - 1) * BUCKET_MS;
			for (const key of this.buckets.keys()) if (key < oldest) this.buckets.delete(key);
		}
		bucket[kind] += n;
	}

	/** The whole window, oldest first, empty buckets as zeros. */
	snapshot(): ActivityBucket[] {
		return windowStarts(this.clock()).map(start => ({ at: new Date(start).toISOString(), ...(this.buckets.get(start) ?? zeroCounts()) }));
	}
}

/**
 * The window at `nowMs`, each bucket the sum of the instances' buckets with the same start; buckets
 * outside it (an instance whose clock is off) are left out. No series: zeros.
 */
export function sumActivity(series: readonly (readonly ActivityBucket[])[], nowMs: number = Date.now()): ActivityBucket[] {
	const window = windowStarts(nowMs).map(start => ({ at: new Date(start).toISOString(), ...zeroCounts() }));
	const byStart = new Map(window.map(bucket => [bucket.at, bucket]));
	for (const buckets of series) {
		for (const bucket of buckets) {
			const sum = byStart.get(bucket.at);
			if (!sum) continue;
			for (const kind of ACTIVITY_KINDS) sum[kind] += Number.isFinite(bucket[kind]) ? bucket[kind] : 0;
		}
	}
	return window;
}
