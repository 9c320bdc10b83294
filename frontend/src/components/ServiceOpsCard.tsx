import { useCallback, useId, useLayoutEffect, useRef } from "react";
import type { DeadEvent, ServiceOps } from "../api";
import { formatDuration } from "../journey";
import { formatTimestamp } from "../orders";
import { Alert } from "./Alert";
import { ActivityChart } from "./ActivityChart";

/** Dead events to send again: the given ones, or (no ids) all of the service's. */
export interface ReplayRequest {
	service: DeadEvent["service"];
	ids?: string[];
	/** What the confirmation asks. */
	question: string;
}

/** The outcome of the service's last replay. */
export interface ReplayNote {
	text: string;
	failed: boolean;
}

interface ServiceOpsCardProps {
	ops: ServiceOps;
	bucketSeconds: number;
	/** The service's dead events as listed, newest first (possibly fewer than ops.dead). */
	deadEvents: DeadEvent[];
	note: ReplayNote | undefined;
	onReplay(request: ReplayRequest): void;
}

/** One service's outbox: backlog, dead events with their errors, recent re-emits and reconciled orders. */
export function ServiceOpsCard({ ops, bucketSeconds, deadEvents, note, onReplay }: ServiceOpsCardProps) {
	const titleId = useId();
	const title = useRef<HTMLHeadingElement>(null);
	const focusTitle = useCallback(() => title.current?.focus(), []);
	const { service } = ops;
	const oldest = ops.oldestPendingAgeSeconds ? formatDuration(ops.oldestPendingAgeSeconds * 1_000) : "—";
	return (
		<section className="card ops-service" aria-labelledby={titleId} data-testid="ops-service" data-service={service}>
			<h3 id={titleId} ref={title} tabIndex={-1}>
				{service}
			</h3>
			{ops.available === false && <Alert>No instance of {service} is up: its figures are unknown.</Alert>}
			<dl className="ops-figures">
				<div>
					<dt>Pending</dt>
					<dd data-testid="pending-count">{ops.pending}</dd>
				</div>
				<div>
					<dt>Oldest pending</dt>
					<dd data-testid="oldest-pending">{oldest}</dd>
				</div>
				<div>
					<dt>Dead</dt>
					<dd data-testid="dead-count" data-dead={ops.dead > 0 || undefined}>
						{ops.dead}
					</dd>
				</div>
			</dl>
			<ActivityChart service={service} activity={ops.activity} bucketSeconds={bucketSeconds} />
			<h4>Dead events</h4>
			{deadEvents.length === 0 ? (
				<p className="muted">None.</p>
			) : (
				<ul className="dead-events">
					{deadEvents.map(event => (
						<DeadEventItem key={event.id} event={event} onReplay={onReplay} onRemovedWithFocus={focusTitle} />
					))}
				</ul>
			)}
			{ops.dead > deadEvents.length && (
				<p className="muted">
					The newest {deadEvents.length} of {ops.dead} are listed.
				</p>
			)}
			<button
				type="button"
				className="button"
				disabled={ops.dead === 0}
				onClick={() => onReplay({ service, question: `Send all ${ops.dead} dead events of ${service} again? Do it once the cause of their failures is fixed.` })}
			>
				Replay all <span className="visually-hidden">dead events of {service}</span>
			</button>
			{note?.failed && <Alert>{note.text}</Alert>}
			<p className="confirmation" role="status" data-testid="replay-result">
				{note && !note.failed ? note.text : ""}
			</p>
		</section>
	);
}

interface DeadEventItemProps {
	event: DeadEvent;
	onReplay(request: ReplayRequest): void;
	/** Its Replay button had the focus when the event left the list (replayed). */
	onRemovedWithFocus(): void;
}

function DeadEventItem({ event, onReplay, onRemovedWithFocus }: DeadEventItemProps) {
	const replayButton = useRef<HTMLButtonElement>(null);
	// A replayed event leaves the list with the button the focus went back to from the confirmation:
	// without this, a keyboard user would be sent back to the page's start. (A layout effect's
	// cleanup runs while the button is still in the page.)
	useLayoutEffect(() => {
		const button = replayButton.current;
		return () => {
			if (button === document.activeElement) onRemovedWithFocus();
		};
	}, [onRemovedWithFocus]);
	const about = event.orderId ? `${event.eventName} of order ${event.orderId}` : `${event.eventName} ${event.id}`;
	return (
		<li className="dead-event" data-testid="dead-event" data-event-id={event.id}>
			<p className="dead-event__what">
				<strong>{event.eventName}</strong> to {event.targetGroup}
				{event.orderId && (
					<>
						{" "}
						· order <span className="details__id">{event.orderId}</span>
					</>
				)}
			</p>
			<p className="dead-event__error">{event.lastError ?? "No error recorded."}</p>
			<p className="muted dead-event__meta">
				{event.failures} failures in {event.attempts} attempts · dead since <time dateTime={event.deadAt}>{formatTimestamp(event.deadAt, true)}</time>
			</p>
			<button
				ref={replayButton}
				type="button"
				className="button button--small"
				onClick={() => onReplay({ service: event.service, ids: [event.id], question: `Send ${about} again? Do it once the cause of its failures is fixed.` })}
			>
				Replay<span className="visually-hidden">: {about}</span>
			</button>
		</li>
	);
}
