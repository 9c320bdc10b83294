import type { LiveStatus } from "../live";

const LABELS: Record<LiveStatus, string> = {
	connecting: "Connecting…",
	live: "Live",
	reconnecting: "Reconnecting…",
	paused: "Paused" // while the tab is hidden
};

/** Whether order updates arrive live; changes are announced politely. */
export function LiveIndicator({ status }: { status: LiveStatus }) {
	return (
		<p className="live-indicator" data-state={status} role="status">
			<span className="visually-hidden">Order updates: </span>
			<span className="live-indicator__dot" aria-hidden="true" />
			<span data-testid="live-status">{LABELS[status]}</span>
		</p>
	);
}
