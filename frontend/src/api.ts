/**
 * Typed client of the REST gateway (same origin). Every request names the caller in `X-User-Id`;
 * every failure, including an unreachable server, becomes an ApiError whose message can be shown
 * as it is.
 */

export type OrderStatus = "NEW" | "FINISHED" | "CANCELLED";
export type CancelReason = "INSUFFICIENT_FUNDS" | "ACCOUNT_NOT_FOUND";

export interface Order {
	id: string;
	userId: string;
	amount: number;
	description: string;
	status: OrderStatus;
	cancelReason?: CancelReason | null;
	createdAt: string;
	updatedAt: string;
}

export interface Account {
	userId: string;
	balance: number;
	createdAt: string;
	updatedAt: string;
}

export interface FieldError {
	type: string;
	message: string;
	field: string;
}

export interface NewOrder {
	amount: number;
	description: string;
}

export const UNREACHABLE_MESSAGE = "The server is unreachable. Check your connection and try again.";
export const NO_ACCOUNT_MESSAGE = "You have no account yet. Create one to top up and pay.";
const ACCOUNT_EXISTS_MESSAGE = "You already have an account.";

/** Error types the UI tells apart; the others are the server's own `type`. */
export const ErrorType = {
	unreachable: "SERVER_UNREACHABLE",
	accountNotFound: "ACCOUNT_NOT_FOUND",
	accountExists: "ACCOUNT_EXISTS"
} as const;

export class ApiError extends Error {
	override readonly name = "ApiError";
	/** HTTP status; 0 when no response arrived. */
	readonly status: number;
	readonly type: string;
	readonly fieldErrors: FieldError[];

	constructor(status: number, type: string, message: string, fieldErrors: FieldError[] = []) {
		super(message);
		this.status = status;
		this.type = type;
		this.fieldErrors = fieldErrors;
	}
}

/** What to show for any failure (an ApiError's message is meant to be shown). */
export function errorMessage(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

function isAbort(error: unknown): boolean {
	return error instanceof Error && error.name === "AbortError";
}

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
	/** Defaults to the global fetch, looked up at each call (so tests can spy on it). */
	fetch?: FetchFunction;
	/** Aborts every request of this client. */
	signal?: AbortSignal;
}

export interface ApiClient {
	createAccount(): Promise<Account>;
	topUp(amount: number): Promise<Account>;
	getBalance(): Promise<Account>;
	placeOrder(order: NewOrder): Promise<Order>;
	listOrders(): Promise<Order[]>;
	getOrder(id: string): Promise<Order>;
}

/** Delay before the one automatic retry of a submission that got no response. */
export const RETRY_DELAY_MS = 500;
const ORDER_LIST_LIMIT = 50;

export function createApiClient(userId: string, options: ApiClientOptions = {}): ApiClient {
	const fetchFunction: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));

	async function request<T>(method: "GET" | "POST", path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
		const headers: Record<string, string> = { Accept: "application/json", "X-User-Id": userId };
		if (body !== undefined) headers["Content-Type"] = "application/json";
		if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
		let response: Response;
		try {
			response = await fetchFunction(path, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: options.signal
			});
		} catch (error) {
			if (isAbort(error)) throw error;
			throw new ApiError(0, ErrorType.unreachable, UNREACHABLE_MESSAGE);
		}
		const payload = await readJson(response);
		if (!response.ok) throw toApiError(response, payload);
		if (payload === undefined) {
			throw new ApiError(response.status, "INVALID_RESPONSE", "The server sent an unexpected response.");
		}
		return payload as T;
	}

	/**
	 * A submission that must not happen twice: a fresh Idempotency-Key, and one retry with the same
	 * key when the server could not be reached (the first attempt may have got through all the same).
	 */
	async function submitOnce<T>(path: string, body: unknown): Promise<T> {
		const key = newIdempotencyKey();
		try {
			return await request<T>("POST", path, body, key);
		} catch (error) {
			if (!(error instanceof ApiError) || error.type !== ErrorType.unreachable) throw error;
			await new Promise(resolve => setTimeout(resolve, RETRY_DELAY_MS));
			return request<T>("POST", path, body, key);
		}
	}

	return {
		createAccount: () => request("POST", "/api/accounts", {}),
		topUp: amount => submitOnce("/api/accounts/topup", { amount }),
		getBalance: () => request("GET", "/api/accounts/balance"),
		placeOrder: order => submitOnce("/api/orders", order),
		listOrders: () => request("GET", `/api/orders?limit=${ORDER_LIST_LIMIT}`),
		getOrder: id => request("GET", `/api/orders/${encodeURIComponent(id)}`)
	};
}

async function readJson(response: Response): Promise<unknown> {
	try {
		const text = await response.text();
		return text === "" ? undefined : JSON.parse(text);
	} catch (error) {
		if (isAbort(error)) throw error;
		return undefined;
	}
}

interface ServerError {
	message: string;
	type?: unknown;
	data?: unknown;
}

function isServerError(payload: unknown): payload is ServerError {
	return typeof payload === "object" && payload !== null && typeof (payload as ServerError).message === "string";
}

function toFieldErrors(data: unknown): FieldError[] {
	if (!Array.isArray(data)) return [];
	return data.filter((item): item is FieldError => typeof item === "object" && item !== null && typeof item.message === "string");
}

function toApiError(response: Response, payload: unknown): ApiError {
	if (!isServerError(payload)) {
		// Not the gateway's answer: a proxy in front of it (Vite's dev proxy answers 502) could not reach it.
		if (response.status >= 502 && response.status <= 504) {
			return new ApiError(response.status, ErrorType.unreachable, UNREACHABLE_MESSAGE);
		}
		return new ApiError(response.status, `HTTP_${response.status}`, `The server answered with an error (HTTP ${response.status}).`);
	}
	const type = typeof payload.type === "string" ? payload.type : `HTTP_${response.status}`;
	const fieldErrors = toFieldErrors(payload.data);
	switch (type) {
		case ErrorType.accountNotFound:
			return new ApiError(response.status, type, NO_ACCOUNT_MESSAGE);
		case ErrorType.accountExists:
			return new ApiError(response.status, type, ACCOUNT_EXISTS_MESSAGE);
	}
	// A validation error's own message ("Parameters validation error!") says less than its fields.
	const message = fieldErrors.length > 0 ? fieldErrors.map(fieldError => fieldError.message).join(" ") : payload.message;
	return new ApiError(response.status, type, message, fieldErrors);
}

/** crypto.randomUUID exists only in secure contexts; a phone on http://192.168.x.y lacks it. */
function newIdempotencyKey(): string {
	if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return Array.from(bytes, byte => byte.toString(16).padStart(2, "0")).join("");
}
