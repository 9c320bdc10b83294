import { describe, expect, it } from "vitest";
import type { Movement } from "./api";
import { movementText, pageRangeText } from "./statement";

const at = "2025-01-01T10:00:00.000Z";

describe("movementText", () => {
	it.each([
		[{ kind: "TOPUP", amount: 10, balanceAfter: 10, at }, "Top-up"],
		[{ kind: "PAYMENT", amount: -5, balanceAfter: 5, at, orderId: "o1" }, "Payment for order"],
		[{ kind: "REFUND", amount: 5, balanceAfter: 10, at, orderId: "o1" }, "Refund for order"],
		[{ kind: "OPENING", amount: 7, balanceAfter: 7, at }, "Opening balance"],
		[{ kind: "INTEREST" as Movement["kind"], amount: 1, balanceAfter: 8, at }, "INTEREST"]
	] satisfies [Movement, string][])("describes %o as %j", (movement, text) => {
		expect(movementText(movement)).toBe(text);
	});
});

describe("pageRangeText", () => {
	it("numbers the movements on the page from 1", () => {
		expect(pageRangeText(0, 10, 23)).toBe("Movements 1–10 of 23");
		expect(pageRangeText(20, 3, 23)).toBe("Movements 21–23 of 23");
	});
});
