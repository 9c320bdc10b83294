/**
 * The inbox's confirmation batching, with a stand-in `this` and fake timers: a confirmation after a
 * quiet spell leaves within a few milliseconds; under a steady stream, the producer gets at most
 * one message per 50 ms, carrying every event confirmed meanwhile; a full batch leaves at once; a
 * failed send is logged, not thrown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MESSAGING_EVENTS } from "../../../mixins/messaging-contracts";
import { createInboxMixin } from "../../../mixins/inbox.mixin";

type Confirmation = [string, { source: string; eventIds: string[] }];

function standIn() {
	const schema = createInboxMixin() as { methods: Record<string, (...args: unknown[]) => unknown>; created: () => void };
	const emit = vi.fn(async (..._args: unknown[]) => undefined);
	const logger = { warn: vi.fn() };
	const self: Record<string, unknown> = { broker: { emit }, logger };
	for (const name of ["confirmLater", "sendConfirmations"]) self[name] = schema.methods[name].bind(self);
	schema.created.call(self);
	const confirmed = () => (emit.mock.calls as unknown as Confirmation[]).flatMap(([, payload]) => payload.eventIds);
	return { confirmLater: self.confirmLater as (source: string, eventId: string) => void, emit, logger, confirmed };
}

describe("inbox confirmations", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("sends a lone confirmation after a few milliseconds", async () => {
		const { confirmLater, emit } = standIn();
		confirmLater("orders", "e1");
		await vi.advanceTimersByTimeAsync(4);
		expect(emit).not.toHaveBeenCalled();
		await vi.advanceTimersByTimeAsync(1);
		expect(emit).toHaveBeenCalledTimes(1);
		expect(emit).toHaveBeenCalledWith(MESSAGING_EVENTS.OUTBOX_CONFIRMED, { source: "orders", eventIds: ["e1"] }, { groups: ["orders"] });
	});

	it("under a steady stream, sends one message per producer at most every 50 ms, none later than that", async () => {
		const { confirmLater, emit, confirmed } = standIn();
		// One event every 2 ms for 200 ms, from two producers; each must be confirmed within 50 ms (and the 5 ms delay).
		for (let i = 0; i < 100; i++) {
			confirmLater(i % 2 ? "payments" : "orders", `e${i}`);
			await vi.advanceTimersByTimeAsync(2);
			const due = i - 28; // the event handed over 56 ms ago
			if (due >= 0) expect(confirmed()).toContain(`e${due}`);
		}
		await vi.advanceTimersByTimeAsync(100);
		const messages = emit.mock.calls as unknown as Confirmation[];
		// The first after 5 ms, then one per 50 ms: 5 rounds of two messages, not 100 messages.
		expect(messages.length).toBeLessThanOrEqual(10);
		expect(confirmed().sort()).toEqual(Array.from({ length: 100 }, (_, i) => `e${i}`).sort());
		for (const [, { source, eventIds }] of messages) expect(eventIds.every(id => Number(id.slice(1)) % 2 === (source === "payments" ? 1 : 0))).toBe(true);
	});

	it("sends a full batch at once, whatever the interval", async () => {
		const { confirmLater, confirmed } = standIn();
		confirmLater("orders", "first");
		await vi.advanceTimersByTimeAsync(5);
		for (let i = 0; i < 500; i++) confirmLater("orders", `e${i}`);
		expect(confirmed()).toHaveLength(501);
	});

	it("survives a confirmation that cannot be sent, and keeps confirming", async () => {
		const { confirmLater, emit, logger, confirmed } = standIn();
		emit.mockRejectedValueOnce(new Error("Broker is disconnected"));
		confirmLater("orders", "lost");
		await vi.advanceTimersByTimeAsync(5);
		expect(logger.warn).toHaveBeenCalledTimes(1);
		confirmLater("orders", "e2");
		await vi.advanceTimersByTimeAsync(50);
		expect(confirmed()).toContain("e2");
	});

	it("after a quiet spell, answers within a few milliseconds again", async () => {
		const { confirmLater, emit } = standIn();
		confirmLater("orders", "e1");
		await vi.advanceTimersByTimeAsync(60);
		confirmLater("orders", "e2");
		await vi.advanceTimersByTimeAsync(5);
		expect(emit).toHaveBeenCalledTimes(2);
	});
});
