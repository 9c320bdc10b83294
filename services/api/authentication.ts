/**
 * Who the caller is, at the gateway. Two modes (`AUTH_MODE`):
 * - `header` (default, for development and trusted networks): the `X-User-Id` header, trusted as
 *   sent: anyone who can reach the gateway can act as any user.
 * - `jwt` (for deployment): `Authorization: Bearer <token>`, a JWT verified with `JWT_SECRET`
 *   (HMAC) or `JWT_PUBLIC_KEY` (a PEM public key; RS256 unless `JWT_ALGORITHM` says otherwise),
 *   optionally `JWT_ISSUER` and `JWT_AUDIENCE`. The user is the token's subject, which must be a
 *   valid user id as in header mode; a client-sent `X-User-Id` is ignored.
 *
 * Issue 15: a subject that was a number, an array or an object passed (its string form was
 * tested), tokens without `exp` never expired, `Bearer <token> junk` was accepted and `JWT_SECRET=x`
 * started. A token now needs `exp`, within `JWT_MAX_TOKEN_LIFETIME_SECONDS`; the header is exactly
 * `Bearer <token>`; weak keys refuse to start.
 *
 * Second attack: an RSA key for ES256, an EC or Ed25519 key for RS256, a private key as
 * JWT_PUBLIC_KEY and a maximum lifetime of 31,000 years all started; a repeated Authorization
 * header counted as its first. The key must fit the algorithm, a private key is refused, the
 * lifetime is capped at 30 days, and a header sent twice is 400. The caller comes with the moment
 * its token stops being accepted, when the gateway ends its event streams.
 *
 * Issue 16: a caller may be an operator, who may use the `/api/admin` routes. Header mode: the user
 * ids listed in `ADMIN_USER_IDS`; JWT mode: the claim named by `JWT_ROLE_CLAIM` (default `roles`, a
 * string or an array of strings) contains `JWT_ADMIN_ROLE` (default `admin`). A malformed entry of
 * `ADMIN_USER_IDS` refuses to start: a typo must not silently leave an operator out (or in).
 *
 * The settings are read and checked at start by platform/config.ts, the key by platform/jwt-keys.ts.
 */
import type { IncomingMessage } from "node:http";
import { jwtVerify, type JWTPayload } from "jose";
import { Errors } from "moleculer";
import type { AuthenticationSettings, AuthMode } from "../../platform/config";
import { USER_ID_PATTERN } from "../../platform/identity";

export interface Caller {
	/** As claimed: the gateway checks it (header mode trusts an unchecked header). */
	userId: string;
	/** When the caller's token stops being accepted (ms since the epoch): its `exp` plus the clock tolerance. */
	acceptedUntil?: number;
	/** Whether the caller may use the operator routes (`/api/admin`). */
	operator: boolean;
}

export interface Authenticator {
	mode: AuthMode;
	/** What the configuration allows that its operator may not expect; the gateway logs them at start. */
	warnings?: readonly string[];
	/** The caller, or undefined when the request names none (a 401 for the caller). */
	callerOf(req: IncomingMessage): Promise<Caller | undefined>;
}

/**
 * A request header's value; a header sent more than once is a 400 error. Node keeps only the
 * first of a repeated Authorization header, and a proxy may read the last one.
 */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
	const values = req.headersDistinct[name];
	if (values !== undefined && values.length > 1) {
		throw new Errors.MoleculerClientError(`The ${name} header must be sent once.`, 400, "DUPLICATE_HEADER");
	}
	return values?.[0];
}

const CLOCK_TOLERANCE_SECONDS = 30;
/** The scheme is case-insensitive (RFC 9110 §11.1); the token is one compact JWS, nothing after it. */
const BEARER_HEADER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

const invalidToken = (why: string) => new Errors.MoleculerClientError(`Invalid bearer token: ${why}`, 401, "INVALID_TOKEN");

/** Whether a token's role claim (a string or an array of strings) names the operator role. */
function hasRole(claim: unknown, role: string): boolean {
	return claim === role || (Array.isArray(claim) && claim.includes(role));
}

/** The verified caller, if the payload's claims are acceptable; throws a 401 error otherwise. */
function callerOf(payload: JWTPayload, maxLifetimeSeconds: number, roles: { claim: string; admin: string }): Caller {
	const { sub, exp, iat } = payload;
	// jwtVerify has checked that `exp` is present and a number, and `iat` a number if present.
	const now = Math.floor(Date.now() / 1000);
	if (exp! - now > maxLifetimeSeconds + CLOCK_TOLERANCE_SECONDS || (iat !== undefined && exp! - iat > maxLifetimeSeconds)) {
		throw invalidToken(`it is valid for longer than the ${maxLifetimeSeconds} s allowed`);
	}
	if (typeof sub !== "string" || !USER_ID_PATTERN.test(sub)) throw invalidToken("its subject is not a valid user id");
	return { userId: sub, acceptedUntil: (exp! + CLOCK_TOLERANCE_SECONDS) * 1000, operator: Object.hasOwn(payload, roles.claim) && hasRole(payload[roles.claim], roles.admin) };
}

/** The gateway's authenticator for the configured mode (settings checked by platform/config.ts). */
export function createAuthenticator({ mode, adminUserIds, jwt }: AuthenticationSettings): Authenticator {
	if (jwt === null) {
		const operators: ReadonlySet<string> = new Set(adminUserIds);
		return {
			mode,
			warnings:
				operators.size > 0
					? [
							`AUTH_MODE=header with ADMIN_USER_IDS: anyone who can reach the gateway is an operator by sending 'X-User-Id: ${adminUserIds[0]}' (and can replay dead events); use AUTH_MODE=jwt wherever others can reach it.`
						]
					: [],
			async callerOf(req) {
				const userId = headerValue(req, "x-user-id");
				return userId === undefined ? undefined : { userId, operator: operators.has(userId) };
			}
		};
	}
	const { key, maxTokenLifetimeSeconds: maxLifetimeSeconds } = jwt;
	const verifyOptions = {
		algorithms: [jwt.algorithm],
		issuer: jwt.issuer ?? undefined,
		audience: jwt.audience ?? undefined,
		clockTolerance: CLOCK_TOLERANCE_SECONDS,
		requiredClaims: ["exp", "sub"]
	};
	const roles = { claim: jwt.roleClaim, admin: jwt.adminRole };

	return {
		mode,
		// Set for header mode, it would silently make nobody an operator here.
		warnings: adminUserIds.length > 0 ? [`ADMIN_USER_IDS is ignored with AUTH_MODE=jwt: operators are the tokens whose "${roles.claim}" claim holds "${roles.admin}".`] : [],
		async callerOf(req) {
			const authorization = headerValue(req, "authorization");
			if (authorization === undefined) return undefined;
			const token = BEARER_HEADER.exec(authorization)?.[1];
			if (token === undefined) throw invalidToken("expected exactly 'Authorization: Bearer <token>'");
			let payload: JWTPayload;
			try {
				payload = (await jwtVerify(token, key, verifyOptions)).payload;
			} catch (err) {
				throw invalidToken((err as Error).message);
			}
			return callerOf(payload, maxLifetimeSeconds, roles);
		}
	};
}
