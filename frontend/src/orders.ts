/** Order lists as the UI keeps them: newest first, each order in its latest known version. */
import type { CancelReason, Order, OrderStatus } from "./api";

/** The later version of the same order (statuses only move forward, and updatedAt with them). */
export function newerOrder(a: Order, b: Order | undefined): Order {
	if (b === undefined) return a;
	return Date.parse(b.updatedAt) > Date.parse(a.updatedAt) ? b : a;
}

/** Puts one order in the list: replaces its older version, or slots it in by creation time. */
export function upsertOrder(orders: Order[], order: Order): Order[] {
	const index = orders.findIndex(existing => existing.id === order.id);
	if (index !== -1) {
		const next = [...orders];
		next[index] = newerOrder(orders[index], order);
		return next;
	}
	const createdAt = Date.parse(order.createdAt);
	const position = orders.findIndex(existing => Date.parse(existing.createdAt) <= createdAt);
	return position === -1 ? [...orders, order] : [...orders.slice(0, position), order, ...orders.slice(position)];
}

/**
 * Takes a list fetched from the server without losing what arrived while it was on its way: an
 * order placed since (kept on top), or a status change the fetched copy predates.
 */
export function mergeFetchedOrders(current: Order[], fetched: Order[]): Order[] {
	const currentById = new Map(current.map(order => [order.id, order]));
	const fetchedIds = new Set(fetched.map(order => order.id));
	const newestFetched = fetched.length > 0 ? Date.parse(fetched[0].createdAt) : -Infinity;
	const placedSince = current.filter(order => !fetchedIds.has(order.id) && Date.parse(order.createdAt) > newestFetched);
	return [...placedSince, ...fetched.map(order => newerOrder(order, currentById.get(order.id)))];
}

/** A FINISHED order whose cancel was asked: its refund is on its way (it turns REFUNDED). */
export function isRefundRequested(order: Order): boolean {
	return order.status === "FINISHED" && order.cancelRequestedAt !== undefined;
}

/** NEW, or FINISHED with no cancel asked yet: CANCELLED and REFUNDED orders have nothing left to cancel. */
export function isCancellable(order: Order): boolean {
	return order.status === "NEW" || (order.status === "FINISHED" && !isRefundRequested(order));
}

/** Whether the order's next change is still to come: its payment's result, or its refund. */
export function isAwaitingOutcome(order: Order): boolean {
	return order.status === "NEW" || isRefundRequested(order);
}

const CANCEL_REASON_TEXT: Record<CancelReason, string> = {
	INSUFFICIENT_FUNDS: "Insufficient funds",
	ACCOUNT_NOT_FOUND: "No account",
	CANCELLED_BY_USER: "At your request"
};

export function cancelReasonText(reason: CancelReason): string {
	return CANCEL_REASON_TEXT[reason] ?? reason; // a reason newer than this UI is shown as it is
}

const STATUS_TEXT: Record<OrderStatus, string> = { NEW: "New", FINISHED: "Finished", CANCELLED: "Cancelled", REFUNDED: "Refunded" };

/** "Finished", or "Cancelled — insufficient funds" with the reason. */
export function orderStatusText(order: Order): string {
	const status = STATUS_TEXT[order.status] ?? order.status;
	if (order.status !== "CANCELLED" || !order.cancelReason) return status;
	return `${status} — ${cancelReasonText(order.cancelReason).toLowerCase()}`;
}

const timestampFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const preciseTimestampFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatTimestamp(iso: string, precise = false): string {
	const date = new Date(iso);
	if (Number.isNaN(date.getTime())) return iso;
	return (precise ? preciseTimestampFormat : timestampFormat).format(date);
}
