import { describe, expect, it } from "vitest";
import { fromMinorUnits, hasAtMostTwoDecimals, toMinorUnits } from "../../platform/money";

describe("money", () => {
	it.each([[1], [0.29], [12.5], [1_000_000_000], [999_999_999.99], [0.01]])("accepts %d as having at most two decimals", value => {
		expect(hasAtMostTwoDecimals(value)).toBe(true);
	});

	it.each([[1.005], [0.001], [12.345], [Number.NaN], [Number.POSITIVE_INFINITY]])("rejects %d", value => {
		expect(hasAtMostTwoDecimals(value)).toBe(false);
	});

	it("converts to integer minor units without binary fraction errors", () => {
		expect(toMinorUnits(0.29)).toBe(29);
		expect(toMinorUnits(1.1)).toBe(110);
		expect(toMinorUnits(999_999_999.99)).toBe(99_999_999_999);
	});

	it("converts back from pg's BIGINT strings and numbers", () => {
		expect(fromMinorUnits("90000")).toBe(900);
		expect(fromMinorUnits(1279)).toBe(12.79);
	});
});
