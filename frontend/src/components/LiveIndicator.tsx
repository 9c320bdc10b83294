import type { LiveStatus } from "../live";

const LABELS: Record<LiveStatus, string> = {
	connecting: "Connecting…",
	live: "Live",
	reconnecting: "Reconnecting…",
	paused: "Paused" // while the tab is hidden
};

/** Whether updates arrive live (order updates, or what `subject` says); changes are announced politely. */
export function LiveIndicator({ status, subject = "Order updates" }: { status: LiveStatus; subject?: string }) {
	return (
		<p className="live-indicator" data-state={status} role="status">
			<span className="visually-hidden">{subject}: </span>
			<span className="live-indicator__dot" aria-hidden="true" />
			<span data-testid="live-status">{LABELS[status]}</span>
		</p>
	);
}
