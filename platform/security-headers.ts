/**
 * Security headers for every response of the gateway and the health server (issue 15: the page,
 * `/docs` and the API had none, and the top-up and order forms could be framed by another site).
 * Set before anything else handles a request, so that errors, 404s and static files carry them
 * too. Two profiles:
 * - pages (the front end, Swagger UI and their assets): their own scripts, styles and images
 *   only, nothing inline or evaluated (both pages load all their code from files);
 * - data (the API, the OpenAPI document, health, errors): nothing to render or run at all.
 */
import type { ServerResponse } from "node:http";

const COMMON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
	"X-Content-Type-Options": "nosniff",
	// For browsers without CSP level 2's frame-ancestors.
	"X-Frame-Options": "DENY",
	"Referrer-Policy": "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin"
});

export const PAGE_CONTENT_SECURITY_POLICY = [
	"default-src 'self'",
	"script-src 'self'",
	"style-src 'self'",
	// The app's favicon is `data:,`; Swagger UI's stylesheet draws its icons as data: SVGs.
	"img-src 'self' data:",
	"connect-src 'self'",
	"object-src 'none'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'"
].join("; ");

export const DATA_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

export type SecurityProfile = "page" | "data";

/**
 * Paths whose responses are data: the API, the OpenAPI document and the probes. In any case:
 * `/API/accounts/balance` got the page profile, without `no-store` (issue 15, second attack); the
 * gateway answers such a path 404 now, and its answer is data too.
 */
const DATA_PATH = /^\/(?:api|openapi\.json|health|ready)(?:[/?]|$)/i;

export function securityProfileOf(url: string | undefined): SecurityProfile {
	return DATA_PATH.test(url ?? "") ? "data" : "page";
}

/** Each profile's headers, built once: every response sets them. */
const HEADERS_BY_PROFILE: Readonly<Record<SecurityProfile, Readonly<Record<string, string>>>> = Object.freeze({
	page: Object.freeze({ ...COMMON_HEADERS, "Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY }),
	// Per-user data must not be kept by shared caches or the browser's disk cache.
	data: Object.freeze({ ...COMMON_HEADERS, "Content-Security-Policy": DATA_CONTENT_SECURITY_POLICY, "Cache-Control": "no-store" })
});
const HEADER_ENTRIES = { page: Object.entries(HEADERS_BY_PROFILE.page), data: Object.entries(HEADERS_BY_PROFILE.data) };

export function securityHeaders(profile: SecurityProfile): Readonly<Record<string, string>> {
	return HEADERS_BY_PROFILE[profile];
}

export function setSecurityHeaders(res: ServerResponse, profile: SecurityProfile): void {
	for (const [name, value] of HEADER_ENTRIES[profile]) res.setHeader(name, value);
}
