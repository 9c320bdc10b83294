import { useCallback, useState } from "react";
import { errorMessage, isForbidden, type ApiClient, type DeadEvent, type OutboxOverview } from "../api";
import { usePolling } from "./usePolling";

/** How often the operator page reads the outbox figures and dead events again. */
export const OPS_POLL_INTERVAL_MS = 3_000;

export interface OperatorData {
	/** Null until the first answer. */
	overview: OutboxOverview | null;
	deadEvents: DeadEvent[];
	/** The last read's failure; the figures last read stay on screen. */
	error: string | null;
}

/** Every service's outbox and dead events, read now and every few seconds while the tab is shown. */
export function useOperatorData(api: ApiClient, onForbidden: () => void) {
	const [data, setData] = useState<OperatorData>({ overview: null, deadEvents: [], error: null });
	const load = useCallback(async (): Promise<boolean> => {
		try {
			const [overview, deadEvents] = await Promise.all([api.getOutboxOverview(), api.listDeadEvents()]);
			setData({ overview, deadEvents, error: null });
			return true;
		} catch (error) {
			if (isForbidden(error)) onForbidden();
			setData(previous => ({ ...previous, error: errorMessage(error) }));
			return false;
		}
	}, [api, onForbidden]);
	const { status, pollNow } = usePolling(load, OPS_POLL_INTERVAL_MS);
	return { ...data, status, refresh: pollNow };
}
