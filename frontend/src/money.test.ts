import { describe, expect, it } from "vitest";
import { formatMoney, formatSignedMoney, parseAmount } from "./money";
import { INVALID_AMOUNTS } from "./test/invalidAmounts";

describe("formatMoney", () => {
	it.each([
		[0, "0.00"],
		[12.5, "12.50"],
		[900, "900.00"],
		[1000, "1,000.00"],
		[1_000_000_000, "1,000,000,000.00"],
		[0.29, "0.29"]
	])("formats %s as %s", (amount, text) => {
		expect(formatMoney(amount)).toBe(text);
	});
});

describe("formatSignedMoney", () => {
	it.each([
		[1000, "+1,000.00"],
		[-100, "\u2212100.00"],
		[-0.01, "\u22120.01"],
		[0, "0.00"]
	])("formats %s as %s, the sign in words' place", (amount, text) => {
		expect(formatSignedMoney(amount)).toBe(text);
	});
});

describe("parseAmount", () => {
	/** The forms' rows, and more of each kind. */
	const invalidAmounts: readonly (readonly [input: string, message: string])[] = [
		...INVALID_AMOUNTS,
		["   ", "Enter an amount."],
		["1e3", "Enter the amount as a number, like 12.50."],
		["Infinity", "Enter the amount as a number, like 12.50."],
		["0.00", "The amount must be greater than 0."],
		["0.001", "The amount can have at most 2 decimal places."],
		["1000000000,01", "The amount can be at most 1,000,000,000.00."],
		["0,00", "The amount must be greater than 0."],
		["12 50", "Enter the amount as a number, like 12.50."],
		["12;50", "Enter the amount as a number, like 12.50."]
	];
	it.each(invalidAmounts)("rejects %j: %s", (input, message) => {
		expect(parseAmount(input)).toEqual({ ok: false, message });
	});

	it.each([
		["12.5", 12.5],
		[" 100 ", 100],
		["0.01", 0.01],
		["1.50", 1.5],
		["1.500", 1.5],
		[".5", 0.5],
		["1000000000", 1_000_000_000],
		["1000000000.00", 1_000_000_000]
	])("accepts %j as %s", (input, amount) => {
		expect(parseAmount(input)).toEqual({ ok: true, amount });
	});

	// A de or fr phone's decimal keypad has "," and no ".".
	it.each([
		["12,50", 12.5],
		["12,5", 12.5],
		["0,01", 0.01],
		[",5", 0.5],
		["7,", 7],
		[" 3,99 ", 3.99],
		["1000000000,00", 1_000_000_000]
	])("accepts a comma as the decimal separator: %j as %s", (input, amount) => {
		expect(parseAmount(input)).toEqual({ ok: true, amount });
	});

	it.each(["1,000", "1,005", "12,500", "1,234.5", "1.234,5", "1,2,3", "1.2.3", "1,000,000", "1.000.000,00"])("rejects %j, whose separators could be thousands separators", input => {
		expect(parseAmount(input)).toEqual({ ok: false, message: "Enter the amount without thousands separators, like 1234.50 or 1234,50." });
	});
});
