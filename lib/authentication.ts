/**
 * Who the caller is, at the gateway. Two modes (`AUTH_MODE`):
 * - `header` (default, for development and trusted networks): the `X-User-Id` header.
 * - `jwt` (for deployment): `Authorization: Bearer <token>`, a JWT verified with `JWT_SECRET`
 *   (HMAC) or `JWT_PUBLIC_KEY` (a PEM public key; RS256 unless `JWT_ALGORITHM` says otherwise),
 *   optionally `JWT_ISSUER` and `JWT_AUDIENCE`. The user is the token's subject; a client-sent
 *   `X-User-Id` is ignored.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { importSPKI, jwtVerify, type CryptoKey } from "jose";
import { Errors } from "moleculer";
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

const invalidToken = (why: string) => new Errors.MoleculerClientError(`Invalid bearer token: ${why}`, 401, "INVALID_TOKEN");

export function authenticatorFromEnv(env: NodeJS.ProcessEnv = process.env): Authenticator {
	const mode = (env.AUTH_MODE ?? "header") as AuthMode;
	if (mode === "header") return { mode, userIdOf: async req => headerValue(req, "x-user-id") };
	if (mode !== "jwt") throw new Error(`AUTH_MODE must be "header" or "jwt", not "${mode}".`);

	const { JWT_SECRET: secret, JWT_PUBLIC_KEY: publicKey } = env;
	if (!secret === !publicKey) throw new Error("AUTH_MODE=jwt needs exactly one of JWT_SECRET and JWT_PUBLIC_KEY.");
	const algorithm = env.JWT_ALGORITHM ?? (secret ? "HS256" : "RS256");
	const key: Promise<KeyObject | CryptoKey> = secret ? Promise.resolve(createSecretKey(Buffer.from(secret, "utf8"))) : importSPKI(publicKey!.replace(/\\n/g, "\n"), algorithm);
	const verifyOptions = { algorithms: [algorithm], issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, clockTolerance: 30 };

	return {
		mode,
		async userIdOf(req) {
			const authorization = headerValue(req, "authorization");
			if (authorization === undefined) return undefined;
			const [scheme, token] = authorization.split(" ");
			if (scheme?.toLowerCase() !== "bearer" || !token) throw invalidToken("expected 'Authorization: Bearer <token>'");
			let subject: string | undefined;
			try {
				subject = (await jwtVerify(token, await key, verifyOptions)).payload.sub;
			} catch (err) {
				throw invalidToken((err as Error).message);
			}
			if (!subject || !USER_ID_PATTERN.test(subject)) throw invalidToken("its subject is not a valid user id");
			return subject;
		}
	};
}
