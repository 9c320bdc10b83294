/**
 * Client retries with an `Idempotency-Key` header: the first request's response is stored under
 * (user, endpoint, key) in the same transaction as its effect, and a retry gets that response
 * back without doing anything again. The same key with a different request is a client error (422).
 *
 * Concurrent requests with one key queue on a transaction-scoped advisory lock taken before
 * anything else, so the second one finds the first one's stored response (or, if the first
 * failed and stored nothing, does the work itself). Only successes are stored. The wait is short
 * (KEY_LOCK_WAIT_MS): a request whose key stays held longer gets 409 IDEMPOTENCY_KEY_IN_USE with
 * Retry-After, rather than holding a pooled connection until the gateway's timeout answers 504.
 */
import { createHash } from "node:crypto";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import type { RequestMeta } from "../platform/identity";
import { insertIdempotencyRecord, lockIdempotencyKey, selectIdempotencyRecord, restoreLockTimeout, setLockTimeout, tryLockIdempotencyKey, type IdempotencyRecord } from "./idempotency-sql";
import { SQLSTATE, sqlStateOf } from "../platform/sql";
import type { DbMethods, DbTransaction } from "./db.mixin";

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
	runIdempotent<TBody>(ctx: Context<object, RequestMeta>, operation: string, work: (tx: DbTransaction) => Promise<IdempotentResponse<TBody>>): Promise<TBody>;
}

/** The validated params, key order aside: what makes a retry "the same request". */
function requestHash(params: object): string {
	const canonical = JSON.stringify(params, (_key, value: unknown) =>
		value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) : value
	);
	return createHash("sha256").update(canonical).digest("hex");
}

/** How long a request waits for a concurrent one with the same key, far below the gateway's 10 s call timeout. */
const KEY_LOCK_WAIT_MS = 2000;

/** `retryAfterSeconds` becomes the answer's Retry-After header (services/api/public-errors.ts). */
function keyInUse(): Errors.MoleculerClientError {
	return new Errors.MoleculerClientError("A request with this Idempotency-Key is still in progress; retry it shortly with the same key.", 409, "IDEMPOTENCY_KEY_IN_USE", { retryAfterSeconds: 1 });
}

function respond<TBody>(ctx: Context<object, RequestMeta>, response: IdempotentResponse<TBody>): TBody {
	ctx.meta.$statusCode = response.status;
	if (response.location) ctx.meta.$location = response.location;
	return response.body;
}

interface IdempotencyInternals {
	/** Waits a short while for a concurrent request with the same key; 409 past it. */
	waitForIdempotencyKey(tx: DbTransaction, userId: string, operation: string, key: string): Promise<void>;
}

export function createIdempotencyMixin(): Partial<ServiceSchema> {
	const schema: Partial<ServiceSchema<object, IdempotencyMethods & IdempotencyInternals & DbMethods>> = {
		methods: {
			async runIdempotent<TBody>(ctx: Context<object, RequestMeta>, operation: string, work: (tx: DbTransaction) => Promise<IdempotentResponse<TBody>>): Promise<TBody> {
				const { idempotencyKey: key, userId } = ctx.meta;
				if (!key || !userId) return respond(ctx, await this.withTransaction(work));

				const hash = requestHash(ctx.params);
				const response = await this.withTransaction(async tx => {
					const [{ locked }] = await this.queryRows<{ locked: boolean }>(tryLockIdempotencyKey(userId, operation, key), tx);
					if (!locked) await this.waitForIdempotencyKey(tx, userId, operation, key);
					const [stored] = await this.queryRows<IdempotencyRecord>(selectIdempotencyRecord(userId, operation, key), tx);
					if (stored) {
						if (stored.request_hash !== hash) {
							throw new Errors.MoleculerClientError("This Idempotency-Key was already used for a different request.", 422, "IDEMPOTENCY_KEY_REUSED");
						}
						return { status: stored.response_status, body: stored.response_body as TBody, location: stored.response_location ?? undefined };
					}
					const result = await work(tx);
					await this.queryRows(
						insertIdempotencyRecord(userId, operation, key, {
							request_hash: hash,
							response_status: result.status,
							response_body: result.body,
							response_location: result.location ?? null
						}),
						tx
					);
					return result;
				});
				return respond(ctx, response);
			},

			async waitForIdempotencyKey(tx: DbTransaction, userId: string, operation: string, key: string): Promise<void> {
				const [{ previous }] = await this.queryRows<{ previous: string }>(setLockTimeout(KEY_LOCK_WAIT_MS), tx);
				try {
					await this.queryRows(lockIdempotencyKey(userId, operation, key), tx);
				} catch (err) {
					if (sqlStateOf(err) === SQLSTATE.LOCK_NOT_AVAILABLE) throw keyInUse();
					throw err;
				}
				await this.queryRows(restoreLockTimeout(previous), tx);
			}
		}
	};
	return schema as Partial<ServiceSchema>;
}
