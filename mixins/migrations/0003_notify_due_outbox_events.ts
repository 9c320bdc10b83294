/**
 * Wakes every relay of a database the moment an outbox row becomes due without its writer
 * emitting it: a row written by another program (a backfill, a manual insert), a replayed dead
 * event, an operator's `UPDATE … SET next_attempt_at = now()`. The services' own inserts are
 * written leased (due later) and their claims push the row into the future, so the normal path
 * never notifies. Postgres folds identical notifications of one transaction into one, so a
 * statement that makes thousands of rows due sends a single one. One of the messaging
 * migrations (index.ts).
 */
import type { Migration } from "../../platform/migrate";
import { OUTBOX_DUE_CHANNEL } from "../outbox-sql";

export const notifyDueOutboxEvents: Migration = {
	name: "messaging/0003_notify_due_outbox_events",
	formerly: "0004_notify_due_outbox_events",
	up: `
		CREATE FUNCTION notify_outbox_due() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify('${OUTBOX_DUE_CHANNEL}', '');
			RETURN NULL;
		END;
		$$;
		CREATE TRIGGER outbox_events_due
			AFTER INSERT OR UPDATE OF next_attempt_at ON outbox_events
			FOR EACH ROW
			WHEN (NEW.next_attempt_at <= now() AND NEW.confirmed_at IS NULL AND NEW.dead_at IS NULL)
			EXECUTE FUNCTION notify_outbox_due();
	`
};
