import { useId } from "react";
import type { ActivityBucket } from "../api";

/** What the chart spans: the server keeps the last 10 minutes. */
const WINDOW_SECONDS = 600;
const WIDTH = 300;
const HEIGHT = 60;

interface ActivityChartProps {
	service: string;
	activity: ActivityBucket[];
	bucketSeconds: number;
}

const total = (activity: ActivityBucket[], key: "reemitted" | "reconciled") => activity.reduce((sum, bucket) => sum + bucket[key], 0);

/**
 * Re-emits and reconciled orders per interval over the last 10 minutes, as pairs of bars. Either
 * one above zero means something was lost or stuck on the way. Screen readers get the totals.
 */
export function ActivityChart({ service, activity, bucketSeconds }: ActivityChartProps) {
	const titleId = useId();
	const reemitted = total(activity, "reemitted");
	const reconciled = total(activity, "reconciled");
	const peak = Math.max(0, ...activity.map(bucket => Math.max(bucket.reemitted, bucket.reconciled)));
	const highest = Math.max(1, peak); // the scale's top
	// Placed by time, not by index, so a missing interval leaves a gap rather than shifting the rest.
	const end = activity.length > 0 ? Date.parse(activity[activity.length - 1].at) + bucketSeconds * 1_000 : 0;
	const slotWidth = (WIDTH * bucketSeconds) / WINDOW_SECONDS;
	const barWidth = slotWidth / 2;
	const bar = (bucket: ActivityBucket, value: number, offset: number, className: string) => {
		if (value === 0) return null;
		const x = WIDTH - ((end - Date.parse(bucket.at)) / 1_000 / WINDOW_SECONDS) * WIDTH + offset;
		const height = Math.max(1, (value / highest) * (HEIGHT - 2));
		return <rect key={`${className}-${bucket.at}`} className={className} x={x} y={HEIGHT - height} width={barWidth} height={height} />;
	};

	return (
		<figure className="activity">
			<svg className="activity__chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-labelledby={titleId}>
				<title id={titleId}>{`${service}, last 10 minutes: ${reemitted} re-emits and ${reconciled} reconciled orders, at most ${peak} in one ${bucketSeconds}-second interval.`}</title>
				<line className="activity__axis" x1={0} y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} />
				{activity.map(bucket => [bar(bucket, bucket.reemitted, 0, "activity__reemitted"), bar(bucket, bucket.reconciled, barWidth, "activity__reconciled")])}
			</svg>
			<figcaption className="activity__caption">
				<span className="activity__scale" aria-hidden="true">
					<span>10 min ago</span>
					<span>max {peak}</span>
					<span>now</span>
				</span>
				<span className="activity__legend">
					<span className="activity__key activity__key--reemitted" aria-hidden="true" />
					Re-emits: <strong data-testid="reemitted-total">{reemitted}</strong>
					<span className="activity__key activity__key--reconciled" aria-hidden="true" />
					Reconciled orders: <strong data-testid="reconciled-total">{reconciled}</strong>
				</span>
			</figcaption>
		</figure>
	);
}
