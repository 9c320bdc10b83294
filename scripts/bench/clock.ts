/** Wall-clock milliseconds with sub-millisecond resolution, comparable with Postgres' timestamps on this machine. */
export function wallClockMs(): number {
	return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
	// A deadline already passed (a busy event loop) is no wait, not a negative timeout.
	return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)));
}
