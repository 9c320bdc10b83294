import { useCallback, useState } from "react";
import type { ApiClient, Order } from "../api";
import { formatMoney } from "../money";
import { isCancellable, isRefundRequested, newerOrder } from "../orders";
import { useSubmission } from "./useSubmission";

/** The last cancel asked for: which order, and how it went. */
export interface CancelState {
	orderId: string | null;
	pending: boolean;
	error: string | null;
	/** What it did, once answered. */
	confirmation: string;
}

export interface OrderCancel extends CancelState {
	/** The order whose cancel awaits the person's confirmation, as it is now (while it is still cancellable). */
	confirming: Order | undefined;
	ask(order: Order): void;
	dismiss(): void;
	confirm(): Promise<void>;
}

/** "Cancel “A book”? Its amount 100.00 will be refunded to your account." */
export function cancelQuestion(order: Order): string {
	const money =
		order.status === "FINISHED" ? `Its amount ${formatMoney(order.amount)} will be refunded to your account.` : "If its payment was already taken, the money comes back to your account.";
	return `Cancel “${order.description}”? ${money}`;
}

function cancelledText(order: Order): string {
	if (isRefundRequested(order)) return `Refund of ${formatMoney(order.amount)} for “${order.description}” requested: it comes back to your account shortly.`;
	return `“${order.description}” cancelled.`;
}

/**
 * Cancelling orders, one at a time: asked from an order's row, confirmed in a dialog, then sent
 * (idempotent: a retry after no answer carries the same key). `onCancelled` gets the order as the
 * server answered: CANCELLED (it was NEW), or still FINISHED with cancelRequestedAt.
 * `orders` are those on screen, so the question follows an order that changes while it is asked.
 */
export function useOrderCancel(api: ApiClient, orders: Order[], onCancelled: (order: Order) => void): OrderCancel {
	const submission = useSubmission();
	const [asked, setAsked] = useState<Order | null>(null);
	const [orderId, setOrderId] = useState<string | null>(null);
	const [confirmation, setConfirmation] = useState("");
	const current =
		asked &&
		newerOrder(
			asked,
			orders.find(order => order.id === asked.id)
		);
	const confirming = current && isCancellable(current) ? current : undefined;

	const dismiss = useCallback(() => setAsked(null), []);

	async function confirm(): Promise<void> {
		if (confirming === undefined) return;
		setAsked(null);
		setOrderId(confirming.id);
		setConfirmation("");
		const cancelled = await submission.run(() => api.cancelOrder(confirming.id));
		if (cancelled === undefined) return;
		onCancelled(cancelled);
		setConfirmation(cancelledText(cancelled));
	}

	return { confirming, ask: setAsked, dismiss, confirm, orderId, pending: submission.pending, error: submission.error, confirmation };
}
