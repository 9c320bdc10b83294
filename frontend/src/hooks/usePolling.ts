import { useCallback, useEffect, useRef, useState } from "react";
import type { LiveStatus } from "../live";
import { startPolling, type Poller } from "../polling";

/**
 * Runs `poll` every `intervalMs` while mounted, `enabled` and the tab shown (see polling.ts);
 * returns the status and a way to poll at once.
 */
export function usePolling(poll: () => Promise<boolean>, intervalMs: number, enabled = true) {
	const [status, setStatus] = useState<LiveStatus>("connecting");
	const latestPoll = useRef(poll);
	useEffect(() => {
		latestPoll.current = poll;
	});
	const poller = useRef<Poller | null>(null);

	useEffect(() => {
		if (!enabled) return undefined;
		const started = startPolling({ intervalMs, poll: () => latestPoll.current(), onStatusChange: setStatus });
		poller.current = started;
		return () => {
			started.stop();
			poller.current = null;
		};
	}, [intervalMs, enabled]);

	const pollNow = useCallback(async () => {
		await poller.current?.pollNow();
	}, []);
	return { status, pollNow };
}
