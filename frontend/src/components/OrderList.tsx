import { useCallback, useLayoutEffect, useRef } from "react";
import type { Order } from "../api";
import type { OrdersState } from "../hooks/useOrders";
import type { CancelState } from "../hooks/useOrderCancel";
import { formatMoney } from "../money";
import { formatTimestamp, isCancellable, isRefundRequested } from "../orders";
import { Alert } from "./Alert";
import { OrderStatusBadge } from "./OrderStatusBadge";

interface OrderListProps {
	state: OrdersState;
	/** The last cancel: its error shows in its order's row, what it did under the list. */
	cancel: CancelState;
	onRetry(): void;
	onShowDetails(order: Order): void;
	onCancel(order: Order): void;
}

export function OrderList({ state, cancel, onRetry, onShowDetails, onCancel }: OrderListProps) {
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
						<OrderRow key={order.id} order={order} cancel={cancel.orderId === order.id ? cancel : undefined} onShowDetails={onShowDetails} onCancel={onCancel} />
					))}
				</ul>
			)}
			<p className="confirmation" role="status" data-testid="cancel-result">
				{cancel.confirmation}
			</p>
		</section>
	);
}

interface OrderRowProps {
	order: Order;
	/** This order's cancel, when the last one was for it. */
	cancel: CancelState | undefined;
	onShowDetails(order: Order): void;
	onCancel(order: Order): void;
}

function OrderRow({ order, cancel, onShowDetails, onCancel }: OrderRowProps) {
	const detailsButton = useRef<HTMLButtonElement>(null);
	const focusDetails = useCallback(() => detailsButton.current?.focus(), []);
	const pending = cancel?.pending ?? false;
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
				{isRefundRequested(order) && <span className="order-row__note">Refund requested</span>}
				<span className="order-row__actions">
					{isCancellable(order) && <CancelButton order={order} pending={pending} onCancel={onCancel} onRemovedWithFocus={focusDetails} />}
					<button ref={detailsButton} type="button" className="button button--small" onClick={() => onShowDetails(order)}>
						Details<span className="visually-hidden">: {order.description}</span>
					</button>
				</span>
			</div>
			{cancel?.error && <Alert>{cancel.error}</Alert>}
		</li>
	);
}

interface CancelButtonProps {
	order: Order;
	pending: boolean;
	onCancel(order: Order): void;
	/** It had the focus when it left the row (the order cancelled). */
	onRemovedWithFocus(): void;
}

function CancelButton({ order, pending, onCancel, onRemovedWithFocus }: CancelButtonProps) {
	const button = useRef<HTMLButtonElement>(null);
	// A cancelled order loses this button just as the focus came back to it from the confirmation:
	// without this, a keyboard user would be sent back to the page's start. (A layout effect's
	// cleanup runs while the button is still in the page.)
	useLayoutEffect(() => {
		const element = button.current;
		return () => {
			if (element === document.activeElement) onRemovedWithFocus();
		};
	}, [onRemovedWithFocus]);
	// aria-disabled, not disabled, while the cancel is on its way: a disabled button would drop the focus.
	return (
		<button
			ref={button}
			type="button"
			className="button button--small"
			aria-disabled={pending}
			onClick={() => {
				if (!pending) onCancel(order);
			}}
		>
			{pending ? "Cancelling…" : "Cancel"} <span className="visually-hidden">order: {order.description}</span>
		</button>
	);
}
