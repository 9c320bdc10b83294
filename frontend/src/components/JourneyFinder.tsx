import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api";
import { useAnyOrderJourneyQuery, useOnForbidden } from "../hooks/queries";
import { useField } from "../hooks/useField";
import { formatMoney } from "../money";
import { formatTimestamp } from "../orders";
import { Alert } from "./Alert";
import { JourneyTimeline } from "./JourneyTimeline";
import { OrderStatusBadge } from "./OrderStatusBadge";
import { TextField } from "./TextField";

interface JourneyFinderProps {
	onForbidden(): void;
}

/** Finds any user's order by id and shows where it is and why, as its journey through the services. */
export function JourneyFinder({ onForbidden }: JourneyFinderProps) {
	const orderId = useField();
	// Each search mounts a fresh view, even for the same id again.
	const [search, setSearch] = useState<{ id: string; number: number } | null>(null);

	function handleSubmit(event: FormEvent<HTMLFormElement>): void {
		event.preventDefault();
		const id = orderId.value.trim();
		if (id === "") {
			orderId.setError("Enter an order ID.");
			orderId.focus();
			return;
		}
		setSearch(previous => ({ id, number: (previous?.number ?? 0) + 1 }));
	}

	return (
		<section className="card" aria-labelledby="journey-finder-title">
			<h2 id="journey-finder-title">Find an order</h2>
			<form className="journey-finder__form" onSubmit={handleSubmit} noValidate>
				<TextField {...orderId.props} label="Order ID" autoComplete="off" autoCapitalize="none" autoCorrect="off" spellCheck={false} />
				<button type="submit" className="button button--primary">
					Show journey
				</button>
			</form>
			{search && <OrderJourneyView orderId={search.id} search={search.number} onForbidden={onForbidden} />}
		</section>
	);
}

/** One order's journey, read again while it may still change (the order NEW, or its result unconfirmed). */
function OrderJourneyView({ orderId, search, onForbidden }: { orderId: string; search: number; onForbidden(): void }) {
	const { data: journey = null, error: failure, refetch } = useAnyOrderJourneyQuery(orderId, search);
	const error = failure && (failure instanceof ApiError && failure.status === 404 ? "No order has this ID." : errorMessage(failure));
	useOnForbidden(failure, onForbidden);

	return (
		<div className="stack" aria-busy={journey === null && error === null}>
			{error && (
				<>
					<Alert>{error}</Alert>
					<button type="button" className="button" onClick={() => void refetch()}>
						Retry
					</button>
				</>
			)}
			{journey === null && error === null && <p className="muted">Loading…</p>}
			{journey && (
				<>
					<dl className="details" data-testid="journey-order">
						<dt>Status</dt>
						<dd>
							<OrderStatusBadge order={journey.order} />
						</dd>
						<dt>Amount</dt>
						<dd>{formatMoney(journey.order.amount)}</dd>
						<dt>User</dt>
						<dd>{journey.order.userId}</dd>
						<dt>Placed</dt>
						<dd>
							<time dateTime={journey.order.createdAt}>{formatTimestamp(journey.order.createdAt, true)}</time>
						</dd>
						<dt>Order ID</dt>
						<dd className="details__id">{journey.order.id}</dd>
						{journey.traceId && (
							<>
								<dt>Trace</dt>
								<dd className="details__id">{journey.traceId}</dd>
							</>
						)}
					</dl>
					<JourneyTimeline journey={journey} detailed />
				</>
			)}
		</div>
	);
}
