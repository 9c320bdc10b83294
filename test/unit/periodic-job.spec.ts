/**
 * The timer of the retention job and the reconciler, with fake timers: a run per interval, never
 * two at once (a tick during a run is skipped, a run asked for by hand waits), a failed run handed
 * to its handler and the timer going on, and nothing after `stop`, which waits for the run in flight.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PeriodicJob } from "../../platform/periodic-job";

/** A run that lasts until `finish()` is called. */
function controlledRuns() {
	const finishes: (() => void)[] = [];
	const run = vi.fn(() => new Promise<void>(resolve => finishes.push(resolve)));
	return { run, finish: () => finishes.shift()?.() };
}

describe("PeriodicJob", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("runs once per interval and skips the ticks that come during a run", async () => {
		const { run, finish } = controlledRuns();
		const job = new PeriodicJob(100, run, vi.fn());
		job.start();
		await vi.advanceTimersByTimeAsync(99);
		expect(run).toHaveBeenCalledTimes(0);
		await vi.advanceTimersByTimeAsync(1);
		expect(run).toHaveBeenCalledTimes(1);
		await vi.advanceTimersByTimeAsync(300); // the run is still going
		expect(run).toHaveBeenCalledTimes(1);
		finish();
		await vi.advanceTimersByTimeAsync(100);
		expect(run).toHaveBeenCalledTimes(2);
		finish();
		await job.stop();
	});

	it("runs a run asked for by hand after the one in flight, never beside it", async () => {
		const { run, finish } = controlledRuns();
		const job = new PeriodicJob(100, run, vi.fn());
		job.start();
		await vi.advanceTimersByTimeAsync(100);
		const byHand = vi.fn(async () => "done");
		const result = job.exclusive(byHand);
		await vi.advanceTimersByTimeAsync(0);
		expect(byHand).not.toHaveBeenCalled();
		finish();
		await expect(result).resolves.toBe("done");
		await job.stop();
	});

	it("hands a failed run to its handler and goes on", async () => {
		const failure = new Error("database away");
		const run = vi.fn().mockRejectedValueOnce(failure).mockResolvedValue(undefined);
		const onError = vi.fn();
		const job = new PeriodicJob(100, run, onError);
		job.start();
		await vi.advanceTimersByTimeAsync(200);
		expect(onError).toHaveBeenCalledWith(failure);
		expect(run).toHaveBeenCalledTimes(2);
		await job.stop();
	});

	it("stops ticking at stop, and stop waits for the run in flight", async () => {
		const { run, finish } = controlledRuns();
		const job = new PeriodicJob(100, run, vi.fn());
		job.start();
		await vi.advanceTimersByTimeAsync(100);
		let stopped = false;
		const stopping = job.stop().then(() => (stopped = true));
		await vi.advanceTimersByTimeAsync(0);
		expect(stopped).toBe(false);
		finish();
		await stopping;
		await vi.advanceTimersByTimeAsync(1000);
		expect(run).toHaveBeenCalledTimes(1);
		await job.stop(); // twice is fine
	});
});
