/**
 * Retention: what the outbox, the inbox and the idempotency keys keep, and for how long.
 *
 * Once per interval, one instance of the service (the one that wins the conditional update of the
 * job's row) deletes, in bounded batches that each lock little and briefly:
 * - confirmed outbox events older than `confirmedOutboxMs`;
 * - inbox ids older than `inboxMs`;
 * - idempotency keys older than `idempotencyKeysMs`;
 * and parks as dead the events still unconfirmed after `redeliveryHorizonMs`: an event is never
 * re-emitted after it (counted by the outbox mixin, which it goes with).
 *
 * The inbox must remember an id for as long as its event may be redelivered: platform/config.ts
 * refuses to start unless the inbox's retention exceeds the redelivery horizon (plus the longest
 * retry delay).
 */
import type { ServiceSchema } from "moleculer";
import { claimMaintenanceRun, deleteExpiredRows, type RetainedTable } from "./retention-sql";
import { expireStaleEvents } from "./outbox-sql";
import { PeriodicJob } from "../platform/periodic-job";
import type { DbMethods } from "./db.mixin";
import type { OutboxMethods } from "./outbox.mixin";

export interface RetentionOptions {
	intervalMs: number;
	batchSize: number;
	confirmedOutboxMs: number;
	/** How long an unconfirmed event may be re-emitted. */
	redeliveryHorizonMs: number;
	inboxMs: number;
	idempotencyKeysMs: number;
}

export interface RetentionMethods {
	/** Runs the retention job now if no other instance ran it this interval; returns what it removed. */
	runRetention(): Promise<Record<string, number> | null>;
}

interface RetentionLocalVars {
	retentionJob: PeriodicJob;
}

export function createRetentionMixin(options: RetentionOptions): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, RetentionMethods & DbMethods & Pick<OutboxMethods, "countOutbox">, RetentionLocalVars>> = {
		methods: {
			async runRetention(): Promise<Record<string, number> | null> {
				const [won] = await this.queryRows(claimMaintenanceRun("retention", options.intervalMs));
				if (!won) return null;
				const deleteAll = async (table: RetainedTable, olderThanMs: number): Promise<number> => {
					let total = 0;
					for (;;) {
						const deleted = (await this.queryRows(deleteExpiredRows(table, olderThanMs, options.batchSize))).length;
						total += deleted;
						if (deleted < options.batchSize) return total;
					}
				};
				const removed = {
					expiredEvents: (await this.queryRows(expireStaleEvents(options.redeliveryHorizonMs))).length,
					confirmedEvents: await deleteAll("outbox_events", options.confirmedOutboxMs),
					inboxEvents: await deleteAll("inbox_events", options.inboxMs),
					idempotencyKeys: await deleteAll("idempotency_keys", options.idempotencyKeysMs)
				};
				if (removed.expiredEvents > 0) {
					this.logger.error(removed, "Events unconfirmed past the redelivery horizon were parked as dead.");
					this.countOutbox("dead", removed.expiredEvents);
				} else if (Object.values(removed).some(n => n > 0)) this.logger.info(removed, "Retention removed old rows.");
				return removed;
			}
		},

		created() {
			this.retentionJob = new PeriodicJob(
				options.intervalMs,
				() => this.runRetention(),
				err => this.logger.warn("The retention job failed; it runs again next interval.", err)
			);
		},

		started() {
			this.retentionJob.start();
		},

		async stopped() {
			await this.retentionJob.stop();
		}
	};
	return schema as Partial<ServiceSchema>;
}
