/** The payments database's migrations, in order. */
import type { Migration } from "../../lib/migrate";
import { addDeadEventsAndRetention } from "../shared/dead-events-and-retention";
import { createMessagingTables } from "../shared/messaging";
import { addOutboxFailureAccounting } from "../shared/outbox-failure-accounting";
import { notifyDueOutboxEvents } from "../shared/outbox-due-notification";
import { addOutboxTraceContext } from "../shared/outbox-trace-context";
import { createAccounts } from "./0002_create_accounts";
import { addPaymentResultEvent } from "./0006_payment_result_event";

export const paymentsMigrations: readonly Migration[] = [createMessagingTables, createAccounts, addDeadEventsAndRetention, notifyDueOutboxEvents, addOutboxFailureAccounting, addPaymentResultEvent, addOutboxTraceContext];
