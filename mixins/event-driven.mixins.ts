import type { ServiceSchema } from "moleculer";
import { createDbMixin, type DbMethods, type DbMixinOptions } from "./db.mixin";
import { createIdempotencyMixin, type IdempotencyMethods } from "./idempotency.mixin";
import { createInboxMixin, type InboxMethods } from "./inbox.mixin";
import { createOutboxMixin, type OutboxMethods, type OutboxOptions } from "./outbox.mixin";
import { createRetentionMixin, type RetentionMethods, type RetentionOptions } from "./retention.mixin";

/** What those mixins add to `this`. */
export type EventDrivenServiceMethods = DbMethods & OutboxMethods & InboxMethods & IdempotencyMethods & RetentionMethods;

export interface EventDrivenServiceOptions extends DbMixinOptions {
	outbox: OutboxOptions;
	retention: RetentionOptions;
}

/**
 * The mixins of a service that owns a database and exchanges events through outbox and inbox.
 * Moleculer starts the last-listed mixin first and stops it last, so the database is listed last:
 * it is connected and migrated before the relay's first round and closed after its last.
 */
export function eventDrivenServiceMixins({ outbox, retention, ...database }: EventDrivenServiceOptions): Partial<ServiceSchema>[] {
	return [createRetentionMixin(retention), createOutboxMixin(outbox), createInboxMixin(), createIdempotencyMixin(), createDbMixin(database)];
}
