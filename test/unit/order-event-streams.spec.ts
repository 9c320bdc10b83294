/** The live channel's streams: caps per user and in total, and no unbounded buffering for a client that does not read (issue 15). */
import { describe, expect, it, vi } from "vitest";
import type { OrderView } from "../../services/orders/contracts";
import { MAX_STREAM_BACKLOG_BYTES, OrderEventStreams } from "../../services/api/order-event-streams";

const order = (userId: string): OrderView => ({
	id: "00000000-0000-4000-8000-000000000000",
	userId,
	amount: 1,
	description: "x".repeat(500),
	status: "FINISHED",
	createdAt: new Date(0),
	updatedAt: new Date(0)
});

describe("OrderEventStreams", () => {
	it("refuses a stream past the cap per user, and past the total, with 429", () => {
		const streams = new OrderEventStreams({ perUser: 2, total: 3 });
		streams.open("a");
		streams.open("a");
		expect(() => streams.open("a")).toThrow(expect.objectContaining({ code: 429, type: "TOO_MANY_STREAMS" }));
		streams.open("b");
		expect(() => streams.open("c")).toThrow(expect.objectContaining({ code: 429 }));
		expect(streams.size).toBe(3);
		streams.closeAll();
		expect(streams.size).toBe(0);
	});

	it("drops a stream whose client does not read once its backlog passes the bound, and forgets it", async () => {
		const streams = new OrderEventStreams({ perUser: 10, total: 10 });
		const stalled = streams.open("a");
		for (let i = 0; i < 1000; i++) streams.publish(order("a"));
		expect(stalled.destroyed).toBe(true);
		expect(stalled.writableLength).toBeLessThanOrEqual(MAX_STREAM_BACKLOG_BYTES + 1024);
		await new Promise(resolve => setImmediate(resolve));
		expect(streams.size).toBe(0);
		expect(() => streams.open("a")).not.toThrow();
	});

	it("ends a stream when its token does, also past Node's longest timer, and frees its place (issue 15, second attack)", () => {
		vi.useFakeTimers();
		try {
			const day = 86_400_000;
			const streams = new OrderEventStreams({ perUser: 5, total: 5 });
			const stream = streams.open("a", Date.now() + 30 * day);
			vi.advanceTimersByTime(30 * day - 1);
			expect(stream.writableEnded).toBe(false);
			vi.advanceTimersByTime(1);
			expect(stream.writableEnded).toBe(true);
			expect(streams.size).toBe(0);
		} finally {
			vi.useRealTimers();
		}
	});
});
