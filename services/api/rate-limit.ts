/**
 * The gateway's request limit per caller: a fixed window per key, in a bounded store.
 *
 * Issue 15: moleculer-web's limiter runs before authentication, so it was keyed on the raw,
 * unverified header: one valid token with a changing suffix got a fresh bucket per request, and
 * 3,000 distinct 15 KB ids grew the process by 60 MB until the window's reset. The gateway now
 * counts after authentication, on the verified user id (the client address when the request
 * proves none), and this store holds at most `maxKeys` keys, forgetting the least recently used
 * first: flooding it with new keys to reset one's own count costs far more requests than it gains.
 */

export interface RateLimitOptions {
	/** Requests per key per window. */
	limit: number;
	windowMs: number;
	/** Keys kept at most (about 100 bytes each, plus the key itself). */
	maxKeys: number;
}

export interface RateLimitVerdict {
	limited: boolean;
	limit: number;
	remaining: number;
	/** When the key's window ends (ms since the epoch). */
	resetAt: number;
}

interface Bucket {
	count: number;
	resetAt: number;
}

export class RateLimiter {
	/** In least-recently-used order: a Map iterates in insertion order, and a hit re-inserts. */
	private readonly buckets = new Map<string, Bucket>();

	constructor(private readonly options: RateLimitOptions) {}

	hit(key: string, now = Date.now()): RateLimitVerdict {
		const { limit, windowMs, maxKeys } = this.options;
		let bucket = this.buckets.get(key);
		if (bucket === undefined || now >= bucket.resetAt) bucket = { count: 0, resetAt: now + windowMs };
		bucket.count++;
		this.buckets.delete(key);
		this.buckets.set(key, bucket);
		if (this.buckets.size > maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
		return { limited: bucket.count > limit, limit, remaining: Math.max(0, limit - bucket.count), resetAt: bucket.resetAt };
	}

	get size(): number {
		return this.buckets.size;
	}
}
