import { useEffect, useRef, useState } from "react";
import { errorMessage, type ApiClient, type Order } from "../api";
import { formatMoney } from "../money";
import { cancelReasonText, formatTimestamp, newerOrder } from "../orders";
import { Alert } from "./Alert";
import { OrderStatusBadge } from "./OrderStatusBadge";

interface OrderDetailsProps {
	api: ApiClient;
	orderId: string;
	/** The list's copy, which live updates keep current. */
	listedOrder: Order | undefined;
	onClose(): void;
}

/** A modal dialog with everything about one order; the caller makes the page behind it inert. */
export function OrderDetails({ api, orderId, listedOrder, onClose }: OrderDetailsProps) {
	const [fetchedOrder, setFetchedOrder] = useState<Order | null>(null);
	const [error, setError] = useState<string | null>(null);
	const closeButton = useRef<HTMLButtonElement>(null);

	useEffect(() => {
		let current = true;
		api.getOrder(orderId).then(
			order => current && setFetchedOrder(order),
			failure => current && setError(errorMessage(failure))
		);
		return () => {
			current = false;
		};
	}, [api, orderId]);

	// Focus moves into the dialog, and back to what opened it on close. The opener is read at the
	// first render: by the time an effect runs again (StrictMode) focus is already in the dialog.
	const [opener] = useState(() => (document.activeElement instanceof HTMLElement ? document.activeElement : null));
	useEffect(() => {
		closeButton.current?.focus();
		return () => opener?.focus();
	}, [opener]);

	useEffect(() => {
		function closeOnEscape(event: KeyboardEvent): void {
			if (event.key === "Escape") onClose();
		}
		document.addEventListener("keydown", closeOnEscape);
		return () => document.removeEventListener("keydown", closeOnEscape);
	}, [onClose]);

	const order = fetchedOrder && newerOrder(fetchedOrder, listedOrder);
	return (
		<div className="dialog-backdrop" onClick={event => event.target === event.currentTarget && onClose()}>
			<div className="dialog card" role="dialog" aria-modal="true" aria-labelledby="order-details-title">
				<h2 id="order-details-title">Order details</h2>
				{error && <Alert>{error}</Alert>}
				{!order && !error && <p className="muted">Loading…</p>}
				{order && <OrderFields order={order} />}
				<button ref={closeButton} type="button" className="button" onClick={onClose}>
					Close
				</button>
			</div>
		</div>
	);
}

function OrderFields({ order }: { order: Order }) {
	return (
		<dl className="details">
			<dt>Amount</dt>
			<dd>{formatMoney(order.amount)}</dd>
			<dt>Description</dt>
			<dd>{order.description}</dd>
			<dt>Status</dt>
			<dd>
				<OrderStatusBadge order={order} />
			</dd>
			{order.cancelReason && (
				<>
					<dt>Cancel reason</dt>
					<dd>{cancelReasonText(order.cancelReason)}</dd>
				</>
			)}
			<dt>Placed</dt>
			<dd>
				<time dateTime={order.createdAt}>{formatTimestamp(order.createdAt, true)}</time>
			</dd>
			<dt>Last change</dt>
			<dd>
				<time dateTime={order.updatedAt}>{formatTimestamp(order.updatedAt, true)}</time>
			</dd>
			<dt>Order ID</dt>
			<dd className="details__id">{order.id}</dd>
			<dt>User</dt>
			<dd>{order.userId}</dd>
		</dl>
	);
}
