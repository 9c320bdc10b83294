/** Wall-clock milliseconds with sub-millisecond resolution, comparable with Postgres' timestamps on this machine. */
export function wallClockMs(): number {
	return performance.timeOrigin + performance.now();
}

/** SQL for a timestamp expression as epoch milliseconds, comparable with `wallClockMs()`. */
export function epochMs(column: string): string {
	return `(extract(epoch FROM ${column}) * 1000)::float8`;
}

export function sleep(ms: number): Promise<void> {
	// A deadline already passed (a busy event loop) is no wait, not a negative timeout.
	return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)));
}
