import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NO_ACCOUNT_MESSAGE, RETRY_DELAY_MS, UNREACHABLE_MESSAGE, createApiClient } from "./api";
import { errorResponse, jsonResponse, makeAccount, makeOrder, mockFetch, validationError } from "./test/fakeServer";

async function failureOf(promise: Promise<unknown>): Promise<ApiError> {
	const error = await promise.then(
		() => undefined,
		(failure: unknown) => failure
	);
	expect(error).toBeInstanceOf(ApiError);
	return error as ApiError;
}

describe("createApiClient", () => {
	afterEach(() => vi.useRealTimers());

	it("names the user on every request and sends JSON bodies", async () => {
		const { requests } = mockFetch({
			"POST /api/orders": () => jsonResponse(makeOrder({ id: "o1" }), 201),
			"GET /api/orders": () => jsonResponse([])
		});
		const api = createApiClient("alice@example");
		await api.placeOrder({ amount: 12.5, description: "A book" });
		await api.listOrders();
		expect(requests.map(request => `${request.method} ${request.url}`)).toEqual(["POST /api/orders", "GET /api/orders?limit=50"]);
		expect(requests.map(request => request.headers.get("X-User-Id"))).toEqual(["alice@example", "alice@example"]);
		expect(requests[0].headers.get("Content-Type")).toBe("application/json");
		expect(requests[0].body).toEqual({ amount: 12.5, description: "A book" });
	});

	it("sends a fresh Idempotency-Key with each submission, and none with reads", async () => {
		const { requests } = mockFetch({
			"POST /api/accounts/topup": () => jsonResponse(makeAccount(10)),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(10))
		});
		const api = createApiClient("alice");
		await api.topUp(5);
		await api.topUp(5);
		await api.getBalance();
		const keys = requests.map(request => request.headers.get("Idempotency-Key"));
		expect(keys[0]).toMatch(/^[\x21-\x7e]{1,255}$/);
		expect(keys[1]).not.toBe(keys[0]);
		expect(keys[2]).toBeNull();
	});

	it("retries a submission once with the same key when no response arrived", async () => {
		vi.useFakeTimers();
		let attempts = 0;
		const { requests } = mockFetch({
			"POST /api/orders": () => {
				attempts++;
				if (attempts === 1) throw new TypeError("Failed to fetch");
				return jsonResponse(makeOrder({ id: "o1" }), 201);
			}
		});
		const placing = createApiClient("alice").placeOrder({ amount: 1, description: "x" });
		await vi.advanceTimersByTimeAsync(RETRY_DELAY_MS);
		await expect(placing).resolves.toMatchObject({ id: "o1" });
		expect(requests).toHaveLength(2);
		expect(requests[1].headers.get("Idempotency-Key")).toBe(requests[0].headers.get("Idempotency-Key"));
	});

	it("does not retry a submission the server answered", async () => {
		const { requests } = mockFetch({ "POST /api/orders": () => errorResponse(500, "INTERNAL", "Boom") });
		await failureOf(createApiClient("alice").placeOrder({ amount: 1, description: "x" }));
		expect(requests).toHaveLength(1);
	});

	it("reports an unreachable server with status 0 and a plain message", async () => {
		mockFetch({ "GET /api/accounts/balance": () => Promise.reject(new TypeError("Failed to fetch")) });
		const error = await failureOf(createApiClient("alice").getBalance());
		expect(error).toMatchObject({ status: 0, type: "SERVER_UNREACHABLE", message: UNREACHABLE_MESSAGE });
	});

	it("reports a proxy's bare 502 as an unreachable server", async () => {
		mockFetch({ "GET /api/orders": () => new Response("", { status: 502 }) });
		const error = await failureOf(createApiClient("alice").listOrders());
		expect(error).toMatchObject({ status: 502, message: UNREACHABLE_MESSAGE });
	});

	it("turns a validation error into its field messages", async () => {
		mockFetch({ "POST /api/accounts/topup": () => validationError("amount", "The 'amount' field must be a positive number.") });
		const error = await failureOf(createApiClient("alice").topUp(1));
		expect(error.status).toBe(422);
		expect(error.type).toBe("VALIDATION_ERROR");
		expect(error.message).toBe("The 'amount' field must be a positive number.");
		expect(error.fieldErrors).toEqual([{ type: "number", field: "amount", message: "The 'amount' field must be a positive number." }]);
	});

	it("explains a missing account, and passes other server messages on", async () => {
		mockFetch({
			"GET /api/accounts/balance": () => errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found"),
			"POST /api/accounts/topup": () => errorResponse(422, "BALANCE_LIMIT_EXCEEDED", "The balance would exceed the limit.")
		});
		const api = createApiClient("alice");
		expect(await failureOf(api.getBalance())).toMatchObject({ status: 404, type: "ACCOUNT_NOT_FOUND", message: NO_ACCOUNT_MESSAGE });
		expect(await failureOf(api.topUp(1))).toMatchObject({ status: 422, message: "The balance would exceed the limit." });
	});

	it("describes an error without a JSON body by its status", async () => {
		mockFetch({ "GET /api/orders/x": () => new Response("<html>oops</html>", { status: 500 }) });
		const error = await failureOf(createApiClient("alice").getOrder("x"));
		expect(error).toMatchObject({ status: 500, message: "The server answered with an error (HTTP 500)." });
	});
});
