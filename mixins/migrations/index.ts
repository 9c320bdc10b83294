/**
 * The outbox's and inbox's tables, in order. Every service that uses the mixins applies them before
 * its own migrations (services/<service>/migrations/index.ts).
 */
import type { Migration } from "../../platform/migrate";
import { createMessagingTables } from "./0001_create_messaging_tables";
import { addDeadEventsAndRetention } from "./0002_dead_events_and_retention";
import { notifyDueOutboxEvents } from "./0003_notify_due_outbox_events";
import { addOutboxFailureAccounting } from "./0004_outbox_failure_accounting";
import { addOutboxTraceContext } from "./0005_outbox_trace_context";

export const messagingMigrations: readonly Migration[] = [createMessagingTables, addDeadEventsAndRetention, notifyDueOutboxEvents, addOutboxFailureAccounting, addOutboxTraceContext];
