/** Who is an operator (issue 16): ADMIN_USER_IDS in header mode, a role claim in JWT mode. */
import type { IncomingMessage } from "node:http";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { authenticatorFor } from "../support/configuration";

const SECRET = "a-test-secret-of-reasonable-length";
const request = (headers: Record<string, string>) => ({ headersDistinct: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])) }) as unknown as IncomingMessage;
const bearer = async (claims: Record<string, unknown>) => ({
	authorization: `Bearer ${await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET))}`
});

describe("operators in header mode", () => {
	it("are the user ids listed in ADMIN_USER_IDS, spaces around them ignored", async () => {
		const authenticator = authenticatorFor({ ADMIN_USER_IDS: " ops ,root@example" });
		expect(await authenticator.callerOf(request({ "x-user-id": "ops" }))).toEqual({ userId: "ops", operator: true });
		expect(await authenticator.callerOf(request({ "x-user-id": "root@example" }))).toMatchObject({ operator: true });
		expect(await authenticator.callerOf(request({ "x-user-id": "Ops" }))).toMatchObject({ operator: false });
		expect(await authenticatorFor({}).callerOf(request({ "x-user-id": "ops" }))).toMatchObject({ operator: false });
	});

	it("warns at start that listed operators are trusted as sent, as every header-mode caller is (attack on issue 16)", () => {
		expect(authenticatorFor({ ADMIN_USER_IDS: "ops" }).warnings).toEqual([expect.stringMatching(/anyone who can reach the gateway is an operator by sending 'X-User-Id: ops'/)]);
		expect(authenticatorFor({}).warnings).toEqual([]);
	});

	it("refuses to start with an entry that is not a user id", () => {
		for (const value of ["ops,,root", "ops;root", "ops,", "a b", "x".repeat(65)]) {
			expect(() => authenticatorFor({ ADMIN_USER_IDS: value }), value).toThrow(/ADMIN_USER_IDS must be comma-separated user ids/);
		}
	});
});

describe("operators in JWT mode", () => {
	it("carry the admin role in the role claim, as a string or in an array of strings", async () => {
		const authenticator = authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET });
		const operator = async (claims: Record<string, unknown>) => (await authenticator.callerOf(request(await bearer(claims))))?.operator;
		expect(await operator({ roles: "admin" })).toBe(true);
		expect(await operator({ roles: ["reader", "admin"] })).toBe(true);
		expect(await operator({})).toBe(false);
		expect(await operator({ roles: ["administrator"] })).toBe(false);
		expect(await operator({ roles: { admin: true } })).toBe(false);
		expect(await operator({ roles: [["admin"]] })).toBe(false);
		expect(await operator({ role: "admin" })).toBe(false);
	});

	it("read the claim and the role named by JWT_ROLE_CLAIM and JWT_ADMIN_ROLE, and ignore ADMIN_USER_IDS", async () => {
		const authenticator = authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET, JWT_ROLE_CLAIM: "groups", JWT_ADMIN_ROLE: "ops", ADMIN_USER_IDS: "alice" });
		const operator = async (claims: Record<string, unknown>) => (await authenticator.callerOf(request(await bearer(claims))))?.operator;
		expect(await operator({ groups: ["ops"] })).toBe(true);
		expect(await operator({ roles: ["admin"] })).toBe(false);
		expect(await operator({})).toBe(false);
		// Said at start: set for header mode, ADMIN_USER_IDS would silently make nobody an operator.
		expect(authenticator.warnings).toEqual([expect.stringMatching(/ADMIN_USER_IDS is ignored with AUTH_MODE=jwt: operators are the tokens whose "groups" claim holds "ops"/)]);
		expect(authenticatorFor({ AUTH_MODE: "jwt", JWT_SECRET: SECRET }).warnings).toEqual([]);
	});
});
