import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Order } from "./api";
import { RECHECK_INTERVAL_MS, SILENCE_TIMEOUT_MS, reconnectDelay, startLiveUpdates, type LiveStatus } from "./live";
import { createFakeFetch, errorResponse, eventStream, jsonResponse, makeOrder, type RecordedRequest } from "./test/fakeServer";
import { setVisibility } from "./test/visibility";

const flush = () => vi.advanceTimersByTimeAsync(0);

function orderEvent(order: Order): string {
	return `event: order\ndata: ${JSON.stringify(order)}\n\n`;
}

/** Starts live updates against fake routes, recording everything the handlers receive. */
function start(routes: Parameters<typeof createFakeFetch>[0]) {
	const fake = createFakeFetch(routes);
	const statuses: LiveStatus[] = [];
	const handlers = {
		onOrder: vi.fn<(order: Order) => void>(),
		onOrders: vi.fn<(orders: Order[]) => void>(),
		onBalanceStale: vi.fn<() => void>(),
		onStatusChange: (status: LiveStatus) => statuses.push(status),
		hasOrdersAwaitingOutcome: vi.fn(() => false)
	};
	const stop = startLiveUpdates({ userId: "alice", fetch: fake.fetch, ...handlers });
	const requestsTo = (path: string) => fake.requests.filter(request => request.url.split("?")[0] === path);
	return { ...fake, ...handlers, statuses, stop, requestsTo };
}

const unreachable = () => Promise.reject(new TypeError("Failed to fetch"));

describe("reconnectDelay", () => {
	it("doubles from 1 s and stops at 10 s", () => {
		expect([1, 2, 3, 4, 5, 6, 20].map(reconnectDelay)).toEqual([1000, 2000, 4000, 8000, 10000, 10000, 10000]);
	});
});

describe("startLiveUpdates", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("opens the user's stream, goes live, and refetches the orders and the balance", async () => {
		const orders = [makeOrder({ id: "a" })];
		const live = start({ "GET /api/orders": () => jsonResponse(orders) });
		await flush();
		const [events] = live.requestsTo("/api/events");
		expect(events.headers.get("X-User-Id")).toBe("alice");
		expect(events.headers.get("Accept")).toBe("text/event-stream");
		expect(live.statuses).toEqual(["connecting", "live"]);
		expect(live.onOrders).toHaveBeenCalledExactlyOnceWith(orders);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);
		live.stop();
	});

	it("passes order events on, and marks the balance stale when an order has FINISHED", async () => {
		const stream = eventStream();
		const live = start({ "GET /api/events": request => stream.respond(request), "GET /api/orders": () => jsonResponse([]) });
		await flush();
		live.onBalanceStale.mockClear();

		const cancelled = makeOrder({ id: "a", status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" });
		stream.send(`: ping\n\n${orderEvent(cancelled)}`);
		await flush();
		expect(live.onOrder).toHaveBeenCalledExactlyOnceWith(cancelled);
		expect(live.onBalanceStale).not.toHaveBeenCalled();

		const finished = makeOrder({ id: "b", status: "FINISHED" });
		const text = orderEvent(finished);
		stream.send(text.slice(0, 20));
		await flush();
		stream.send(text.slice(20) + "event: order\ndata: {not json\n\nevent: order\ndata: null\n\n");
		await flush();
		expect(live.onOrder).toHaveBeenLastCalledWith(finished);
		expect(live.onOrder).toHaveBeenCalledTimes(2);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);
		// The garbled messages did not cost the connection.
		expect(live.statuses.at(-1)).toBe("live");
		expect(live.requestsTo("/api/events")).toHaveLength(1);
		live.stop();
	});

	it("reconnects after 1 s, 2 s, 4 s, 8 s, then every 10 s while the stream keeps failing", async () => {
		const attemptTimes: number[] = [];
		const live = start({
			"GET /api/events": () => {
				attemptTimes.push(Date.now());
				return errorResponse(503, "SERVICE_UNAVAILABLE", "Down");
			},
			"GET /api/orders": () => jsonResponse([])
		});
		await vi.advanceTimersByTimeAsync(40_000);
		const gaps = attemptTimes.slice(1).map((time, index) => time - attemptTimes[index]);
		expect(gaps).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
		expect(live.statuses).toEqual(["connecting", ...Array<string>(7).fill("reconnecting")]);
		live.stop();
	});

	it("polls the orders every 3 s while disconnected, and marks the balance stale when one has FINISHED", async () => {
		let status: Order["status"] = "NEW";
		const live = start({ "GET /api/events": unreachable, "GET /api/orders": () => jsonResponse([makeOrder({ id: "a", status })]) });
		await flush();
		expect(live.requestsTo("/api/orders")).toHaveLength(0);

		await vi.advanceTimersByTimeAsync(3000);
		expect(live.requestsTo("/api/orders")).toHaveLength(1);
		expect(live.onOrders).toHaveBeenLastCalledWith([expect.objectContaining({ id: "a", status: "NEW" })]);
		expect(live.onBalanceStale).not.toHaveBeenCalled();

		status = "FINISHED";
		await vi.advanceTimersByTimeAsync(3000);
		expect(live.requestsTo("/api/orders")).toHaveLength(2);
		expect(live.onOrders).toHaveBeenLastCalledWith([expect.objectContaining({ id: "a", status: "FINISHED" })]);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);

		await vi.advanceTimersByTimeAsync(3000);
		expect(live.requestsTo("/api/orders")).toHaveLength(3);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);
		live.stop();
	});

	it("does not start a poll while the previous one is still waiting", async () => {
		const live = start({ "GET /api/events": unreachable, "GET /api/orders": () => new Promise<Response>(() => undefined) });
		await vi.advanceTimersByTimeAsync(9000);
		expect(live.requestsTo("/api/orders")).toHaveLength(1);
		live.stop();
	});

	it("stops polling once reconnected, after refetching once", async () => {
		let attempts = 0;
		const live = start({
			"GET /api/events": (request: RecordedRequest) => (++attempts === 1 ? unreachable() : eventStream().respond(request)),
			"GET /api/orders": () => jsonResponse([])
		});
		await vi.advanceTimersByTimeAsync(1000);
		expect(live.statuses).toEqual(["connecting", "reconnecting", "live"]);
		expect(live.requestsTo("/api/orders")).toHaveLength(1);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);

		await vi.advanceTimersByTimeAsync(30_000);
		expect(live.requestsTo("/api/orders")).toHaveLength(1);
		live.stop();
	});

	it("reconnects when the server ends the stream", async () => {
		const first = eventStream();
		let attempts = 0;
		const live = start({
			"GET /api/events": request => (++attempts === 1 ? first : eventStream()).respond(request),
			"GET /api/orders": () => jsonResponse([])
		});
		await flush();
		first.end();
		await flush();
		expect(live.statuses.at(-1)).toBe("reconnecting");
		await vi.advanceTimersByTimeAsync(1000);
		expect(live.requestsTo("/api/events")).toHaveLength(2);
		expect(live.statuses.at(-1)).toBe("live");
		expect(live.requestsTo("/api/orders")).toHaveLength(2);
		live.stop();
	});

	it("drops a connection that has gone silent for too long", async () => {
		const stream = eventStream();
		const live = start({ "GET /api/events": request => stream.respond(request), "GET /api/orders": () => jsonResponse([]) });
		await vi.advanceTimersByTimeAsync(SILENCE_TIMEOUT_MS - 1000);
		stream.send(": ping\n\n");
		await vi.advanceTimersByTimeAsync(SILENCE_TIMEOUT_MS - 1000);
		expect(live.statuses.at(-1)).toBe("live");

		await vi.advanceTimersByTimeAsync(1000);
		expect(live.requestsTo("/api/events")[0].signal?.aborted).toBe(true);
		expect(live.statuses.at(-1)).toBe("reconnecting");
		live.stop();
	});

	it("stops everything when stopped: the stream is aborted, no timer fires, no handler runs", async () => {
		const stream = eventStream();
		const live = start({ "GET /api/events": request => stream.respond(request), "GET /api/orders": () => jsonResponse([]) });
		await flush();
		const requestsBefore = live.requests.length;
		const statusesBefore = live.statuses.length;
		live.stop();
		await flush();
		expect(live.requestsTo("/api/events")[0].signal?.aborted).toBe(true);

		await vi.advanceTimersByTimeAsync(60_000);
		expect(live.requests).toHaveLength(requestsBefore);
		expect(live.statuses).toHaveLength(statusesBefore);
		expect(vi.getTimerCount()).toBe(0);
	});

	it("stops polling and reconnecting when stopped while disconnected", async () => {
		const live = start({ "GET /api/events": unreachable, "GET /api/orders": () => jsonResponse([]) });
		await flush();
		live.stop();
		await vi.advanceTimersByTimeAsync(60_000);
		expect(live.requests).toHaveLength(1);
		expect(live.onOrders).not.toHaveBeenCalled();
	});
	it("closes the stream while the tab is hidden, and polls nothing meanwhile", async () => {
		const live = start({ "GET /api/orders": () => jsonResponse([]) });
		await flush();
		const requestsBefore = live.requests.length;

		setVisibility("hidden");
		await flush();
		expect(live.requestsTo("/api/events")[0].signal?.aborted).toBe(true);
		expect(live.statuses.at(-1)).toBe("paused");
		expect(vi.getTimerCount()).toBe(0);
		await vi.advanceTimersByTimeAsync(60_000);
		expect(live.requests).toHaveLength(requestsBefore);
		live.stop();
	});

	it("reconnects when the tab is shown again, refetching the orders and the balance once", async () => {
		const orders = [makeOrder({ id: "a", status: "FINISHED" })];
		const live = start({ "GET /api/orders": () => jsonResponse(orders) });
		await flush();
		setVisibility("hidden");
		await flush();
		live.onOrders.mockClear();
		live.onBalanceStale.mockClear();

		setVisibility("visible");
		await flush();
		expect(live.requestsTo("/api/events")).toHaveLength(2);
		expect(live.requestsTo("/api/events")[1].signal?.aborted).toBe(false);
		expect(live.statuses.slice(-3)).toEqual(["paused", "connecting", "live"]);
		expect(live.onOrders).toHaveBeenCalledExactlyOnceWith(orders);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);

		// The stream closed on hiding does not count as a failure to recover from.
		await vi.advanceTimersByTimeAsync(30_000);
		expect(live.requestsTo("/api/events")).toHaveLength(2);
		expect(live.requestsTo("/api/orders")).toHaveLength(2);
		live.stop();
	});

	it("keeps one stream when the tab is hidden and shown again at once", async () => {
		const live = start({ "GET /api/orders": () => jsonResponse([]) });
		await flush();
		setVisibility("hidden");
		setVisibility("visible"); // before the closed stream has even ended
		await vi.advanceTimersByTimeAsync(30_000);
		expect(live.requestsTo("/api/events")).toHaveLength(2);
		expect(live.statuses.slice(-3)).toEqual(["paused", "connecting", "live"]);
		live.stop();
	});

	it("stops reconnecting and polling while hidden after the stream failed, and starts afresh when shown", async () => {
		let down = true;
		const live = start({
			"GET /api/events": request => (down ? unreachable() : eventStream().respond(request)),
			"GET /api/orders": () => jsonResponse([])
		});
		await vi.advanceTimersByTimeAsync(3000);
		expect(live.statuses.at(-1)).toBe("reconnecting");
		const requestsBefore = live.requests.length;

		setVisibility("hidden");
		await vi.advanceTimersByTimeAsync(60_000);
		expect(live.requests).toHaveLength(requestsBefore);
		expect(vi.getTimerCount()).toBe(0);

		down = false;
		setVisibility("visible");
		await flush();
		expect(live.statuses.at(-1)).toBe("live");
		expect(live.requests).toHaveLength(requestsBefore + 2); // the stream and the refetch
		live.stop();
	});

	it("does not connect in a tab opened hidden until it is shown", async () => {
		vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
		const live = start({ "GET /api/orders": () => jsonResponse([]) });
		await vi.advanceTimersByTimeAsync(10_000);
		expect(live.requests).toHaveLength(0);
		expect(live.statuses).toEqual(["paused"]);

		setVisibility("visible");
		await flush();
		expect(live.requestsTo("/api/events")).toHaveLength(1);
		expect(live.statuses.at(-1)).toBe("live");
		live.stop();
	});

	it("stops following the tab's visibility when stopped", async () => {
		const live = start({ "GET /api/orders": () => jsonResponse([]) });
		await flush();
		live.stop();
		setVisibility("hidden");
		setVisibility("visible");
		await flush();
		expect(live.requestsTo("/api/events")).toHaveLength(1);
	});

	it("re-reads the orders every 15 s while live and one is NEW, marking the balance stale when it has FINISHED", async () => {
		let status: Order["status"] = "NEW";
		const stream = eventStream();
		const live = start({ "GET /api/events": request => stream.respond(request), "GET /api/orders": () => jsonResponse([makeOrder({ id: "a", status })]) });
		live.hasOrdersAwaitingOutcome.mockReturnValue(true);
		await flush();
		expect(live.requestsTo("/api/orders")).toHaveLength(1); // on connecting
		live.onBalanceStale.mockClear();

		await vi.advanceTimersByTimeAsync(RECHECK_INTERVAL_MS);
		expect(live.requestsTo("/api/orders")).toHaveLength(2);
		expect(live.requestsTo("/api/orders")[1].url).toBe("/api/orders?limit=50");
		expect(live.onBalanceStale).not.toHaveBeenCalled();

		// Its push was lost: only the re-read tells.
		status = "FINISHED";
		await vi.advanceTimersByTimeAsync(RECHECK_INTERVAL_MS);
		expect(live.onOrders).toHaveBeenLastCalledWith([expect.objectContaining({ id: "a", status: "FINISHED" })]);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);

		live.hasOrdersAwaitingOutcome.mockReturnValue(false);
		for (let tick = 0; tick < 3; tick++) {
			stream.send(": ping\n\n"); // the server's heartbeat, keeping the stream from looking dead
			await vi.advanceTimersByTimeAsync(RECHECK_INTERVAL_MS);
		}
		expect(live.requestsTo("/api/orders")).toHaveLength(3);
		expect(live.statuses).toEqual(["connecting", "live"]);
		live.stop();
	});

	it("marks the balance stale once when an order's money comes back, pushed or re-read (issue 18)", async () => {
		const stream = eventStream();
		const paid = makeOrder({ id: "a", status: "FINISHED" });
		let listed = paid;
		const live = start({ "GET /api/events": request => stream.respond(request), "GET /api/orders": () => jsonResponse([listed]) });
		await flush();
		live.onBalanceStale.mockClear();

		// Asking for the refund moves no money yet.
		stream.send(orderEvent({ ...paid, cancelRequestedAt: "2025-01-01T10:00:05.000Z" }));
		await flush();
		expect(live.onBalanceStale).not.toHaveBeenCalled();

		const refunded = { ...paid, status: "REFUNDED" as const, cancelRequestedAt: "2025-01-01T10:00:05.000Z", refundedAt: "2025-01-01T10:00:06.000Z" };
		stream.send(orderEvent(refunded));
		await flush();
		expect(live.onBalanceStale).toHaveBeenCalledTimes(1);

		// A NEW order cancelled while its payment was taken: CANCELLED, then refundedAt, its push lost.
		const cancelled = makeOrder({ id: "b", status: "CANCELLED", cancelReason: "CANCELLED_BY_USER" });
		stream.send(orderEvent(cancelled));
		listed = { ...cancelled, refundedAt: "2025-01-01T10:00:07.000Z" };
		live.hasOrdersAwaitingOutcome.mockReturnValue(true);
		await vi.advanceTimersByTimeAsync(RECHECK_INTERVAL_MS);
		expect(live.onOrders).toHaveBeenLastCalledWith([listed]);
		expect(live.onBalanceStale).toHaveBeenCalledTimes(2);

		stream.send(orderEvent(refunded));
		await flush();
		expect(live.onBalanceStale).toHaveBeenCalledTimes(2);
		live.stop();
	});

	it("does not re-read on that schedule while hidden", async () => {
		const live = start({ "GET /api/orders": () => jsonResponse([makeOrder({ id: "a" })]) });
		live.hasOrdersAwaitingOutcome.mockReturnValue(true);
		await flush();
		setVisibility("hidden");
		await vi.advanceTimersByTimeAsync(3 * RECHECK_INTERVAL_MS);
		expect(live.requestsTo("/api/orders")).toHaveLength(1);
		live.stop();
	});
});
