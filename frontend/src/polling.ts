/**
 * Polling for views without a push channel (the operator page): `poll` now and every interval while
 * the tab is shown, never two at once, with the same statuses as the live order updates.
 */
import type { LiveStatus } from "./live";
import { followTabVisibility } from "./tabVisibility";

export interface PollingOptions {
	intervalMs: number;
	/** Fetches and shows; resolves to whether it worked (a failure is shown by the caller). */
	poll(): Promise<boolean>;
	onStatusChange(status: LiveStatus): void;
}

export interface Poller {
	/** Polls at once (after the poll in flight, whose answer may predate what just changed). */
	pollNow(): Promise<void>;
	stop(): void;
}

export function startPolling({ intervalMs, poll, onStatusChange }: PollingOptions): Poller {
	let stopped = false;
	let hidden = false;
	let timer: ReturnType<typeof setInterval> | undefined;
	let running: Promise<void> | undefined;
	let again = false;

	function pollNow(): Promise<void> {
		again = true;
		running ??= (async () => {
			try {
				while (again && !stopped) {
					again = false;
					const worked = await poll();
					if (!stopped && !hidden) onStatusChange(worked ? "live" : "reconnecting");
				}
			} finally {
				// In the same step as the last look at `again`: a request in between is never lost.
				running = undefined;
			}
		})();
		return running;
	}

	const stopFollowingVisibility = followTabVisibility({
		hidden() {
			hidden = true;
			clearInterval(timer);
			onStatusChange("paused");
		},
		shown() {
			hidden = false;
			onStatusChange("connecting");
			// At once: the figures on screen are as old as the time the tab was hidden.
			void pollNow();
			// A slow answer must not pile requests up: a tick while one runs is skipped.
			timer = setInterval(() => {
				if (!running) void pollNow();
			}, intervalMs);
		}
	});

	return {
		pollNow,
		stop() {
			stopped = true;
			clearInterval(timer);
			stopFollowingVisibility();
		}
	};
}
