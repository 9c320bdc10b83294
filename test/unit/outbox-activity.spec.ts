/** The outbox activity counter (issue 16): wall-clock 10 s buckets over 10 minutes, bounded, summed across instances. */
import { describe, expect, it } from "vitest";
import { ACTIVITY_WINDOW_BUCKETS, ActivityCounter, sumActivity } from "../../mixins/outbox-activity";

const T0 = Date.parse("2026-12-03T08:40:00.000Z");

describe("ActivityCounter", () => {
	it("counts into the 10-second bucket that starts at a wall-clock multiple of 10 s, and shows the whole window oldest first", () => {
		let now = T0 + 3_400;
		const counter = new ActivityCounter(() => now);
		counter.count("emitted");
		counter.count("confirmed", 3);
		now = T0 + 12_000;
		counter.count("reemitted");
		const buckets = counter.snapshot();
		expect(buckets).toHaveLength(ACTIVITY_WINDOW_BUCKETS);
		expect(buckets.at(-1)).toEqual({ at: "2026-12-03T08:40:10.000Z", emitted: 0, reemitted: 1, confirmed: 0, dead: 0, reconciled: 0 });
		expect(buckets.at(-2)).toEqual({ at: "2026-12-03T08:40:00.000Z", emitted: 1, reemitted: 0, confirmed: 3, dead: 0, reconciled: 0 });
		expect(buckets[0].at).toBe("2026-12-03T08:30:20.000Z");
	});

	it("forgets what is older than 10 minutes and keeps no more buckets than the window", () => {
		let now = T0;
		const counter = new ActivityCounter(() => now);
		for (let i = 0; i < 500; i++) {
			now = T0 + i * 10_000;
			counter.count("dead");
		}
		const buckets = counter.snapshot();
		expect(buckets.every(bucket => bucket.dead === 1)).toBe(true);
		expect((counter as unknown as { buckets: Map<number, unknown> }).buckets.size).toBe(ACTIVITY_WINDOW_BUCKETS);
		now += 11 * 60_000;
		expect(counter.snapshot().every(bucket => bucket.dead === 0)).toBe(true);
	});
});

describe("sumActivity", () => {
	it("adds the instances' buckets with the same start, leaves out those outside the window, and gives zeros for none", () => {
		let now = T0 + 5_000;
		const a = new ActivityCounter(() => now);
		const b = new ActivityCounter(() => now);
		a.count("emitted", 2);
		b.count("emitted", 3);
		b.count("reconciled");
		const skewed = [{ at: "2026-12-03T09:40:00.000Z", emitted: 100, reemitted: 0, confirmed: 0, dead: 0, reconciled: 0 }];
		now = T0 + 9_000;
		const sum = sumActivity([a.snapshot(), b.snapshot(), skewed], now);
		expect(sum).toHaveLength(ACTIVITY_WINDOW_BUCKETS);
		expect(sum.at(-1)).toEqual({ at: "2026-12-03T08:40:00.000Z", emitted: 5, reemitted: 0, confirmed: 0, dead: 0, reconciled: 1 });
		expect(sum.reduce((total, bucket) => total + bucket.emitted, 0)).toBe(5);
		expect(sumActivity([], now).every(bucket => bucket.emitted === 0)).toBe(true);
	});
});
