import type { Order } from "../api";
import { orderStatusText } from "../orders";

export function OrderStatusBadge({ order }: { order: Order }) {
	return (
		<span className="status-badge" data-status={order.status}>
			{orderStatusText(order)}
		</span>
	);
}
