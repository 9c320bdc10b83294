/**
 * Validation rules shared by actions, beyond what fastest-validator has built in. Custom checks
 * need the validator's `useNewCustomCheckerFunction` (set in moleculer.config.ts).
 */
import type { CheckerFunctionV2, RuleString } from "fastest-validator";
import { MONEY_VALIDATION_MESSAGES } from "./money";

/**
 * Text that Postgres can store as given: no NUL characters (Sequelize would store them as `\0`)
 * and no lone UTF-16 surrogates (they would be replaced by U+FFFD).
 */
export function textRule(min: number, max: number): RuleString {
	return {
		type: "string",
		trim: true,
		min,
		max,
		custom: ((value, errors) => {
			if (typeof value === "string" && (value.includes("\u0000") || !value.isWellFormed())) {
				errors.push({ type: "storableText", actual: value });
			}
			return value;
		}) as CheckerFunctionV2
	};
}

export const VALIDATION_MESSAGES = {
	...MONEY_VALIDATION_MESSAGES,
	storableText: "The '{field}' field must not contain NUL characters or unpaired surrogates."
};
