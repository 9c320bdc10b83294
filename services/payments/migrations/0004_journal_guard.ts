import type { Migration } from "../../../platform/migrate";

/**
 * The journal's invariant in the database itself, not only in the statements that keep it (issue 18
 * review): a version of payments from before the journal, still running during a rolling deploy
 * (or anyone's hand-written UPDATE), would change a balance without its movement, and the
 * statement would never sum to the balance again.
 *
 * - At commit, an account whose balance changed must have it as the balance its newest movement
 *   left (a deferred constraint trigger: `creditAccount`, `debitAccount` and `refundPayment` write
 *   both in one statement, in that order). Otherwise the transaction fails and changes nothing: an
 *   old version's top-up answers 500, its payment is retried like any failing event, and a new
 *   version's instance applies it.
 * - Movements are never updated, deleted or truncated.
 */
export const addJournalGuard: Migration = {
	name: "payments/0004_journal_guard",
	up: `
		CREATE FUNCTION account_balance_journaled() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			balance bigint;
			journaled bigint;
		BEGIN
			SELECT a.balance_minor INTO balance FROM accounts a WHERE a.user_id = NEW.user_id;
			SELECT m.balance_after_minor INTO journaled FROM account_movements m WHERE m.user_id = NEW.user_id ORDER BY m.id DESC LIMIT 1;
			IF balance IS DISTINCT FROM coalesce(journaled, 0) THEN
				RAISE EXCEPTION 'The balance of account % changed without its movement in account_movements', NEW.user_id
					USING ERRCODE = 'integrity_constraint_violation';
			END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER accounts_balance_journaled AFTER UPDATE OF balance_minor ON accounts
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION account_balance_journaled();

		CREATE FUNCTION account_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			RAISE EXCEPTION 'account_movements is append-only: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
		END $$;
		CREATE TRIGGER account_movements_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON account_movements
			FOR EACH STATEMENT EXECUTE FUNCTION account_movements_append_only();
	`
};
