/** The gateway's rate-limit store: fixed windows per key, and a bound on the keys it holds (issue 15). */
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../services/api/rate-limit";

describe("RateLimiter", () => {
	it("limits each key per window, and starts a key afresh when its window ends", () => {
		const limiter = new RateLimiter({ limit: 2, windowMs: 1000, maxKeys: 10 });
		expect([0, 1, 2].map(() => limiter.hit("a", 0).limited)).toEqual([false, false, true]);
		expect(limiter.hit("b", 0)).toMatchObject({ limited: false, remaining: 1, resetAt: 1000 });
		expect(limiter.hit("a", 1000)).toMatchObject({ limited: false, remaining: 1, resetAt: 2000 });
	});

	it("holds at most maxKeys keys, forgetting the least recently used first", () => {
		const limiter = new RateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 });
		for (const key of ["a", "b", "c"]) limiter.hit(key, 0);
		limiter.hit("a", 1); // a is now the most recently used
		for (let i = 0; i < 10_000; i++) limiter.hit(`flood-${i}`.repeat(100), 2);
		expect(limiter.size).toBe(3);
		const fresh = new RateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 });
		fresh.hit("a", 0);
		fresh.hit("b", 0);
		fresh.hit("c", 0);
		fresh.hit("a", 1);
		fresh.hit("d", 2); // evicts b, the least recently used
		expect(fresh.hit("a", 3).limited).toBe(true);
		expect(fresh.hit("b", 3).limited).toBe(false);
	});
});
