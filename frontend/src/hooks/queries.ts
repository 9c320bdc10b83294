/**
 * The API's reads as TanStack Query queries: one hook per call, each under its own key. A new read
 * is a key and a hook here (its ApiClient method in api.ts); a write calls its ApiClient method and
 * then puts the answer into the cache (`setQueryData`) or marks what it changed stale
 * (`invalidateQueries`), as useAccount and useOrders do.
 */
import { keepPreviousData, QueryClient, useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { isForbidden, type Journey } from "../api";
import { isSettling } from "../journey";
import type { LiveStatus } from "../live";
import { useApi } from "../session";

export const queryKeys = {
	account: ["account"],
	orders: ["orders"],
	order: (id: string) => ["order", id],
	/** Every page of the statement, to mark them all stale at once. */
	statements: ["statement"],
	statement: (limit: number, offset: number) => ["statement", limit, offset],
	/** With the order's status: a journey is read again when its order's status changes. */
	orderJourney: (id: string, status: string) => ["order-journey", id, status],
	me: ["me"],
	outbox: ["admin", "outbox"],
	deadEvents: ["admin", "dead-events"],
	/** With the search's number: each search reads afresh, even for the same id again. */
	anyOrderJourney: (id: string, search: number) => ["admin", "order-journey", id, search]
} as const;

/** How often the operator page reads the outbox figures and dead events again. */
export const OPS_POLL_INTERVAL_MS = 3_000;
/** How often a journey still under way is read again on the operator page. */
const JOURNEY_POLL_INTERVAL_MS = 2_000;

/**
 * A failure is shown with a Retry button rather than retried behind the person's back; reads are
 * only repeated by the polling queries (which also read at once when the tab is shown again), and
 * live.ts keeps the orders and the balance current.
 */
export function createQueryClient(): QueryClient {
	return new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false, refetchOnReconnect: false } } });
}

/** Polled reads: every interval while the tab is shown (TanStack Query skips the ticks of a hidden tab), and at once when shown again. */
const polled = (intervalMs: number) => ({ refetchInterval: intervalMs, refetchOnWindowFocus: true }) as const;

export function useAccountQuery() {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.account, queryFn: () => api.getBalance() });
}

/** A page of the statement; the page on screen stays while another is read. */
export function useStatementQuery(limit: number, offset: number) {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.statement(limit, offset), queryFn: () => api.getStatement(limit, offset), placeholderData: keepPreviousData });
}

export function useOrderQuery(id: string) {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.order(id), queryFn: () => api.getOrder(id) });
}

export function useOrderJourneyQuery(id: string, status: string) {
	const api = useApi();
	// The journey on screen stays while the next one is read.
	return useQuery({ queryKey: queryKeys.orderJourney(id, status), queryFn: () => api.getOrderJourney(id), placeholderData: keepPreviousData });
}

export function useMeQuery() {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.me, queryFn: () => api.getMe() });
}

export function useOutboxQuery() {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.outbox, queryFn: () => api.getOutboxOverview(), ...polled(OPS_POLL_INTERVAL_MS) });
}

export function useDeadEventsQuery() {
	const api = useApi();
	return useQuery({ queryKey: queryKeys.deadEvents, queryFn: () => api.listDeadEvents(), ...polled(OPS_POLL_INTERVAL_MS) });
}

/**
 * Any order's journey, read again while it may still change (the order NEW, or its result
 * unconfirmed). A failed first read (an unknown id, most often) waits for a refetch (Retry).
 */
export function useAnyOrderJourneyQuery(id: string, search: number) {
	const api = useApi();
	const following = (query: { state: { data?: Journey } }) => query.state.data !== undefined && isSettling(query.state.data);
	return useQuery({
		queryKey: queryKeys.anyOrderJourney(id, search),
		queryFn: () => api.getAnyOrderJourney(id),
		refetchInterval: query => (following(query) ? JOURNEY_POLL_INTERVAL_MS : false),
		refetchOnWindowFocus: following
	});
}

function subscribeToVisibility(onChange: () => void): () => void {
	document.addEventListener("visibilitychange", onChange);
	return () => document.removeEventListener("visibilitychange", onChange);
}

/** Whether the tab is shown, as a value that re-renders on change. */
export function useTabShown(): boolean {
	return useSyncExternalStore(subscribeToVisibility, () => document.visibilityState !== "hidden");
}

/** What a polled view shows as its live status: paused while hidden, failing after a failed read. */
export function usePollingStatus(queries: UseQueryResult[]): LiveStatus {
	const shown = useTabShown();
	if (!shown) return "paused";
	if (queries.some(query => query.isError)) return "reconnecting";
	return queries.every(query => query.isSuccess) ? "live" : "connecting";
}

/** Calls `onForbidden` when a read is refused with a 403 (the operator page then shows nothing more). */
export function useOnForbidden(error: Error | null, onForbidden: () => void): void {
	useEffect(() => {
		if (isForbidden(error)) onForbidden();
	}, [error, onForbidden]);
}
