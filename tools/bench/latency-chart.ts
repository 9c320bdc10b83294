/**
 * docs/benchmark-latency.svg, written by hand: create→final latency (p50 solid, p99 dashed, log
 * scale) against orders/s, one colour per mode, each point labelled with its number of clients,
 * and the light-load targets as dotted lines.
 */
import type { BenchReport } from "./results";
import { TARGETS } from "./targets";

const WIDTH = 820;
const HEIGHT = 480;
const PLOT = { left: 70, right: 620, top: 50, bottom: 410 };
const MODE_COLOURS: Record<string, string> = { cluster: "#1f77b4", embedded: "#d62728" };

/** The smallest 1, 2 or 5 times a power of ten that is at least `value`. */
function niceAbove(value: number): number {
	const power = 10 ** Math.floor(Math.log10(value));
	return ([1, 2, 5, 10].find(factor => factor * power >= value) ?? 10) * power;
}

/** The largest 1, 2 or 5 times a power of ten that is at most `value`. */
function niceBelow(value: number): number {
	const power = 10 ** Math.floor(Math.log10(value));
	return ([5, 2, 1].find(factor => factor * power <= value) ?? 1) * power;
}

function text(x: number, y: number, content: string, attributes = ""): string {
	return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${content}</text>`;
}

export function renderLatencyChart(report: BenchReport): string {
	const levels = report.modes.flatMap(result => result.endToEnd);
	const latencies = levels.flatMap(level => [level.createToFinal.p50, level.createToFinal.p99]).filter(Number.isFinite);
	// Some room to the right of the fastest level, so that its label stays inside.
	const fastest = 1.05 * Math.max(1, ...levels.map(level => level.ordersPerSecond));
	const xStep = niceAbove(fastest / 5);
	const xMax = xStep * Math.ceil(fastest / xStep);
	const yMin = niceBelow(Math.max(0.1, Math.min(...latencies, TARGETS.lightLoadP50Ms)));
	const yMax = niceAbove(Math.max(...latencies, TARGETS.lightLoadP99Ms));
	const x = (ordersPerSecond: number) => PLOT.left + ((PLOT.right - PLOT.left) * ordersPerSecond) / xMax;
	const y = (latencyMs: number) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * Math.log10(latencyMs / yMin)) / Math.log10(yMax / yMin);

	const parts: string[] = [
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
		text(WIDTH / 2, 28, "Create → final status latency against throughput (closed-loop clients)", 'text-anchor="middle" font-size="16" font-weight="bold"')
	];
	for (let value = 0; value <= xMax + xStep / 2; value += xStep) {
		parts.push(`<line x1="${x(value)}" y1="${PLOT.top}" x2="${x(value)}" y2="${PLOT.bottom}" stroke="#eee"/>`);
		parts.push(text(x(value), PLOT.bottom + 18, String(value), 'text-anchor="middle"'));
	}
	for (let decade = 10 ** Math.floor(Math.log10(yMin)); decade < yMax * 1.01; decade *= 10) {
		for (const factor of [1, 2, 5]) {
			const value = decade * factor;
			if (value < yMin * 0.99 || value > yMax * 1.01) continue;
			parts.push(`<line x1="${PLOT.left}" y1="${y(value).toFixed(1)}" x2="${PLOT.right}" y2="${y(value).toFixed(1)}" stroke="${factor === 1 ? "#ddd" : "#f3f3f3"}"/>`);
			parts.push(text(PLOT.left - 8, y(value) + 4, String(Number(value.toPrecision(3))), 'text-anchor="end"'));
		}
	}
	parts.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333"/>`);
	parts.push(text((PLOT.left + PLOT.right) / 2, HEIGHT - 30, "orders/s completed", 'text-anchor="middle"'));
	parts.push(text(18, (PLOT.top + PLOT.bottom) / 2, "latency, ms (log scale)", `text-anchor="middle" transform="rotate(-90 18 ${(PLOT.top + PLOT.bottom) / 2})"`));

	for (const [target, label] of [
		[TARGETS.lightLoadP50Ms, `p50 target ${TARGETS.lightLoadP50Ms} ms`],
		[TARGETS.lightLoadP99Ms, `p99 target ${TARGETS.lightLoadP99Ms} ms`]
	] as const) {
		parts.push(`<line x1="${PLOT.left}" y1="${y(target).toFixed(1)}" x2="${PLOT.right}" y2="${y(target).toFixed(1)}" stroke="#888" stroke-dasharray="2 4"/>`);
		parts.push(text(PLOT.right + 6, y(target) + 4, label, 'font-size="11" fill="#666"'));
	}

	const legend: string[] = [];
	report.modes.forEach((result, index) => {
		const colour = MODE_COLOURS[result.mode] ?? "#333";
		for (const [percentile, dash] of [
			["p50", ""],
			["p99", ' stroke-dasharray="6 4"']
		] as const) {
			const points = result.endToEnd.filter(level => Number.isFinite(level.createToFinal[percentile]));
			const path = points.map(level => `${x(level.ordersPerSecond).toFixed(1)},${y(level.createToFinal[percentile]).toFixed(1)}`).join(" ");
			parts.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
			for (const level of points) {
				const [px, py] = [x(level.ordersPerSecond), y(level.createToFinal[percentile])];
				parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3.5" fill="${colour}"/>`);
				if (percentile === "p50") parts.push(text(px + 6, py - 6, `${level.clients}`, `font-size="11" fill="${colour}"`));
			}
			const legendY = PLOT.top + 10 + index * 50 + (percentile === "p50" ? 0 : 20);
			legend.push(`<line x1="${PLOT.right + 20}" y1="${legendY}" x2="${PLOT.right + 50}" y2="${legendY}" stroke="${colour}" stroke-width="2"${dash}/>`);
			legend.push(text(PLOT.right + 56, legendY + 4, `${result.mode} ${percentile}`));
		}
	});
	legend.push(text(PLOT.right + 20, PLOT.top + 10 + report.modes.length * 50, "labels: clients", 'font-size="11" fill="#666"'));
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">\n${[...parts, ...legend].join("\n")}\n</svg>\n`;
}
