/** The orders database's migrations, in order. */
import type { Migration } from "../../lib/migrate";
import { addDeadEventsAndRetention } from "../shared/dead-events-and-retention";
import { createMessagingTables } from "../shared/messaging";
import { addOutboxFailureAccounting } from "../shared/outbox-failure-accounting";
import { notifyDueOutboxEvents } from "../shared/outbox-due-notification";
import { addOutboxTraceContext } from "../shared/outbox-trace-context";
import { createOrders } from "./0002_create_orders";
import { addOrderReconciliation } from "./0006_order_reconciliation";

export const ordersMigrations: readonly Migration[] = [createMessagingTables, createOrders, addDeadEventsAndRetention, notifyDueOutboxEvents, addOutboxFailureAccounting, addOrderReconciliation, addOutboxTraceContext];
