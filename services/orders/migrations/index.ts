/** The orders database's migrations, in order: the outbox's and inbox's, then the service's own. */
import type { Migration } from "../../../platform/migrate";
import { messagingMigrations } from "../../../mixins/migrations";
import { createOrders } from "./0001_create_orders";
import { addOrderReconciliation } from "./0002_order_reconciliation";
import { addOrderCancellation } from "./0003_order_cancellation";

export const ordersMigrations: readonly Migration[] = [...messagingMigrations, createOrders, addOrderReconciliation, addOrderCancellation];
