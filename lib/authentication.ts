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
 */
import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { jwtVerify, type JWTPayload } from "jose";
import { Errors } from "moleculer";
import { positiveInteger } from "./env";
import { USER_ID_PATTERN } from "./identity";

export type AuthMode = "header" | "jwt";

export interface Authenticator {
	mode: AuthMode;
	/** The caller's user id, or undefined when the request names none (a 401 for the caller). */
	userIdOf(req: IncomingMessage): Promise<string | undefined>;
}

/** A request header's value (the first, if repeated). */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
	const value = req.headers[name];
	return Array.isArray(value) ? value[0] : value;
}

/** RFC 7518: an HMAC key at least as long as the hash's output (and never under 32 bytes). */
const HMAC_KEY_BYTES: ReadonlyMap<string, number> = new Map([
	["HS256", 32],
	["HS384", 48],
	["HS512", 64]
]);
const PUBLIC_KEY_ALGORITHMS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]);
const MIN_RSA_MODULUS_BITS = 2048;
const CLOCK_TOLERANCE_SECONDS = 30;
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

function publicKey(pem: string, algorithm: string): KeyObject {
	if (!PUBLIC_KEY_ALGORITHMS.has(algorithm)) throw new Error(`JWT_ALGORITHM must be one of ${[...PUBLIC_KEY_ALGORITHMS].join(", ")} with JWT_PUBLIC_KEY, not "${algorithm}".`);
	let key: KeyObject;
	try {
		// Environment files often carry a PEM on one line with literal \n.
		key = createPublicKey(pem.replace(/\\n/g, "\n"));
	} catch (err) {
		throw new Error(`JWT_PUBLIC_KEY is not a PEM public key: ${(err as Error).message}`);
	}
	const type = key.asymmetricKeyType;
	const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
	if ((type === "rsa" || type === "rsa-pss") && bits < MIN_RSA_MODULUS_BITS) {
		throw new Error(`JWT_PUBLIC_KEY is a ${bits}-bit RSA key; at least ${MIN_RSA_MODULUS_BITS} bits are required.`);
	}
	return key;
}

/** The verified subject, if the payload's claims are acceptable; throws a 401 error otherwise. */
function subjectOf(payload: JWTPayload, maxLifetimeSeconds: number): string {
	const { sub, exp, iat } = payload;
	// jwtVerify has checked that `exp` is present and a number, and `iat` a number if present.
	const now = Math.floor(Date.now() / 1000);
	if (exp! - now > maxLifetimeSeconds + CLOCK_TOLERANCE_SECONDS || (iat !== undefined && exp! - iat > maxLifetimeSeconds)) {
		throw invalidToken(`it is valid for longer than the ${maxLifetimeSeconds} s allowed`);
	}
	if (typeof sub !== "string" || !USER_ID_PATTERN.test(sub)) throw invalidToken("its subject is not a valid user id");
	return sub;
}

export function authenticatorFromEnv(env: NodeJS.ProcessEnv = process.env): Authenticator {
	const mode = (env.AUTH_MODE ?? "header") as AuthMode;
	if (mode === "header") return { mode, userIdOf: async req => headerValue(req, "x-user-id") };
	if (mode !== "jwt") throw new Error(`AUTH_MODE must be "header" or "jwt", not "${mode}".`);

	// Empty counts as unset: docker-compose.yml passes both through, empty unless given.
	const secret = env.JWT_SECRET || undefined;
	const pem = env.JWT_PUBLIC_KEY || undefined;
	if (!secret === !pem) throw new Error("AUTH_MODE=jwt needs exactly one of JWT_SECRET and JWT_PUBLIC_KEY.");
	const algorithm = env.JWT_ALGORITHM ?? (secret ? "HS256" : "RS256");
	const key = secret ? secretKey(secret, algorithm) : publicKey(pem!, algorithm);
	const maxLifetimeSeconds = positiveInteger(env, "JWT_MAX_TOKEN_LIFETIME_SECONDS", 86_400);
	const verifyOptions = {
		algorithms: [algorithm],
		issuer: env.JWT_ISSUER || undefined,
		audience: env.JWT_AUDIENCE || undefined,
		clockTolerance: CLOCK_TOLERANCE_SECONDS,
		requiredClaims: ["exp", "sub"]
	};

	return {
		mode,
		async userIdOf(req) {
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
			return subjectOf(payload, maxLifetimeSeconds);
		}
	};
}
