/**
 * Who is calling. The gateway takes the user from the `X-User-Id` header and puts it in
 * `ctx.meta.userId`; every user-facing action reads it from there, never from params, so a body
 * can never name another user.
 */
import { Errors, type Context } from "moleculer";

export const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,64}$/;

export function requireUserId(ctx: Context<unknown, RequestMeta>): string {
	const userId = ctx.meta.userId;
	if (userId === undefined) {
		throw new Errors.MoleculerClientError("The X-User-Id header is required.", 401, "NO_USER_ID");
	}
	if (!USER_ID_PATTERN.test(userId)) {
		throw new Errors.MoleculerClientError("The X-User-Id header must be 1-64 characters of A-Z a-z 0-9 . _ : @ -", 400, "INVALID_USER_ID");
	}
	return userId;
}

/** Request meta set by the gateway (or by hand in the REPL: `call orders.list --#userId alice`). */
export interface RequestMeta {
	userId?: string;
	/** The caller may use the operator routes (set by the gateway, services/api/authentication.ts). */
	operator?: boolean;
	idempotencyKey?: string;
	$statusCode?: number;
	$location?: string;
}
