/**
 * Live order updates: reads the user's event stream (GET /api/events) with fetch, since
 * EventSource cannot send X-User-Id, and parses it with eventsource-parser. When the stream fails
 * or ends it reconnects with backoff and, until it is back, polls the order list so the UI still
 * converges. Every (re)connect refetches the orders and the balance once, for the changes made
 * while nobody was listening. (The `eventsource` package reconnects by itself, but at a fixed
 * delay, without the polling fallback, the silence timeout or the hidden-tab close.)
 *
 * While the tab is hidden the stream is closed and nothing is polled (see tabVisibility.ts).
 * Pushes are at most once, so while live an order still awaiting its outcome (NEW, or its refund
 * requested) is re-read now and then too.
 */
import { createParser } from "eventsource-parser";
import { createApiClient, type FetchFunction, type Order } from "./api";
import { followTabVisibility } from "./tabVisibility";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "paused";

export interface LiveUpdateHandlers {
	/** One order changed (from the stream). */
	onOrder(order: Order): void;
	/** A freshly fetched order list, newest first. */
	onOrders(orders: Order[]): void;
	/** The balance may have changed: an order was paid or refunded, or changes may have been missed. */
	onBalanceStale(): void;
	onStatusChange(status: LiveStatus): void;
	/** Whether an order on screen still awaits its outcome: its payment's result, or its refund. */
	hasOrdersAwaitingOutcome(): boolean;
}

export interface LiveUpdatesOptions extends LiveUpdateHandlers {
	userId: string;
	fetch?: FetchFunction;
}

const POLL_INTERVAL_MS = 3_000;
/** While live, how often the list is re-read while an order awaits its outcome, in case its push was lost. */
export const RECHECK_INTERVAL_MS = 15_000;
const FIRST_RECONNECT_DELAY_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 10_000;
/** The server sends a heartbeat every 15 s: this much silence means a dead connection. */
export const SILENCE_TIMEOUT_MS = 45_000;

/** 1 s, 2 s, 4 s… up to 10 s, after the given number of failures in a row. */
export function reconnectDelay(failures: number): number {
	return Math.min(FIRST_RECONNECT_DELAY_MS * 2 ** (failures - 1), MAX_RECONNECT_DELAY_MS);
}

/** Starts listening; the returned function stops everything (requests, timers, callbacks). */
export function startLiveUpdates(options: LiveUpdatesOptions): () => void {
	const fetchFunction: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));
	const stopController = new AbortController();
	const api = createApiClient(options.userId, { fetch: fetchFunction, signal: stopController.signal });
	// What each order seen so far did to the balance, to tell when one newly moved money.
	const knownBalanceEffects = new Map<string, BalanceEffect>();
	let stopped = false;
	let failures = 0;
	// The latest stream's; when a stream ends and is no longer the latest, it was closed on purpose.
	let connection: AbortController | undefined;
	let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
	let pollTimer: ReturnType<typeof setInterval> | undefined;
	let recheckTimer: ReturnType<typeof setInterval> | undefined;
	let pollInFlight = false;

	function setStatus(status: LiveStatus): void {
		if (!stopped) options.onStatusChange(status);
	}

	function movedMoney(order: Order): boolean {
		const before = knownBalanceEffects.get(order.id);
		const effect = balanceEffect(order);
		knownBalanceEffects.set(order.id, effect);
		return effect !== "none" && effect !== before;
	}

	function receiveOrder(order: Order): void {
		if (stopped) return;
		const moved = movedMoney(order);
		options.onOrder(order);
		if (moved) options.onBalanceStale();
	}

	/** Fetches the order list; true when an order in it has newly been paid or refunded. */
	async function fetchOrders(): Promise<boolean> {
		const orders = await api.listOrders();
		if (stopped) return false;
		const moved = orders.map(movedMoney).some(Boolean);
		options.onOrders(orders);
		return moved;
	}

	async function resync(): Promise<void> {
		options.onBalanceStale();
		// A failure is left to the next reconnect or poll.
		await fetchOrders().catch(() => undefined);
	}

	async function poll(): Promise<void> {
		if (pollInFlight) return; // a slow network must not pile requests up
		pollInFlight = true;
		try {
			if (await fetchOrders()) options.onBalanceStale();
		} catch {
			// the next poll or recheck tries again
		} finally {
			pollInFlight = false;
		}
	}

	function startPolling(): void {
		pollTimer ??= setInterval(() => void poll(), POLL_INTERVAL_MS);
	}

	function stopPolling(): void {
		clearInterval(pollTimer);
		pollTimer = undefined;
	}

	function startRechecking(): void {
		recheckTimer ??= setInterval(() => {
			if (options.hasOrdersAwaitingOutcome()) void poll();
		}, RECHECK_INTERVAL_MS);
	}

	function stopRechecking(): void {
		clearInterval(recheckTimer);
		recheckTimer = undefined;
	}

	function handleMessage(event: string, data: string): void {
		if (event !== "order") return;
		const order = parseOrder(data);
		// A garbled message is not worth dropping the connection for.
		if (order !== null) receiveOrder(order);
	}

	async function readStream(body: ReadableStream<Uint8Array>, onActivity: () => void): Promise<void> {
		const reader = body.getReader();
		const decoder = new TextDecoder();
		// `id` and `retry` are ignored: a reconnect re-reads everything instead of resuming.
		const parser = createParser({ onEvent: ({ event, data }) => handleMessage(event ?? "message", data) });
		for (;;) {
			const { done, value } = await reader.read();
			if (done) return;
			onActivity();
			parser.feed(decoder.decode(value, { stream: true }));
		}
	}

	async function connect(): Promise<void> {
		const current = new AbortController();
		connection = current;
		let silenceTimer: ReturnType<typeof setTimeout> | undefined;
		const restartSilenceTimer = (): void => {
			clearTimeout(silenceTimer);
			silenceTimer = setTimeout(() => current.abort(), SILENCE_TIMEOUT_MS);
		};
		try {
			restartSilenceTimer();
			const response = await fetchFunction("/api/events", {
				headers: { Accept: "text/event-stream", "X-User-Id": options.userId },
				cache: "no-store",
				signal: current.signal
			});
			if (!response.ok || response.body === null) {
				await response.body?.cancel();
				throw new Error(`The event stream answered HTTP ${response.status}.`);
			}
			failures = 0;
			stopPolling();
			startRechecking();
			setStatus("live");
			void resync();
			await readStream(response.body, restartSilenceTimer);
		} catch {
			// failed, aborted or cut: the same recovery whatever the cause
		} finally {
			clearTimeout(silenceTimer);
		}
		if (stopped || connection !== current) return; // closed on purpose: stopped, or the tab hidden
		failures += 1;
		stopRechecking();
		setStatus("reconnecting");
		startPolling();
		reconnectTimer = setTimeout(() => void connect(), reconnectDelay(failures));
	}

	/** Closes the stream and stops every timer, leaving nothing running. */
	function disconnect(): void {
		connection?.abort();
		connection = undefined;
		clearTimeout(reconnectTimer);
		stopPolling();
		stopRechecking();
	}

	function pause(): void {
		disconnect();
		setStatus("paused");
	}

	function resume(): void {
		failures = 0;
		setStatus("connecting");
		// Connecting refetches the orders and the balance, for what changed while hidden.
		void connect();
	}

	const stopFollowingVisibility = followTabVisibility({ hidden: pause, shown: resume });

	return () => {
		stopped = true;
		stopFollowingVisibility();
		stopController.abort();
		disconnect();
	};
}

type BalanceEffect = "none" | "paid" | "refunded";

/** What the order has done to the balance: its payment taken (FINISHED), then given back (refundedAt). */
function balanceEffect(order: Order): BalanceEffect {
	if (order.refundedAt !== undefined) return "refunded";
	return order.status === "FINISHED" ? "paid" : "none";
}

function parseOrder(data: string): Order | null {
	try {
		const value: unknown = JSON.parse(data);
		const candidate = value as Partial<Order> | null;
		return typeof candidate?.id === "string" && typeof candidate.status === "string" ? (value as Order) : null;
	} catch {
		return null;
	}
}
