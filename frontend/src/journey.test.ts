import { describe, expect, it } from "vitest";
import type { JourneyStep } from "./api";
import { formatDuration, isSettling, stepText, waitingText } from "./journey";
import { makeJourney, makeOrder } from "./test/fakeServer";

describe("formatDuration", () => {
	it.each([
		[0, "0 ms"],
		[85.4, "85 ms"],
		[999, "999 ms"],
		[1_000, "1.0 s"],
		[1_240, "1.2 s"],
		[9_949, "9.9 s"],
		[9_950, "10 s"],
		[59_400, "59 s"],
		[59_600, "1 min 0 s"],
		[125_000, "2 min 5 s"],
		[3_600_000, "1 h 0 min"],
		[12_000_000, "3 h 20 min"]
	])("writes %d ms as %j", (ms, text) => {
		expect(formatDuration(ms)).toBe(text);
	});
});

describe("steps in words", () => {
	it("says what was done and what is awaited", () => {
		expect(stepText("requestEmitted")).toBe("Payment request sent");
		expect(waitingText("requestConfirmed")).toBe("Waiting for payments to confirm the request");
	});

	it("shows a step newer than this UI by its name", () => {
		const step = "auditWritten" as JourneyStep;
		expect(stepText(step)).toBe("auditWritten");
		expect(waitingText(step)).toBe("Waiting for auditWritten");
	});
});

describe("isSettling", () => {
	const now = Date.parse("2025-01-01T10:00:10.000Z");
	const ended = makeOrder({ id: "o1", status: "FINISHED", updatedAt: "2025-01-01T10:00:05.000Z" });

	it("holds while the order is NEW", () => {
		expect(isSettling(makeJourney(makeOrder({ id: "o1" })), now + 3_600_000)).toBe(true);
	});

	it("holds for a minute after the order ended while its result is unconfirmed", () => {
		const unconfirmed = makeJourney(ended);
		unconfirmed.hops = unconfirmed.hops.filter(hop => hop.step !== "resultConfirmed");
		expect(isSettling(unconfirmed, now)).toBe(true);
		// Past that, the confirmation is taken as gone (a row past retention, say).
		expect(isSettling(unconfirmed, now + 60_000)).toBe(false);
	});

	it("ends once the order ended and its result is confirmed", () => {
		expect(isSettling(makeJourney(ended), now)).toBe(false);
	});
});
