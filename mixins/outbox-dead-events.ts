/**
 * Dead outbox events as operators see them, from any service: the operator API
 * (services/api/api.operator.ts) and the REPL's `dead` (tools/repl-commands.ts) show the same view.
 */
import type { DeadEventRow } from "./outbox-sql";

export interface DeadEventView {
	service: string;
	id: string;
	eventName: string;
	targetGroup: string;
	/** The order it is about, when its payload names one. */
	orderId: string | null;
	attempts: number;
	failures: number;
	lastError: string | null;
	createdAt: string;
	deadAt: string;
}

/** A service's `deadEvents` row as a view (its times are strings once they crossed the transporter). */
export function toDeadEventView(service: string, row: DeadEventRow): DeadEventView {
	const orderId = row.payload?.orderId;
	return {
		service,
		id: row.id,
		eventName: row.event_name,
		targetGroup: row.target_group,
		orderId: typeof orderId === "string" ? orderId : null,
		attempts: row.attempts,
		failures: row.failures,
		lastError: row.last_error,
		createdAt: new Date(row.created_at).toISOString(),
		deadAt: new Date(row.dead_at).toISOString()
	};
}

/** The dead events of several services in one list, newest first. */
export function newestDeadFirst(lists: readonly (readonly DeadEventView[])[]): DeadEventView[] {
	return lists.flat().sort((a, b) => b.deadAt.localeCompare(a.deadAt));
}
