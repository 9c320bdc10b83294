/**
 * Money at the edges is a JSON number with at most two decimals; inside, and in the database,
 * it is an integer count of minor units, so no sum ever meets a binary fraction.
 */
import type { CheckerFunctionV2, RuleCustom } from "fastest-validator";

export const MAX_AMOUNT = 1_000_000_000;

/** True when `value` has no more than two decimal places (1.005 is rejected, 0.29 accepted). */
export function hasAtMostTwoDecimals(value: number): boolean {
	return Number.isFinite(value) && Number(value.toFixed(2)) === value;
}

export function toMinorUnits(amount: number): number {
	return Math.round(amount * 100);
}

/** Accepts pg's BIGINT strings as well as numbers. */
export function fromMinorUnits(minor: number | string): number {
	return Number(minor) / 100;
}

/**
 * fastest-validator rule for an amount: a number (never a numeric string), > 0, at most
 * MAX_AMOUNT, at most two decimals. fastest-validator has no precision rule, hence the custom check
 * (the validator runs with `useNewCustomCheckerFunction`, see moleculer.config.ts).
 */
export const amountRule: RuleCustom = {
	type: "number",
	positive: true,
	max: MAX_AMOUNT,
	// Not read by fastest-validator: the precision rule (the custom check below) as documentation.
	description: "A number of at most two decimal places.",
	custom: ((value, errors) => {
		if (typeof value === "number" && !hasAtMostTwoDecimals(value)) {
			errors.push({ type: "amountPrecision", actual: value });
		}
		return value;
	}) as CheckerFunctionV2
};

/** Message for the custom rule above, registered with the validator. */
export const MONEY_VALIDATION_MESSAGES = {
	amountPrecision: "The '{field}' field must have at most 2 decimal places."
};
