/** Wall-clock milliseconds with sub-millisecond resolution, comparable with Postgres' timestamps on this machine. */
export function wallClockMs(): number {
	return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}
