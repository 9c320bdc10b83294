import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NO_ACCOUNT_MESSAGE, RETRY_DELAY_MS, UNAVAILABLE_MESSAGE, createApiClient } from "./api";
import { errorResponse, jsonResponse, makeAccount, makeOrder, mockFetch, validationError, type RecordedRequest } from "./test/fakeServer";

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
		expect(error).toMatchObject({ status: 0, type: "SERVER_UNREACHABLE", message: UNAVAILABLE_MESSAGE });
	});

	it("reports a proxy's bare 502 as an unreachable server", async () => {
		mockFetch({ "GET /api/orders": () => new Response("", { status: 502 }) });
		const error = await failureOf(createApiClient("alice").listOrders());
		expect(error).toMatchObject({ status: 502, message: UNAVAILABLE_MESSAGE });
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
		mockFetch({ "GET /api/orders/x": () => new Response("<html>oops</html>", { status: 400 }) });
		const error = await failureOf(createApiClient("alice").getOrder("x"));
		expect(error).toMatchObject({ status: 400, message: "The server answered with an error (HTTP 400)." });
	});

	it.each([
		[503, "SERVICE_UNAVAILABLE", "The service is unavailable for the moment; retry shortly."],
		[503, "STOPPING", "The server is stopping; retry on another instance or shortly."],
		[504, "REQUEST_TIMEOUT", "Request is timed out when call 'orders.list' action on 'node-1' node."]
	])("reports a %s %s as a temporary outage in plain words", async (status, type, serverMessage) => {
		mockFetch({ "GET /api/orders": () => errorResponse(status, type, serverMessage) });
		const error = await failureOf(createApiClient("alice").listOrders());
		expect(error).toMatchObject({ status, type, message: UNAVAILABLE_MESSAGE });
	});

	it("hides a server fault's own message", async () => {
		mockFetch({ "GET /api/orders": () => errorResponse(500, "MOLECULER_ERROR", "Cannot read properties of undefined (reading 'rows')") });
		const error = await failureOf(createApiClient("alice").listOrders());
		expect(error.message).toBe("Something went wrong on the server. Please try again in a moment.");
	});

	it("asks to wait when rate limited", async () => {
		mockFetch({ "GET /api/orders": () => errorResponse(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded") });
		const error = await failureOf(createApiClient("alice").listOrders());
		expect(error).toMatchObject({ status: 429, message: "Too many requests — please wait a moment." });
	});

	it("cancels an order with an Idempotency-Key and takes the order it answers with, 202 too (issue 18)", async () => {
		const refundRequested = makeOrder({ id: "o 1", status: "FINISHED", cancelRequestedAt: "2025-01-01T10:00:05.000Z" });
		const { requests } = mockFetch({ "POST /api/orders/o%201/cancel": () => jsonResponse(refundRequested, 202) });
		await expect(createApiClient("alice").cancelOrder("o 1")).resolves.toEqual(refundRequested);
		expect(requests[0].body).toEqual({});
		expect(requests[0].headers.get("Idempotency-Key")).toMatch(/^[\x21-\x7e]{1,255}$/);
	});

	it("says why an order cannot be cancelled", async () => {
		mockFetch({ "POST /api/orders/o1/cancel": () => errorResponse(409, "ORDER_NOT_CANCELLABLE", "This order is REFUNDED: there is nothing left to cancel.") });
		const error = await failureOf(createApiClient("alice").cancelOrder("o1"));
		expect(error).toMatchObject({ status: 409, type: "ORDER_NOT_CANCELLABLE", message: "This order is REFUNDED: there is nothing left to cancel." });
	});

	it("reads a page of the statement", async () => {
		const statement = { balance: 5, total: 1, limit: 10, offset: 20, movements: [{ kind: "TOPUP", amount: 5, balanceAfter: 5, at: "2025-01-01T10:00:00.000Z" }] };
		const { requests } = mockFetch({ "GET /api/accounts/statement": () => jsonResponse(statement) });
		await expect(createApiClient("alice").getStatement(10, 20)).resolves.toEqual(statement);
		expect(requests.map(request => request.url)).toEqual(["/api/accounts/statement?limit=10&offset=20"]);
	});

	it.each([
		["placeOrder", "/api/orders", "Your order may have been placed — check your orders before trying again."],
		["topUp", "/api/accounts/topup", "Your top-up may have gone through — check your balance before trying again."],
		["cancelOrder", "/api/orders/o1/cancel", "Your cancel may have gone through — check the order before trying again."]
	] as const)("says that %s may have gone through when it timed out", async (operation, path, note) => {
		mockFetch({ [`POST ${path}`]: () => errorResponse(504, "REQUEST_TIMEOUT", "Request is timed out when call 'x' action on 'n' node.") });
		const api = createApiClient("alice");
		const submissions = { placeOrder: () => api.placeOrder({ amount: 1, description: "x" }), topUp: () => api.topUp(1), cancelOrder: () => api.cancelOrder("o1") };
		const error = await failureOf(submissions[operation]());
		expect(error.message).toBe(`${UNAVAILABLE_MESSAGE} ${note}`);
	});

	it("says that an order may have been placed when no answer came, even after the retry", async () => {
		vi.useFakeTimers();
		mockFetch({ "POST /api/orders": () => Promise.reject(new TypeError("Failed to fetch")) });
		const placing = failureOf(createApiClient("alice").placeOrder({ amount: 1, description: "x" }));
		await vi.advanceTimersByTimeAsync(RETRY_DELAY_MS);
		expect((await placing).message).toBe(`${UNAVAILABLE_MESSAGE} Your order may have been placed — check your orders before trying again.`);
	});

	it("does not say a refused or rate-limited order may have been placed", async () => {
		let answer = () => errorResponse(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded");
		mockFetch({ "POST /api/orders": () => answer() });
		const api = createApiClient("alice");
		expect((await failureOf(api.placeOrder({ amount: 1, description: "x" }))).message).toBe("Too many requests — please wait a moment.");
		answer = () => errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found");
		expect((await failureOf(api.placeOrder({ amount: 1, description: "x" }))).message).toBe(NO_ACCOUNT_MESSAGE);
	});
});

describe("Idempotency-Key of a submission", () => {
	afterEach(() => vi.useRealTimers());

	const order = { amount: 12.5, description: "A book" };
	const keysOf = (requests: RecordedRequest[]) => requests.map(request => request.headers.get("Idempotency-Key"));

	it("stays the same for the same contents after a network failure, and is new after the success", async () => {
		vi.useFakeTimers();
		let reachable = false;
		const { requests } = mockFetch({
			"POST /api/orders": () => (reachable ? jsonResponse(makeOrder({ id: "o1" }), 201) : Promise.reject(new TypeError("Failed to fetch")))
		});
		const api = createApiClient("alice");
		const failing = failureOf(api.placeOrder(order));
		await vi.advanceTimersByTimeAsync(RETRY_DELAY_MS); // the automatic retry, which fails too
		await failing;

		reachable = true;
		await api.placeOrder({ ...order }); // tried again: the same contents
		await api.placeOrder(order); // a second order of the same
		const keys = keysOf(requests);
		expect(keys).toHaveLength(4);
		expect(new Set(keys.slice(0, 3)).size).toBe(1);
		expect(keys[3]).not.toBe(keys[0]);
	});

	it.each([
		[503, "SERVICE_UNAVAILABLE"],
		[504, "REQUEST_TIMEOUT"],
		[500, "INTERNAL_ERROR"],
		[429, "RATE_LIMIT_EXCEEDED"],
		[409, "IDEMPOTENCY_KEY_IN_USE"]
	])("stays the same after a %s %s", async (status, type) => {
		let answered = false;
		const { requests } = mockFetch({
			"POST /api/accounts/topup": () => {
				if (answered) return jsonResponse(makeAccount(5));
				answered = true;
				return errorResponse(status, type, "Down");
			}
		});
		const api = createApiClient("alice");
		await failureOf(api.topUp(5));
		await api.topUp(5);
		const keys = keysOf(requests);
		expect(keys[1]).toBe(keys[0]);
	});

	it("is new after a definite refusal", async () => {
		let refuse = true;
		const { requests } = mockFetch({
			"POST /api/orders": () => (refuse ? errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found") : jsonResponse(makeOrder({ id: "o1" }), 201))
		});
		const api = createApiClient("alice");
		await failureOf(api.placeOrder(order));
		refuse = false;
		await api.placeOrder(order);
		const keys = keysOf(requests);
		expect(keys[1]).not.toBe(keys[0]);
	});

	it("differs for different contents, also while one is unsettled", async () => {
		const { requests } = mockFetch({ "POST /api/orders": () => errorResponse(503, "SERVICE_UNAVAILABLE", "Down") });
		const api = createApiClient("alice");
		await failureOf(api.placeOrder(order));
		await failureOf(api.placeOrder({ ...order, amount: 13 }));
		await failureOf(api.placeOrder(order));
		const keys = keysOf(requests);
		expect(keys[1]).not.toBe(keys[0]);
		expect(keys[2]).toBe(keys[0]);
	});
});
