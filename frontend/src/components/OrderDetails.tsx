import { useRef } from "react";
import { errorMessage, type Order } from "../api";
import { useOrderJourneyQuery, useOrderQuery } from "../hooks/queries";
import { formatMoney } from "../money";
import { cancelReasonText, formatTimestamp, newerOrder } from "../orders";
import { Alert } from "./Alert";
import { Dialog } from "./Dialog";
import { JourneyTimeline } from "./JourneyTimeline";
import { OrderStatusBadge } from "./OrderStatusBadge";

interface OrderDetailsProps {
	orderId: string;
	/** The list's copy, which live updates keep current. */
	listedOrder: Order | undefined;
	onClose(): void;
}

/** A modal dialog with everything about one order, and how it went through the services. */
export function OrderDetails({ orderId, listedOrder, onClose }: OrderDetailsProps) {
	const { data: fetchedOrder, error } = useOrderQuery(orderId);
	const closeButton = useRef<HTMLButtonElement>(null);

	const order = fetchedOrder && newerOrder(fetchedOrder, listedOrder);
	return (
		<Dialog title="Order details" initialFocus={closeButton} onClose={onClose}>
			{error && <Alert>{errorMessage(error)}</Alert>}
			{!order && !error && <p className="muted">Loading…</p>}
			{order && (
				<>
					<OrderFields order={order} />
					<OrderJourney order={order} />
				</>
			)}
			<button ref={closeButton} type="button" className="button" onClick={onClose}>
				Close
			</button>
		</Dialog>
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
			<TimeField term="Placed" at={order.createdAt} />
			{order.cancelRequestedAt && <TimeField term="Cancel requested" at={order.cancelRequestedAt} />}
			{order.refundedAt && <TimeField term="Refunded" at={order.refundedAt} />}
			<TimeField term="Last change" at={order.updatedAt} />
			<dt>Order ID</dt>
			<dd className="details__id">{order.id}</dd>
			<dt>User</dt>
			<dd>{order.userId}</dd>
		</dl>
	);
}

function TimeField({ term, at }: { term: string; at: string }) {
	return (
		<>
			<dt>{term}</dt>
			<dd>
				<time dateTime={at}>{formatTimestamp(at, true)}</time>
			</dd>
		</>
	);
}

/**
 * The order's way through the services, in the simple form: a person sees the outbox at work (the
 * request sent, received, confirmed). Read again when the order's status changes.
 */
function OrderJourney({ order }: { order: Order }) {
	const { data: journey, error } = useOrderJourneyQuery(order.id, order.status);
	return (
		<section className="stack" aria-labelledby="order-journey-title">
			<h3 id="order-journey-title">How it went</h3>
			{error && <Alert>{errorMessage(error)}</Alert>}
			{!journey && !error && <p className="muted">Loading…</p>}
			{journey && <JourneyTimeline journey={journey} />}
		</section>
	);
}
