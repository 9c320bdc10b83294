/**
 * The outbox's and the inbox's own Prometheus metrics, labelled by service. They sit beside
 * Moleculer's built-in ones when metrics are on (METRICS_PORT), and cost nothing when off.
 */
import type { ServiceBroker } from "moleculer";

export const MESSAGING_METRICS = Object.freeze({
	OUTBOX_PENDING: "outbox.pending",
	OUTBOX_OLDEST_PENDING_AGE: "outbox.oldest.pending.age.seconds",
	OUTBOX_EMITTED: "outbox.emitted.total",
	OUTBOX_REEMITTED: "outbox.reemitted.total",
	OUTBOX_CONFIRMED: "outbox.confirmed.total",
	OUTBOX_DEAD: "outbox.dead.total",
	OUTBOX_DEAD_PARKED: "outbox.dead",
	INBOX_APPLIED: "inbox.applied.total",
	INBOX_DUPLICATES_SKIPPED: "inbox.duplicates.skipped.total"
});

const DEFINITIONS = [
	{ name: MESSAGING_METRICS.OUTBOX_PENDING, type: "gauge", description: "Outbox events not yet confirmed by their consumer" },
	{ name: MESSAGING_METRICS.OUTBOX_OLDEST_PENDING_AGE, type: "gauge", description: "Age of the oldest unconfirmed outbox event" },
	{ name: MESSAGING_METRICS.OUTBOX_EMITTED, type: "counter", description: "Outbox events emitted (first emits and re-emits)" },
	{ name: MESSAGING_METRICS.OUTBOX_REEMITTED, type: "counter", description: "Outbox events emitted again because no confirmation came" },
	{ name: MESSAGING_METRICS.OUTBOX_CONFIRMED, type: "counter", description: "Outbox events confirmed by their consumer" },
	{ name: MESSAGING_METRICS.OUTBOX_DEAD, type: "counter", description: "Outbox events parked as dead (rejected for good or too often)" },
	{ name: MESSAGING_METRICS.OUTBOX_DEAD_PARKED, type: "gauge", description: "Outbox events parked as dead now, waiting for a replay" },
	{ name: MESSAGING_METRICS.INBOX_APPLIED, type: "counter", description: "Incoming events applied" },
	{ name: MESSAGING_METRICS.INBOX_DUPLICATES_SKIPPED, type: "counter", description: "Incoming events skipped as already applied" }
] as const;

export interface MetricDefinition {
	name: string;
	type: "gauge" | "counter";
	description: string;
	/** Besides `service`, which every metric of ours has. */
	extraLabels?: readonly string[];
}

/** Registers metrics once per broker (several mixins and services may ask for the same ones). */
export function registerMetrics(broker: ServiceBroker, definitions: readonly MetricDefinition[]): void {
	if (!broker.isMetricsEnabled()) return;
	for (const { extraLabels = [], ...definition } of definitions) {
		if (broker.metrics.hasMetric(definition.name)) continue;
		const labelNames = ["service", ...extraLabels];
		if (definition.type === "gauge") broker.metrics.register({ ...definition, type: "gauge", labelNames });
		else broker.metrics.register({ ...definition, type: "counter", labelNames });
	}
}

/** Registers the outbox's and the inbox's metrics (both mixins call it; either may come first). */
export function registerMessagingMetrics(broker: ServiceBroker): void {
	registerMetrics(broker, DEFINITIONS);
}
