/** Amounts every money form refuses before asking the server, with the message it shows: one or two of each kind (the forms use parseAmount; money.test.ts adds more). */
export const INVALID_AMOUNTS: readonly (readonly [input: string, message: string])[] = [
	["", "Enter an amount."],
	["abc", "Enter the amount as a number, like 12.50."],
	["0", "The amount must be greater than 0."],
	["-1", "The amount must be greater than 0."],
	["1.005", "The amount can have at most 2 decimal places."],
	["1000000000.01", "The amount can be at most 1,000,000,000.00."]
];
