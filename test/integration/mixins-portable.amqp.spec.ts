/**
 * The mixins are portable (issue 17): a project that copies `mixins/` and `platform/` gets the
 * outbox and inbox. Proved twice: nothing the mixins import, directly or through what they import,
 * is in services/, tools/ or the broker's configuration; and two throwaway services built from the mixins alone, on Moleculer's
 * own AMQP transporter (not this project's), pass an event with the guarantee: the first delivery
 * lost, the event is re-emitted until the consumer confirms it, and applied once.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventDrivenServiceMixins, type EventDrivenServiceMethods } from "../../mixins/event-driven.mixins";
import type { EventEnvelope } from "../../mixins/messaging-contracts";
import { messagingMigrations } from "../../mixins/migrations";
import type { OutboxOptions } from "../../mixins/outbox.mixin";
import type { RetentionOptions } from "../../mixins/retention.mixin";
import { externalDatabase } from "../../platform/database";
import { PROJECT_ROOT } from "../../platform/paths";
import { dropFirstDelivery } from "../support/middlewares";
import { createTestDatabases, waitFor, type TestDatabases } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

/** Every project file `entry` imports, directly or through what it imports. */
function importClosure(entries: string[]): Set<string> {
	const seen = new Set<string>();
	const pending = [...entries];
	for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
		if (seen.has(file)) continue;
		seen.add(file);
		for (const [, specifier] of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
			const target = path.resolve(path.dirname(file), specifier);
			pending.push(...[`${target}.ts`, path.join(target, "index.ts")].filter(existsSync));
		}
	}
	return seen;
}

it("the mixins need nothing from the services, the tools or the broker's configuration, however indirectly", () => {
	const mixinsDir = path.join(PROJECT_ROOT, "mixins");
	const mixinFiles = readdirSync(mixinsDir, { recursive: true, encoding: "utf8" }).filter(name => name.endsWith(".ts"));
	const needed = [...importClosure(mixinFiles.map(name => path.join(mixinsDir, name)))].map(file => path.relative(PROJECT_ROOT, file));
	expect(needed.filter(file => !file.startsWith("mixins/") && !file.startsWith("platform/"))).toEqual([]);
	expect(needed).toContain("platform/database.ts"); // the closure is followed, not just the first step
});

interface ParcelShipped {
	parcelId: string;
}

/** What a project sets for itself (this one reads them from its environment: platform/config.ts). */
const OUTBOX: OutboxOptions = { pollIntervalMs: 200, batchSize: 100, retry: { baseMs: 200, maxMs: 1000 }, parking: { maxFailures: 10, minAgeMs: 0 } };
const HOUR_MS = 3_600_000;
const RETENTION: RetentionOptions = {
	intervalMs: 60_000,
	batchSize: 1000,
	confirmedOutboxMs: 24 * HOUR_MS,
	redeliveryHorizonMs: 72 * HOUR_MS,
	inboxMs: 168 * HOUR_MS,
	idempotencyKeysMs: 24 * HOUR_MS
};

/** A producer: ships a parcel and announces it through the outbox, in one transaction. */
function shippingService(databaseUrl: string): ServiceSchema<object, EventDrivenServiceMethods> {
	return {
		name: "shipping",
		mixins: eventDrivenServiceMixins({
			database: externalDatabase(databaseUrl),
			poolMax: 5,
			migrations: [...messagingMigrations, { name: "shipping/0001_create_parcels", up: "CREATE TABLE parcels (id text PRIMARY KEY)" }],
			outbox: OUTBOX,
			retention: RETENTION
		}),
		actions: {
			ship: {
				params: { parcelId: "string" },
				async handler(ctx: Context<ParcelShipped>) {
					return this.withTransaction(async tx => {
						await this.queryRows({ text: "INSERT INTO parcels (id) VALUES ($1::text)", values: [ctx.params.parcelId] }, tx);
						return this.addOutboxEvent<ParcelShipped>(tx, "parcel.shipped", "notifications", { parcelId: ctx.params.parcelId });
					});
				}
			}
		}
	};
}

/** A consumer: records each shipped parcel once, whatever is redelivered. */
function notificationsService(databaseUrl: string): ServiceSchema<object, EventDrivenServiceMethods> {
	return {
		name: "notifications",
		mixins: eventDrivenServiceMixins({
			database: externalDatabase(databaseUrl),
			poolMax: 5,
			migrations: [...messagingMigrations, { name: "notifications/0001_create_notices", up: "CREATE TABLE notices (parcel_id text NOT NULL, event_id uuid NOT NULL)" }],
			outbox: OUTBOX,
			retention: RETENTION
		}),
		events: {
			"parcel.shipped": {
				async handler(ctx: Context<EventEnvelope<ParcelShipped>>) {
					await this.consumeOnce<ParcelShipped>(ctx, { parcelId: "string" }, async (tx, payload, eventId) => {
						await this.queryRows({ text: "INSERT INTO notices (parcel_id, event_id) VALUES ($1::text, $2::uuid)", values: [payload.parcelId, eventId] }, tx);
					});
				}
			}
		}
	};
}

describe.skipIf(!rabbitmqUrl)("two throwaway services built from the mixins alone, over Moleculer's AMQP transporter", () => {
	let databases: TestDatabases;
	let producer: ServiceBroker;
	let consumer: ServiceBroker;
	const lostFirst = dropFirstDelivery("parcel.shipped");

	beforeAll(async () => {
		databases = await createTestDatabases(randomBytes(4).toString("hex"));
		const namespace = `test-portable-${randomBytes(4).toString("hex")}`;
		const transporter = { type: "AMQP" as const, options: { url: rabbitmqUrl!, autoDeleteQueues: 60_000 } };
		producer = new ServiceBroker({ namespace, nodeID: `shipping-${namespace}`, transporter, logger: false });
		consumer = new ServiceBroker({ namespace, nodeID: `notifications-${namespace}`, transporter, logger: false, middlewares: [lostFirst] });
		producer.createService(shippingService(databases.orders) as ServiceSchema);
		consumer.createService(notificationsService(databases.payments) as ServiceSchema);
		await Promise.all([producer.start(), consumer.start()]);
		await producer.waitForServices(["notifications"]);
	});

	afterAll(async () => {
		await Promise.all([producer?.stop(), consumer?.stop()]);
		await databases?.drop();
	});

	it("delivers an event whose first delivery is lost, applies it once, and the producer stops re-emitting it", async () => {
		const eventId = await producer.call<string, ParcelShipped>("shipping.ship", { parcelId: "parcel-1" });
		const notifications = consumer.getLocalService("notifications") as unknown as EventDrivenServiceMethods;
		const shipping = producer.getLocalService("shipping") as unknown as EventDrivenServiceMethods;
		await waitFor("the notice", async () => (await notifications.queryRows({ text: "SELECT 1 FROM notices", values: [] })).length > 0);
		expect(lostFirst.dropped.has(eventId)).toBe(true);
		await waitFor("the confirmation", async () => {
			const [row] = await shipping.queryRows<{ confirmed: boolean }>({ text: "SELECT confirmed_at IS NOT NULL AS confirmed FROM outbox_events WHERE id = $1::uuid", values: [eventId] });
			return row?.confirmed;
		});
		expect(await notifications.queryRows({ text: "SELECT parcel_id, event_id FROM notices", values: [] })).toEqual([{ parcel_id: "parcel-1", event_id: eventId }]);
	});
});
