import { useEffect, useRef, useState } from "react";
import { startLiveUpdates, type LiveStatus, type LiveUpdateHandlers } from "../live";

type Handlers = Omit<LiveUpdateHandlers, "onStatusChange">;

/** Live updates for one user while the component is mounted; returns the connection status. */
export function useLiveUpdates(userId: string, handlers: Handlers): LiveStatus {
	const [status, setStatus] = useState<LiveStatus>("connecting");
	// The connection lives as long as the user; it always calls the latest handlers.
	const latestHandlers = useRef(handlers);
	useEffect(() => {
		latestHandlers.current = handlers;
	});

	useEffect(
		() =>
			startLiveUpdates({
				userId,
				onOrder: order => latestHandlers.current.onOrder(order),
				onOrders: orders => latestHandlers.current.onOrders(orders),
				onBalanceStale: () => latestHandlers.current.onBalanceStale(),
				hasOrdersAwaitingOutcome: () => latestHandlers.current.hasOrdersAwaitingOutcome(),
				onStatusChange: setStatus
			}),
		[userId]
	);

	return status;
}
