import type { Journey } from "../api";
import { formatDuration, formatTimeOfDay, stepText, waitingText } from "../journey";

interface JourneyTimelineProps {
	journey: Journey;
	/** For operators: each hop's service and time, and why the order waits. */
	detailed?: boolean;
}

/** An order's hops in time order, each with how long it took since the one before, then what it waits for. */
export function JourneyTimeline({ journey, detailed = false }: JourneyTimelineProps) {
	const { hops, pending } = journey;
	return (
		<ol className="journey" aria-label="Journey" data-testid="journey">
			{hops.map((hop, index) => (
				<li key={`${hop.step}-${index}`} className="journey__hop" data-step={hop.step}>
					<span className="journey__step">
						{stepText(hop.step)}
						{hop.detail && <span className="journey__detail"> — {hop.detail}</span>}
					</span>{" "}
					<span className="journey__meta">
						{detailed && <span className="journey__service">{hop.service}</span>}
						{detailed && <time dateTime={hop.at}>{formatTimeOfDay(hop.at)}</time>}
						{index > 0 && (
							<span className="journey__took">
								<span className="visually-hidden">after </span>
								<span aria-hidden="true">+</span>
								{formatDuration(hop.tookMs)}
							</span>
						)}
					</span>
				</li>
			))}
			{pending && (
				<li className="journey__hop journey__hop--pending" data-step={pending.step} data-testid="journey-pending">
					<span className="journey__step">{waitingText(pending.step)}…</span>{" "}
					<span className="journey__meta">
						{detailed && pending.why && <span className="journey__detail">{pending.why}</span>}
						{detailed && (
							<span>
								since <time dateTime={pending.since}>{formatTimeOfDay(pending.since)}</time>
							</span>
						)}
					</span>
				</li>
			)}
		</ol>
	);
}
