import type { Migration } from "../../../platform/migrate";

export const createAccounts: Migration = {
	name: "payments/0001_create_accounts",
	formerly: "0002_create_accounts",
	up: `
		CREATE TABLE accounts (
			user_id text PRIMARY KEY,
			-- Never below zero: the debit is a conditional update, and this is the last line of defence.
			-- The upper bound keeps every balance exact as a JavaScript number (< 2^53 minor units).
			balance_minor bigint NOT NULL DEFAULT 0 CHECK (balance_minor >= 0 AND balance_minor <= 100000000000000),
			created_at timestamptz NOT NULL DEFAULT now(),
			updated_at timestamptz NOT NULL DEFAULT now()
		);

		-- The ledger of credits: balance = sum(top-ups) - sum(paid payment_transactions).
		CREATE TABLE topups (
			id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
			user_id text NOT NULL REFERENCES accounts (user_id),
			amount_minor bigint NOT NULL CHECK (amount_minor > 0),
			created_at timestamptz NOT NULL DEFAULT now()
		);
		CREATE INDEX topups_user_idx ON topups (user_id);

		-- At most one payment decision per order, whatever is redelivered.
		CREATE TABLE payment_transactions (
			order_id uuid PRIMARY KEY,
			user_id text NOT NULL,
			amount_minor bigint NOT NULL CHECK (amount_minor > 0),
			outcome text NOT NULL CHECK (outcome IN ('PAID', 'REFUSED')),
			reason text CHECK (reason IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND')),
			created_at timestamptz NOT NULL DEFAULT now(),
			CHECK ((outcome = 'REFUSED') = (reason IS NOT NULL))
		);
		CREATE INDEX payment_transactions_user_idx ON payment_transactions (user_id);
	`
};
