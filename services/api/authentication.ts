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
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { jwtVerify, type JWTPayload } from "jose";
import { Errors } from "moleculer";
import { positiveInteger } from "../../platform/config";
import { USER_ID_PATTERN } from "../../platform/identity";

export type AuthMode = "header" | "jwt";

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

/** RFC 7518: an HMAC key at least as long as the hash's output (and never under 32 bytes). */
const HMAC_KEY_BYTES: ReadonlyMap<string, number> = new Map([
	["HS256", 32],
	["HS384", 48],
	["HS512", 64]
]);
/** The key each public-key algorithm verifies with (RFC 7518 §3.3-3.5, RFC 8037): its types, and an EC key's curve. */
const PUBLIC_KEY_OF_ALGORITHM: ReadonlyMap<string, { types: readonly string[]; curve?: string }> = new Map<string, { types: readonly string[]; curve?: string }>([
	...["RS256", "RS384", "RS512"].map(algorithm => [algorithm, { types: ["rsa"] }] as const),
	...["PS256", "PS384", "PS512"].map(algorithm => [algorithm, { types: ["rsa", "rsa-pss"] }] as const),
	["ES256", { types: ["ec"], curve: "prime256v1" }],
	["ES384", { types: ["ec"], curve: "secp384r1" }],
	["ES512", { types: ["ec"], curve: "secp521r1" }],
	["EdDSA", { types: ["ed25519"] }]
]);
const MIN_RSA_MODULUS_BITS = 2048;
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_TOKEN_LIFETIME_LIMIT_SECONDS = 30 * 86_400;
/** The scheme is case-insensitive (RFC 9110 §11.1); the token is one compact JWS, nothing after it. */
const BEARER_HEADER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

const invalidToken = (why: string) => new Errors.MoleculerClientError(`Invalid bearer token: ${why}`, 401, "INVALID_TOKEN");

function secretKey(secret: string, algorithm: string): KeyObject {
	const minimum = HMAC_KEY_BYTES.get(algorithm);
	if (minimum === undefined) throw new Error(`JWT_ALGORITHM must be one of ${[...HMAC_KEY_BYTES.keys()].join(", ")} with JWT_SECRET, not "${algorithm}".`);
	const bytes = Buffer.from(secret, "utf8");
	if (bytes.length < minimum) throw new Error(`JWT_SECRET must be at least ${minimum} bytes for ${algorithm} (it has ${bytes.length}); use a random one, e.g. \`openssl rand -base64 48\`.`);
	return createSecretKey(bytes);
}

function isPrivateKey(pem: string): boolean {
	try {
		createPrivateKey(pem);
		return true;
	} catch {
		return false;
	}
}

function publicKey(rawPem: string, algorithm: string): KeyObject {
	const wanted = PUBLIC_KEY_OF_ALGORITHM.get(algorithm);
	if (wanted === undefined) throw new Error(`JWT_ALGORITHM must be one of ${[...PUBLIC_KEY_OF_ALGORITHM.keys()].join(", ")} with JWT_PUBLIC_KEY, not "${algorithm}".`);
	// Environment files often carry a PEM on one line with literal \n.
	const pem = rawPem.replace(/\\n/g, "\n");
	// createPublicKey would take it and derive the public key: the secret would sit where it does not belong.
	if (isPrivateKey(pem)) throw new Error("JWT_PUBLIC_KEY holds a private key: give the gateway the public key only.");
	let key: KeyObject;
	try {
		key = createPublicKey(pem);
	} catch (err) {
		throw new Error(`JWT_PUBLIC_KEY is not a PEM public key: ${(err as Error).message}`);
	}
	const type = key.asymmetricKeyType ?? "unknown";
	const curve = key.asymmetricKeyDetails?.namedCurve;
	if (!wanted.types.includes(type) || (wanted.curve !== undefined && curve !== wanted.curve)) {
		const needed = `${wanted.types.join(" or ")}${wanted.curve ? ` (${wanted.curve})` : ""}`;
		throw new Error(`JWT_PUBLIC_KEY is a ${type}${curve ? ` (${curve})` : ""} key; ${algorithm} needs a ${needed} key.`);
	}
	const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
	if (type.startsWith("rsa") && bits < MIN_RSA_MODULUS_BITS) {
		throw new Error(`JWT_PUBLIC_KEY is a ${bits}-bit RSA key; at least ${MIN_RSA_MODULUS_BITS} bits are required.`);
	}
	return key;
}

/** Whether a token's role claim (a string or an array of strings) names the operator role. */
function hasRole(claim: unknown, role: string): boolean {
	return claim === role || (Array.isArray(claim) && claim.includes(role));
}

/** `ADMIN_USER_IDS`: comma-separated user ids, spaces around them ignored; anything malformed stops the start. */
export function adminUserIdsFromEnv(env: NodeJS.ProcessEnv): ReadonlySet<string> {
	const raw = env.ADMIN_USER_IDS?.trim() ?? "";
	if (raw === "") return new Set();
	const ids = raw.split(",").map(id => id.trim());
	const invalid = ids.find(id => !USER_ID_PATTERN.test(id));
	if (invalid !== undefined) {
		throw new Error(`ADMIN_USER_IDS must be comma-separated user ids (1-64 characters of A-Z a-z 0-9 . _ : @ -); "${invalid.slice(0, 80)}" is not one.`);
	}
	return new Set(ids);
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

export function authenticatorFromEnv(env: NodeJS.ProcessEnv = process.env): Authenticator {
	const mode = (env.AUTH_MODE ?? "header") as AuthMode;
	if (mode === "header") {
		const adminUserIds = adminUserIdsFromEnv(env);
		return {
			mode,
			warnings:
				adminUserIds.size > 0
					? [`AUTH_MODE=header with ADMIN_USER_IDS: anyone who can reach the gateway is an operator by sending 'X-User-Id: ${[...adminUserIds][0]}' (and can replay dead events); use AUTH_MODE=jwt wherever others can reach it.`]
					: [],
			async callerOf(req) {
				const userId = headerValue(req, "x-user-id");
				return userId === undefined ? undefined : { userId, operator: adminUserIds.has(userId) };
			}
		};
	}
	if (mode !== "jwt") throw new Error(`AUTH_MODE must be "header" or "jwt", not "${mode}".`);

	// Empty counts as unset: docker-compose.yml passes both through, empty unless given.
	const secret = env.JWT_SECRET || undefined;
	const pem = env.JWT_PUBLIC_KEY || undefined;
	if (!secret === !pem) throw new Error("AUTH_MODE=jwt needs exactly one of JWT_SECRET and JWT_PUBLIC_KEY.");
	const algorithm = env.JWT_ALGORITHM ?? (secret ? "HS256" : "RS256");
	const key = secret ? secretKey(secret, algorithm) : publicKey(pem!, algorithm);
	const maxLifetimeSeconds = positiveInteger(env, "JWT_MAX_TOKEN_LIFETIME_SECONDS", 86_400);
	if (maxLifetimeSeconds > MAX_TOKEN_LIFETIME_LIMIT_SECONDS) {
		throw new Error(`JWT_MAX_TOKEN_LIFETIME_SECONDS may be ${MAX_TOKEN_LIFETIME_LIMIT_SECONDS} (30 days) at most: a leaked token is valid that long.`);
	}
	const verifyOptions = {
		algorithms: [algorithm],
		issuer: env.JWT_ISSUER || undefined,
		audience: env.JWT_AUDIENCE || undefined,
		clockTolerance: CLOCK_TOLERANCE_SECONDS,
		requiredClaims: ["exp", "sub"]
	};
	const roles = { claim: env.JWT_ROLE_CLAIM || "roles", admin: env.JWT_ADMIN_ROLE || "admin" };

	return {
		mode,
		// Set for header mode, it would silently make nobody an operator here.
		warnings: env.ADMIN_USER_IDS?.trim() ? [`ADMIN_USER_IDS is ignored with AUTH_MODE=jwt: operators are the tokens whose "${roles.claim}" claim holds "${roles.admin}".`] : [],
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
