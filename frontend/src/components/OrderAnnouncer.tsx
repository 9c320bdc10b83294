import { useEffect, useRef, useState } from "react";
import type { Order, OrderStatus } from "../api";
import { orderStatusText } from "../orders";

/** Announcements kept in the region; older ones have been read out already. */
const KEPT_ANNOUNCEMENTS = 5;

interface Announcement {
	id: number;
	text: string;
}

/** "Order Tea finished", "Order Car cancelled — insufficient funds". */
function statusChangeText(order: Order): string {
	return `Order ${order.description} ${orderStatusText(order).toLowerCase()}`;
}

/**
 * Tells screen readers when a shown order changes status, pushed or re-read: what others see as its
 * badge changing. An order seen for the first time (the initial load, a new order) is no change.
 * Each announcement is a line of its own, so the same words twice are still read out twice.
 */
export function OrderAnnouncer({ orders }: { orders: Order[] }) {
	const [announcements, setAnnouncements] = useState<Announcement[]>([]);
	const shownStatuses = useRef(new Map<string, OrderStatus>());

	useEffect(() => {
		const before = shownStatuses.current;
		shownStatuses.current = new Map(orders.map(order => [order.id, order.status]));
		const changed = orders.filter(order => before.has(order.id) && before.get(order.id) !== order.status);
		if (changed.length === 0) return;
		setAnnouncements(previous => {
			let id = previous.at(-1)?.id ?? 0;
			const added = changed.map(order => ({ id: ++id, text: statusChangeText(order) }));
			return [...previous, ...added].slice(-KEPT_ANNOUNCEMENTS);
		});
	}, [orders]);

	return (
		<div className="visually-hidden" role="log" aria-live="polite" aria-label="Order status changes">
			{announcements.map(announcement => (
				<p key={announcement.id}>{announcement.text}</p>
			))}
		</div>
	);
}
