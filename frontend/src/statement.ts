/** The statement's movements in words. */
import type { Movement } from "./api";

const MOVEMENT_TEXT: Record<Movement["kind"], string> = {
	TOPUP: "Top-up",
	PAYMENT: "Payment for order",
	REFUND: "Refund for order",
	OPENING: "Opening balance"
};

/** "Top-up", "Payment for order" (its order named after it); a kind newer than this UI is shown by its name. */
export function movementText(movement: Movement): string {
	return MOVEMENT_TEXT[movement.kind] ?? movement.kind;
}

/** "Movements 11–20 of 23", for a page at offset of the given length. */
export function pageRangeText(offset: number, length: number, total: number): string {
	return `Movements ${offset + 1}–${offset + length} of ${total}`;
}
