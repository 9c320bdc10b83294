/** SQL of the inbox: pure builders, run by the inbox mixin and the maintenance. */
import type { SqlQuery } from "./sql";

/** Records an event id as applied; returns a row only the first time (the caller then applies it). */
export function recordInboxEvent(eventId: string, eventName: string, source: string): SqlQuery {
	return {
		text: `INSERT INTO inbox_events (event_id, event_name, source) VALUES ($1::uuid, $2::text, $3::text)
			ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
		values: [eventId, eventName, source]
	};
}

/** One bounded batch of inbox ids older than the retention. */
export function deleteOldInboxEvents(olderThanMs: number, limit: number): SqlQuery {
	return {
		text: `DELETE FROM inbox_events WHERE event_id IN (
				SELECT event_id FROM inbox_events
				WHERE received_at < now() - make_interval(secs => $1::float8 / 1000)
				LIMIT $2::int FOR UPDATE SKIP LOCKED
			) RETURNING 1 AS deleted`,
		values: [olderThanMs, limit]
	};
}
