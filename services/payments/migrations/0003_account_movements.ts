import type { Migration } from "../../../platform/migrate";

/**
 * Issue 18: the account's journal of movements, and what a cancel needs of a payment decision.
 *
 * `account_movements` is append-only: every change of a balance (top-up, payment, refund) writes
 * its movement in the same statement, so balance = sum(amount_minor) of the account's movements at
 * every commit. `amount_minor` is signed (a payment is negative), `balance_after_minor` is the
 * balance the change left. The id orders the movements of one account: each is written after its
 * UPDATE of the account row, under that row's lock, so a later id is a later balance.
 *
 * One payment and at most one refund per order (partial unique indexes: the last line of defence
 * behind the per-order lock of payments.service.ts).
 *
 * A decision can now be a void (`REFUSED`, reason `CANCELLED_BY_USER`: the order was cancelled
 * before its payment request arrived), and a paid decision records when it was refunded.
 *
 * Backfill of existing accounts: where the balance equals sum(top-ups) - sum(paid payments) (the
 * ledger this database kept so far, and what every balance written by this code satisfies), the
 * history is rebuilt from those rows at their own times, each with its running balance; else
 * (a balance changed by hand, a restored backup of one table) the rows cannot explain the balance
 * and rebuilding them would invent a history: one OPENING movement of the whole balance stands for
 * it, dated now, so that the statement still sums to the balance.
 */
export const addAccountMovements: Migration = {
	name: "payments/0003_account_movements",
	up: `
		CREATE TABLE account_movements (
			id bigserial PRIMARY KEY,
			user_id text NOT NULL REFERENCES accounts (user_id),
			kind text NOT NULL CHECK (kind IN ('OPENING', 'TOPUP', 'PAYMENT', 'REFUND')),
			amount_minor bigint NOT NULL,
			balance_after_minor bigint NOT NULL,
			order_id uuid,
			created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
			CHECK (CASE kind WHEN 'PAYMENT' THEN amount_minor < 0 ELSE amount_minor > 0 END),
			CHECK ((kind IN ('PAYMENT', 'REFUND')) = (order_id IS NOT NULL))
		);
		-- The statement: an account's movements newest first, and their count.
		CREATE INDEX account_movements_user_idx ON account_movements (user_id, id DESC);
		CREATE UNIQUE INDEX account_movements_one_payment_idx ON account_movements (order_id) WHERE kind = 'PAYMENT';
		CREATE UNIQUE INDEX account_movements_one_refund_idx ON account_movements (order_id) WHERE kind = 'REFUND';

		ALTER TABLE payment_transactions ADD COLUMN refunded_at timestamptz;
		ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_refund_of_paid CHECK (refunded_at IS NULL OR outcome = 'PAID');
		ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_reason_check;
		ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_reason_check
			CHECK (reason IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'CANCELLED_BY_USER'));

		-- Backfill: rebuilt where the old ledger adds up to the balance ...
		WITH consistent AS (
			SELECT a.user_id FROM accounts a
			WHERE a.balance_minor =
				COALESCE((SELECT sum(t.amount_minor) FROM topups t WHERE t.user_id = a.user_id), 0)
				- COALESCE((SELECT sum(p.amount_minor) FROM payment_transactions p WHERE p.user_id = a.user_id AND p.outcome = 'PAID'), 0)
		), history AS (
			SELECT t.user_id, 'TOPUP' AS kind, t.amount_minor, NULL::uuid AS order_id, t.created_at, 0 AS tie, t.id::text AS ref
			FROM topups t JOIN consistent c ON c.user_id = t.user_id
			UNION ALL
			SELECT p.user_id, 'PAYMENT', -p.amount_minor, p.order_id, p.created_at, 1, p.order_id::text
			FROM payment_transactions p JOIN consistent c ON c.user_id = p.user_id
			WHERE p.outcome = 'PAID'
		)
		INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor, order_id, created_at)
		SELECT user_id, kind, amount_minor,
			sum(amount_minor) OVER (PARTITION BY user_id ORDER BY created_at, tie, ref ROWS UNBOUNDED PRECEDING),
			order_id, created_at
		FROM history
		ORDER BY user_id, created_at, tie, ref;

		-- ... else one opening movement of the balance.
		INSERT INTO account_movements (user_id, kind, amount_minor, balance_after_minor)
		SELECT a.user_id, 'OPENING', a.balance_minor, a.balance_minor FROM accounts a
		WHERE a.balance_minor > 0 AND NOT EXISTS (SELECT 1 FROM account_movements m WHERE m.user_id = a.user_id);
	`
};
