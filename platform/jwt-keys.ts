/**
 * The key that verifies the gateway's JWTs, checked at start (platform/config.ts): `JWT_SECRET` for
 * an HMAC algorithm, `JWT_PUBLIC_KEY` (a PEM public key) for the others.
 *
 * Issue 15: `JWT_SECRET=x` started; so did an RSA key for ES256, an EC or Ed25519 key for RS256 and a
 * private key as JWT_PUBLIC_KEY. Weak keys, keys that do not fit the algorithm and private keys
 * now refuse to start.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from "node:crypto";

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

export function secretKey(secret: string, algorithm: string): KeyObject {
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

export function publicKey(rawPem: string, algorithm: string): KeyObject {
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
		// One line: the start stops with it.
		throw new Error(`JWT_PUBLIC_KEY is not a PEM public key: ${(err as Error).message.split("\n")[0]}`);
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
