/**
 * The relay's wake-up logic, with a stand-in `this`: a wake during a round never starts a second,
 * overlapping round, but does cause one more round after it (so a commit during a round is not
 * left for the next poll).
 */
import Validator from "fastest-validator";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createOutboxMixin } from "../../../mixins/outbox.mixin";

const options = { pollIntervalMs: 1000, batchSize: 10, retry: { baseMs: 200, maxMs: 1000 }, parking: { maxFailures: 10, minAgeMs: 0 } };

function standIn(relay: () => Promise<number>) {
	const schema = createOutboxMixin(options) as { methods: Record<string, (...args: unknown[]) => unknown>; created: () => void };
	const self: Record<string, unknown> = { relayPendingEvents: vi.fn(relay) };
	self.wakeOutboxRelay = schema.methods.wakeOutboxRelay.bind(self);
	schema.created.call(self);
	return self as { relayPendingEvents: ReturnType<typeof vi.fn>; wakeOutboxRelay: () => void; outboxRound: Promise<number> | null; outboxStopping: boolean };
}

describe("outbox relay wake-ups", () => {
	it("coalesces wakes during a round into one more round", async () => {
		let finish!: () => void;
		const self = standIn(() => new Promise<number>(resolve => (finish = () => resolve(0))));
		self.wakeOutboxRelay();
		self.wakeOutboxRelay();
		self.wakeOutboxRelay();
		expect(self.relayPendingEvents).toHaveBeenCalledTimes(1);
		finish();
		await vi.waitFor(() => expect(self.relayPendingEvents).toHaveBeenCalledTimes(2));
		finish();
		await vi.waitFor(() => expect(self.outboxRound).toBeNull());
		expect(self.relayPendingEvents).toHaveBeenCalledTimes(2);
	});

	it("does not start a round while stopping", () => {
		const self = standIn(async () => 0);
		self.outboxStopping = true;
		self.wakeOutboxRelay();
		expect(self.relayPendingEvents).not.toHaveBeenCalled();
	});
});

describe("outbox options", () => {
	it("refuse a first retry delay shorter than confirmations take under load, and a longest delay below the first", () => {
		expect(() => createOutboxMixin({ ...options, retry: { baseMs: 100, maxMs: 1000 } })).toThrow(/retry.baseMs must be at least 200/);
		expect(() => createOutboxMixin({ ...options, retry: { baseMs: 500, maxMs: 400 } })).toThrow(/retry.maxMs must not be below retry.baseMs/);
		expect(() => createOutboxMixin({ ...options, retry: { baseMs: 200, maxMs: 200 } })).not.toThrow();
	});
});

describe("emitting to live consumer groups only (issue 14)", () => {
	/** A registry whose available listeners are `payment.requested` in each of these groups. */
	function emitter(liveGroups: string[]) {
		const schema = createOutboxMixin(options) as { methods: Record<string, (...args: unknown[]) => unknown>; created: () => void };
		const emit = vi.fn(async (..._args: unknown[]) => undefined);
		const self: Record<string, unknown> = {
			name: "orders",
			logger: { debug: vi.fn(), info: vi.fn(), warn: vi.fn() },
			broker: {
				emit,
				metrics: { increment: vi.fn() },
				registry: { getEventList: () => liveGroups.map(group => ({ name: "payment.requested", group })) }
			}
		};
		for (const name of ["emitOutboxRow", "liveConsumers", "awaitAnswerFrom", "countOutbox"]) self[name] = schema.methods[name].bind(self);
		schema.created.call(self);
		return { emit, emitOutboxRow: self.emitOutboxRow as (row: object) => Promise<void> };
	}
	const row = { id: "e1", event_name: "payment.requested", target_group: "payments", payload: { orderId: "o1" }, attempts: 3 };

	it("emits with the schema version and the attempt in the meta while the group has a live instance", async () => {
		const { emit, emitOutboxRow } = emitter(["orders", "payments"]);
		await emitOutboxRow(row);
		expect(emit).toHaveBeenCalledWith(
			"payment.requested",
			{ eventId: "e1", source: "orders", payload: { orderId: "o1" } },
			{ groups: ["payments"], meta: { eventMeta: { schemaVersion: 2, attempt: 3 } } }
		);
	});

	it("emits an envelope that consumers of version 1 accept: they refuse any field they do not know", async () => {
		const { emit, emitOutboxRow } = emitter(["payments"]);
		await emitOutboxRow(row);
		const versionOneCheck = new Validator().compile({
			$$strict: true,
			eventId: "string",
			source: { type: "string", min: 1, max: 100 },
			payload: { type: "object", strict: true, props: { orderId: "string" } }
		});
		expect(versionOneCheck(emit.mock.calls[0][1])).toBe(true);
	});

	it("emits nothing while the group has none: it would only pile up in its queue", async () => {
		const { emit, emitOutboxRow } = emitter(["orders", "api"]);
		await emitOutboxRow(row);
		expect(emit).not.toHaveBeenCalled();
	});

	it("emits nothing while the group's live instances do not listen to the event (an older version, say)", async () => {
		const { emit, emitOutboxRow } = emitter(["payments"]);
		await emitOutboxRow({ ...row, event_name: "payment.refundRequested" });
		expect(emit).not.toHaveBeenCalled();
	});
});

describe("a consumer group that stopped answering (issue 14)", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	function relay() {
		const schema = createOutboxMixin(options) as { methods: Record<string, (...args: unknown[]) => unknown>; created: () => void };
		const self: Record<string, unknown> = { broker: { registry: { getEventList: () => [{ name: "payment.requested", group: "payments" }] } } };
		for (const name of ["consumerGroupsByState", "heardFrom", "awaitAnswerFrom", "liveConsumers"]) self[name] = schema.methods[name].bind(self);
		schema.created.call(self);
		return self as { consumerGroupsByState(): { answering: string[]; probed: string[] }; heardFrom(groups: string[]): void; awaitAnswerFrom(group: string): void };
	}

	it("is not silent while nothing was sent to it, however long", async () => {
		const self = relay();
		await vi.advanceTimersByTimeAsync(60_000);
		expect(self.consumerGroupsByState()).toEqual({ answering: ["payments"], probed: [] });
	});

	it("is re-emitted to while it answers, then probed once per retry delay once silent for five since an emit", async () => {
		const self = relay(); // retry.baseMs 200: silent 1 s after an unanswered emit
		self.awaitAnswerFrom("payments");
		await vi.advanceTimersByTimeAsync(900);
		self.awaitAnswerFrom("payments"); // a later emit does not restart the wait
		expect(self.consumerGroupsByState()).toEqual({ answering: ["payments"], probed: [] });
		self.heardFrom(["payments"]);
		self.awaitAnswerFrom("payments");
		await vi.advanceTimersByTimeAsync(1000);
		expect(self.consumerGroupsByState()).toEqual({ answering: ["payments"], probed: [] });
		await vi.advanceTimersByTimeAsync(1);
		expect(self.consumerGroupsByState()).toEqual({ answering: [], probed: ["payments"] });
		expect(self.consumerGroupsByState()).toEqual({ answering: [], probed: [] }); // no second probe within the delay
		await vi.advanceTimersByTimeAsync(200);
		expect(self.consumerGroupsByState()).toEqual({ answering: [], probed: ["payments"] });
		self.heardFrom(["payments"]); // the probe was answered
		expect(self.consumerGroupsByState()).toEqual({ answering: ["payments"], probed: [] });
	});
});
