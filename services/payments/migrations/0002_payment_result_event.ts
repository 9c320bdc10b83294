import type { Migration } from "../../../platform/migrate";

/**
 * Each payment decision keeps the id of the `payment.processed` event written with it, so that the
 * orders service's reconciler can apply a decision under that event's id and its real delivery
 * becomes a duplicate. NULL for decisions made before this migration.
 */
export const addPaymentResultEvent: Migration = {
	name: "payments/0002_payment_result_event",
	formerly: "0006_payment_result_event",
	up: "ALTER TABLE payment_transactions ADD COLUMN result_event_id uuid;"
};
