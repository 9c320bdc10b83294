/**
 * Client retries with an `Idempotency-Key` header: the first request's response is stored under
 * (user, key) in the same transaction as its effect, and a retry gets that response back without
 * doing anything again. A key reused for a different request is a client error (422).
 *
 * The key row is written last, so a concurrent retry that did the work too finds the key taken
 * when it inserts; it then rolls its own work back and answers with the stored response.
 */
import { createHash } from "node:crypto";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import type { Transaction } from "sequelize";
import type { RequestMeta } from "../lib/contracts";
import { insertIdempotencyRecord, selectIdempotencyRecord, type IdempotencyRecord } from "../lib/outbox-sql";
import type { DbMethods } from "./db.mixin";

export interface IdempotentResponse<TBody> {
	status: number;
	body: TBody;
	location?: string;
}

export interface IdempotencyMethods {
	/**
	 * Runs `work` in a transaction, once per idempotency key (if the request has one), and sets
	 * the HTTP status and Location of its response.
	 */
	runIdempotent<TBody>(
		ctx: Context<object, RequestMeta>,
		operation: string,
		work: (tx: Transaction) => Promise<IdempotentResponse<TBody>>
	): Promise<TBody>;
}

/** Thrown inside the transaction to roll it back when another request stored the key first. */
class IdempotencyKeyTaken extends Error {}

function requestHash(operation: string, params: object): string {
	const canonical = JSON.stringify([operation, params], (_key, value: unknown) =>
		value && typeof value === "object" && !Array.isArray(value)
			? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
			: value
	);
	return createHash("sha256").update(canonical).digest("hex");
}

function respond<TBody>(ctx: Context<object, RequestMeta>, response: IdempotentResponse<TBody>): TBody {
	ctx.meta.$statusCode = response.status;
	if (response.location) ctx.meta.$location = response.location;
	return response.body;
}

export function createIdempotencyMixin(): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, IdempotencyMethods & DbMethods>> = {
		methods: {
			async runIdempotent<TBody>(
				ctx: Context<object, RequestMeta>,
				operation: string,
				work: (tx: Transaction) => Promise<IdempotentResponse<TBody>>
			): Promise<TBody> {
				const { idempotencyKey: key, userId } = ctx.meta;
				if (!key || !userId) return respond(ctx, await this.withTransaction(work));

				const hash = requestHash(operation, ctx.params);
				const [stored] = await this.queryRows<IdempotencyRecord>(selectIdempotencyRecord(userId, key));
				if (stored) return replay(ctx, stored, operation, hash);
				try {
					const response = await this.withTransaction(async tx => {
						const result = await work(tx);
						const record: IdempotencyRecord = {
							operation,
							request_hash: hash,
							response_status: result.status,
							response_body: result.body,
							response_location: result.location ?? null
						};
						const inserted = await this.queryRows(insertIdempotencyRecord(userId, key, record), tx);
						if (inserted.length === 0) throw new IdempotencyKeyTaken();
						return result;
					});
					return respond(ctx, response);
				} catch (err) {
					if (!(err instanceof IdempotencyKeyTaken)) throw err;
					const [winner] = await this.queryRows<IdempotencyRecord>(selectIdempotencyRecord(userId, key));
					return replay(ctx, winner, operation, hash);
				}
			}
		}
	};
	return schema as Partial<ServiceSchema>;
}

function replay<TBody>(ctx: Context<object, RequestMeta>, stored: IdempotencyRecord, operation: string, hash: string): TBody {
	if (stored.operation !== operation || stored.request_hash !== hash) {
		throw new Errors.MoleculerClientError(
			"This Idempotency-Key was already used for a different request.",
			422,
			"IDEMPOTENCY_KEY_REUSED",
			{ operation: stored.operation }
		);
	}
	return respond(ctx, {
		status: stored.response_status,
		body: stored.response_body as TBody,
		location: stored.response_location ?? undefined
	});
}
