/**
 * Money as the API has it: a number > 0 with at most two decimals, at most 1,000,000,000.
 * Shown without a currency sign, always as "1,000.00" whatever the browser's locale.
 */

const MAX_AMOUNT = 1_000_000_000;

const moneyFormat = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatMoney(amount: number): string {
	return moneyFormat.format(amount);
}

/** "+1,000.00", "−100.00" (a minus sign, which screen readers read as "minus"), "0.00". */
export function formatSignedMoney(amount: number): string {
	if (amount === 0) return formatMoney(0);
	return `${amount > 0 ? "+" : "\u2212"}${formatMoney(Math.abs(amount))}`;
}

export type AmountCheck = { ok: true; amount: number } | { ok: false; message: string };

// A plain decimal, with a dot or a comma (a de or fr phone's decimal keypad has only ",") before
// the cents: no exponent, no thousands separators, no "Infinity".
const DECIMAL_PATTERN = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/;
// A comma before exactly three digits, as in "1,000", is as likely a thousands separator.
const AMBIGUOUS_COMMA = /,\d{3}$/;
// Digits with more than one separator, as in "1,234.5" or "1.234,5".
const GROUPED_DIGITS = /^[+-]?[\d.,]*[.,][\d.,]*[.,][\d.,]*$/;
const NO_GROUPING_MESSAGE = "Enter the amount without thousands separators, like 1234.50 or 1234,50.";

/** Reads what a person typed into an amount field, with the API's rules and plain messages. */
export function parseAmount(input: string): AmountCheck {
	const text = input.trim();
	if (text === "") return { ok: false, message: "Enter an amount." };
	if (GROUPED_DIGITS.test(text) || AMBIGUOUS_COMMA.test(text)) return { ok: false, message: NO_GROUPING_MESSAGE };
	if (!DECIMAL_PATTERN.test(text)) return { ok: false, message: "Enter the amount as a number, like 12.50." };
	const [whole, fraction = ""] = text.split(/[.,]/);
	const amount = Number(`${whole}.${fraction}`);
	if (amount <= 0) return { ok: false, message: "The amount must be greater than 0." };
	// Counted on the text, not the number: 1.005 is not exactly representable as a double.
	if (fraction.replace(/0+$/, "").length > 2) return { ok: false, message: "The amount can have at most 2 decimal places." };
	if (amount > MAX_AMOUNT) return { ok: false, message: `The amount can be at most ${formatMoney(MAX_AMOUNT)}.` };
	return { ok: true, amount };
}
