/** SQL of the inbox: pure builders, run by the inbox mixin. */
import type { SqlQuery } from "../platform/sql";

/** Records an event id as applied; returns a row only the first time (the caller then applies it). */
export function recordInboxEvent(eventId: string, eventName: string, source: string): SqlQuery {
	return {
		name: "inbox.recordInboxEvent",
		text: `INSERT INTO inbox_events (event_id, event_name, source) VALUES ($1::uuid, $2::text, $3::text)
			ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
		values: [eventId, eventName, source]
	};
}

/** When an event id was recorded as applied (no row: never, or forgotten by retention). */
export function selectInboxReceipt(eventId: string): SqlQuery {
	return { text: "SELECT received_at FROM inbox_events WHERE event_id = $1::uuid", values: [eventId] };
}
