/** What a client is told about an error (services/api/public-errors.ts, issue 15). */
import { Errors } from "moleculer";
import { describe, expect, it } from "vitest";
import { MAX_ERROR_TEXT_LENGTH, MAX_FIELD_ERRORS, RETRY_AFTER_SECONDS, toPublicError } from "../../services/api/public-errors";

describe("toPublicError", () => {
	it("answers a call that timed out with 504 that says it may have been applied, and no Retry-After (issue 15, second attack)", () => {
		const answer = toPublicError(new Errors.RequestTimeoutError({ action: "payments.topUp", nodeID: "node-1" }));
		expect(answer.status).toBe(504);
		expect(answer.headers).toEqual({});
		expect(answer.body).toMatchObject({ code: 504, type: "GATEWAY_TIMEOUT", message: expect.stringMatching(/may still have been applied.*same Idempotency-Key/) });
		expect(JSON.stringify(answer.body)).not.toMatch(/node-1|payments/);
	});

	it("still answers an outage with a retryable 503", () => {
		const answer = toPublicError(new Errors.ServiceNotAvailableError({ action: "payments.topUp", nodeID: "node-1" }));
		expect(answer.status).toBe(503);
		expect(answer.headers).toEqual({ "Retry-After": String(RETRY_AFTER_SECONDS) });
	});

	it("bounds what a validation error repeats of the request: its texts, its field errors, no structures (issue 15, second attack)", () => {
		const huge = "0, ".repeat(300_000);
		const fields = Array.from({ length: 5000 }, (_, i) => ({ type: "forbidden", field: `${i}`, message: huge, actual: [1, 2, 3], expected: huge, nodeID: "n" }));
		const answer = toPublicError(new Errors.ValidationError(huge, "VALIDATION_ERROR", fields));
		expect(answer.status).toBe(422);
		expect(answer.body.message.length).toBeLessThanOrEqual(MAX_ERROR_TEXT_LENGTH + 1);
		expect(answer.body.data).toHaveLength(MAX_FIELD_ERRORS);
		expect(answer.body.data![0]).toEqual({ type: "forbidden", field: "0", message: `${huge.slice(0, MAX_ERROR_TEXT_LENGTH)}…`, expected: `${huge.slice(0, MAX_ERROR_TEXT_LENGTH)}…` });
		expect(JSON.stringify(answer.body).length).toBeLessThan(20_000);
	});

	it("keeps short field errors as they are", () => {
		const answer = toPublicError(
			new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
				{ type: "number", field: "amount", message: "The 'amount' field must be a number.", actual: "x", expected: 5 }
			])
		);
		expect(answer.body.data).toEqual([{ type: "number", field: "amount", message: "The 'amount' field must be a number.", actual: "x", expected: 5 }]);
	});
});
