import { useCallback, useState, type FormEvent } from "react";
import { ApiError, errorMessage, isForbidden, type ApiClient, type Journey } from "../api";
import { useField } from "../hooks/useField";
import { usePolling } from "../hooks/usePolling";
import { isSettling } from "../journey";
import { formatMoney } from "../money";
import { formatTimestamp } from "../orders";
import { Alert } from "./Alert";
import { JourneyTimeline } from "./JourneyTimeline";
import { OrderStatusBadge } from "./OrderStatusBadge";
import { TextField } from "./TextField";

/** How often a journey still under way is read again. */
const JOURNEY_POLL_INTERVAL_MS = 2_000;

interface JourneyFinderProps {
	api: ApiClient;
	onForbidden(): void;
}

/** Finds any user's order by id and shows where it is and why, as its journey through the services. */
export function JourneyFinder({ api, onForbidden }: JourneyFinderProps) {
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
			{search && <OrderJourneyView key={search.number} api={api} orderId={search.id} onForbidden={onForbidden} />}
		</section>
	);
}

/** One order's journey, read again while it may still change (the order NEW, or its result unconfirmed). */
function OrderJourneyView({ api, orderId, onForbidden }: { api: ApiClient; orderId: string; onForbidden(): void }) {
	const [journey, setJourney] = useState<Journey | null>(null);
	const [error, setError] = useState<string | null>(null);

	const load = useCallback(async (): Promise<boolean> => {
		try {
			setJourney(await api.getAnyOrderJourney(orderId));
			setError(null);
			return true;
		} catch (failure) {
			if (isForbidden(failure)) onForbidden();
			setError(failure instanceof ApiError && failure.status === 404 ? "No order has this ID." : errorMessage(failure));
			return false;
		}
	}, [api, orderId, onForbidden]);
	// A failed first read (an unknown id, most often) waits for Retry, which clears the error and so
	// polls again (at once); a shown journey keeps following.
	usePolling(load, JOURNEY_POLL_INTERVAL_MS, journey === null ? error === null : isSettling(journey));

	return (
		<div className="stack" aria-busy={journey === null && error === null}>
			{error && (
				<>
					<Alert>{error}</Alert>
					<button type="button" className="button" onClick={() => setError(null)}>
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
