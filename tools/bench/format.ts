/** Number formats shared by the console table and BENCHMARKS.md; a missing figure shows as "–". */
export function ms(value: number): string {
	if (!Number.isFinite(value)) return "–";
	return value < 100 ? value.toFixed(1) : value.toFixed(0);
}

export function perSecond(value: number): string {
	return Number.isFinite(value) ? value.toFixed(0) : "–";
}

export function percent(fraction: number): string {
	return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(0)}%` : "–";
}

export function megabytes(value: number): string {
	return value.toFixed(0);
}
