/** Latency summaries: nearest-rank percentiles over the samples of one measurement. */
export interface LatencySummary {
	p50: number;
	p95: number;
	p99: number;
	max: number;
}

export function percentile(sorted: readonly number[], fraction: number): number {
	if (sorted.length === 0) return Number.NaN;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))];
}

export function summarize(values: readonly number[]): LatencySummary {
	const sorted = [...values].sort((a, b) => a - b);
	return {
		p50: percentile(sorted, 0.5),
		p95: percentile(sorted, 0.95),
		p99: percentile(sorted, 0.99),
		max: sorted.length ? sorted[sorted.length - 1] : Number.NaN
	};
}
