import type { Order } from "../api";
import type { OrdersState } from "../hooks/useOrders";
import { formatMoney } from "../money";
import { formatTimestamp } from "../orders";
import { Alert } from "./Alert";
import { OrderStatusBadge } from "./OrderStatusBadge";

interface OrderListProps {
	state: OrdersState;
	onRetry(): void;
	onShowDetails(order: Order): void;
}

export function OrderList({ state, onRetry, onShowDetails }: OrderListProps) {
	const { orders, loaded, error } = state;
	return (
		<section className="card" aria-labelledby="orders-title">
			<h2 id="orders-title">Your orders</h2>
			{error && (
				<>
					<Alert>{error}</Alert>
					<button type="button" className="button" onClick={onRetry}>
						Retry
					</button>
				</>
			)}
			{!loaded && !error && <p className="muted">Loading…</p>}
			{loaded && orders.length === 0 && <p className="muted">No orders yet.</p>}
			{orders.length > 0 && (
				<ul className="order-list">
					{orders.map(order => (
						<OrderRow key={order.id} order={order} onShowDetails={onShowDetails} />
					))}
				</ul>
			)}
		</section>
	);
}

function OrderRow({ order, onShowDetails }: { order: Order; onShowDetails(order: Order): void }) {
	return (
		<li className="order-row" data-testid="order-row" data-order-id={order.id} data-status={order.status}>
			<div className="order-row__main">
				<span className="order-row__amount">{formatMoney(order.amount)}</span>
				<span className="order-row__description">{order.description}</span>
			</div>
			<div className="order-row__meta">
				<OrderStatusBadge order={order} />
				<time className="order-row__time" dateTime={order.createdAt}>
					{formatTimestamp(order.createdAt)}
				</time>
				<button type="button" className="button button--small" onClick={() => onShowDetails(order)}>
					Details<span className="visually-hidden">: {order.description}</span>
				</button>
			</div>
		</li>
	);
}
