/** The payments database's migrations, in order: the outbox's and inbox's, then the service's own. */
import type { Migration } from "../../../platform/migrate";
import { messagingMigrations } from "../../../mixins/migrations";
import { createAccounts } from "./0001_create_accounts";
import { addPaymentResultEvent } from "./0002_payment_result_event";
import { addAccountMovements } from "./0003_account_movements";
import { addJournalGuard } from "./0004_journal_guard";

export const paymentsMigrations: readonly Migration[] = [...messagingMigrations, createAccounts, addPaymentResultEvent, addAccountMovements, addJournalGuard];
