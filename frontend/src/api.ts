/**
 * Typed client of the REST gateway (same origin). Every request names the caller in `X-User-Id`;
 * every failure, including an unreachable server, becomes an ApiError whose message can be shown
 * as it is: outages and faults in plain words, never the server's own (Moleculer's "Request is
 * timed out when call 'orders.create' action on '…' node" is for its logs, not for people).
 */

import type { components, operations } from "./api-types";

// The API's shapes, generated from its OpenAPI document (npm run api-types).
type Schemas = components["schemas"];
export type Order = Schemas["Order"];
export type OrderStatus = Schemas["OrderStatus"];
export type CancelReason = Schemas["CancelReason"];
export type Account = Schemas["Account"];
/** A page of the account's movements, newest first, with the balance and how many there are in all. */
export type Statement = Schemas["Statement"];
export type Movement = Statement["movements"][number];
/** Who the caller is, and whether the operator page is theirs. */
export type Me = Schemas["Me"];
export type ActivityBucket = Schemas["ActivityBucket"];
export type ServiceOps = Schemas["ServiceOps"];
export type OutboxOverview = Schemas["OutboxOverview"];
export type DeadEvent = Schemas["DeadEvent"];
export type ReplayResult = Schemas["ReplayResult"];
export type JourneyStep = Schemas["JourneyStep"];
export type JourneyHop = Schemas["JourneyHop"];
export type Journey = Schemas["Journey"];
export type NewOrder = operations["orders.create"]["requestBody"]["content"]["application/json"];
/** One failing field of a 422 (a ValidationError's data). */
export type FieldError = Schemas["FieldError"];
type DeadEventList = Schemas["DeadEventList"];

/** For no answer at all, and for a service that is down or timed out (502-504). */
export const UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Please try again in a moment.";
const SERVER_FAULT_MESSAGE = "Something went wrong on the server. Please try again in a moment.";
const RATE_LIMITED_MESSAGE = "Too many requests — please wait a moment.";
export const NO_ACCOUNT_MESSAGE = "You have no account yet. Create one to top up and pay.";
const ACCOUNT_EXISTS_MESSAGE = "You already have an account.";

/** Error types the UI tells apart; the others are the server's own `type`. */
export const ErrorType = {
	unreachable: "SERVER_UNREACHABLE",
	accountNotFound: "ACCOUNT_NOT_FOUND",
	accountExists: "ACCOUNT_EXISTS",
	keyInUse: "IDEMPOTENCY_KEY_IN_USE"
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

/** A 403: the caller is signed in but not allowed (an operator route, for someone who is not one). */
export function isForbidden(error: unknown): boolean {
	return error instanceof ApiError && error.status === 403;
}

/**
 * Whether a request that failed so may have been carried out all the same: no answer, a server
 * fault (a timeout too), or an earlier try with the same key still in progress.
 */
function mayHaveGoneThrough(error: ApiError): boolean {
	return error.status === 0 || error.status >= 500 || error.type === ErrorType.keyInUse;
}

/**
 * Whether sending the same submission again must reuse its Idempotency-Key: after an answer that
 * may hide a success, or a 429 (nothing done, but a retry is exactly what it asks for).
 */
function keepsKey(error: unknown): boolean {
	return !(error instanceof ApiError) || mayHaveGoneThrough(error) || error.status === 429;
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
	/** A NEW order comes back CANCELLED; a FINISHED one still FINISHED, with cancelRequestedAt (its refund follows). */
	cancelOrder(id: string): Promise<Order>;
	getStatement(limit: number, offset: number): Promise<Statement>;
	/** The caller's own order's journey. */
	getOrderJourney(id: string): Promise<Journey>;
	getMe(): Promise<Me>;
	// Operators only: the others get a 403.
	getOutboxOverview(): Promise<OutboxOverview>;
	/** Newest first, every service's. */
	listDeadEvents(): Promise<DeadEvent[]>;
	/** Sends a service's dead events again: the given ones, or all of them. */
	replayDeadEvents(service: DeadEvent["service"], ids?: string[]): Promise<ReplayResult>;
	/** Any user's order's journey. */
	getAnyOrderJourney(id: string): Promise<Journey>;
}

/** Delay before the one automatic retry of a submission that got no response. */
export const RETRY_DELAY_MS = 500;
const ORDER_LIST_LIMIT = 50;
/** Dead events listed on the operator page (each service's card says when there are more). */
const DEAD_EVENT_LIST_LIMIT = 200;

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
			throw new ApiError(0, ErrorType.unreachable, UNAVAILABLE_MESSAGE);
		}
		const payload = await readJson(response);
		if (!response.ok) throw toApiError(response, payload);
		if (payload === undefined) {
			throw new ApiError(response.status, "INVALID_RESPONSE", "The server sent an unexpected response.");
		}
		return payload as T;
	}

	/** One retry with the same key when the server could not be reached. */
	async function postRetryingOnce<T>(path: string, body: unknown, key: string): Promise<T> {
		try {
			return await request<T>("POST", path, body, key);
		} catch (error) {
			if (!(error instanceof ApiError) || error.type !== ErrorType.unreachable) throw error;
			await new Promise(resolve => setTimeout(resolve, RETRY_DELAY_MS));
			return request<T>("POST", path, body, key);
		}
	}

	// Keys of submissions still unsettled, by what was submitted. A submission that got no definite
	// answer may have been carried out: sent again as it was, it must carry the same key, so the
	// server does it at most once. A success or a definite refusal settles it: the next gets a new key.
	const unsettledKeys = new Map<string, string>();

	/**
	 * A submission that must not happen twice. When it may have gone through all the same, its
	 * message gets `uncertainNote` (what to check before trying again).
	 */
	async function submit<T>(path: string, body: unknown, uncertainNote: string): Promise<T> {
		const contents = `${path} ${JSON.stringify(body)}`;
		const key = unsettledKeys.get(contents) ?? newIdempotencyKey();
		unsettledKeys.set(contents, key);
		try {
			const result = await postRetryingOnce<T>(path, body, key);
			unsettledKeys.delete(contents);
			return result;
		} catch (error) {
			if (!keepsKey(error)) unsettledKeys.delete(contents);
			if (error instanceof ApiError && mayHaveGoneThrough(error)) {
				throw new ApiError(error.status, error.type, `${error.message} ${uncertainNote}`, error.fieldErrors);
			}
			throw error;
		}
	}

	return {
		createAccount: () => request("POST", "/api/accounts", {}),
		topUp: amount => submit("/api/accounts/topup", { amount }, "Your top-up may have gone through — check your balance before trying again."),
		getBalance: () => request("GET", "/api/accounts/balance"),
		placeOrder: order => submit("/api/orders", order, "Your order may have been placed — check your orders before trying again."),
		listOrders: () => request("GET", `/api/orders?limit=${ORDER_LIST_LIMIT}`),
		getOrder: id => request("GET", `/api/orders/${encodeURIComponent(id)}`),
		cancelOrder: id => submit(`/api/orders/${encodeURIComponent(id)}/cancel`, {}, "Your cancel may have gone through — check the order before trying again."),
		getStatement: (limit, offset) => request("GET", `/api/accounts/statement?limit=${limit}&offset=${offset}`),
		getOrderJourney: id => request("GET", `/api/orders/${encodeURIComponent(id)}/journey`),
		getMe: () => request("GET", "/api/me"),
		getOutboxOverview: () => request("GET", "/api/admin/outbox"),
		listDeadEvents: async () => (await request<DeadEventList>("GET", `/api/admin/dead-events?limit=${DEAD_EVENT_LIST_LIMIT}`)).events,
		// Replaying is idempotent (an event no longer dead is left alone): no key needed.
		replayDeadEvents: (service, ids) => request("POST", "/api/admin/dead-events/replay", ids === undefined ? { service } : { service, ids }),
		getAnyOrderJourney: id => request("GET", `/api/admin/orders/${encodeURIComponent(id)}/journey`)
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
	return data.filter((item): item is FieldError => typeof item === "object" && item !== null && typeof (item as FieldError).message === "string");
}

function toApiError(response: Response, payload: unknown): ApiError {
	const { status } = response;
	const serverError = isServerError(payload) ? payload : undefined;
	const type = typeof serverError?.type === "string" ? serverError.type : `HTTP_${status}`;
	if (status >= 502 && status <= 504) {
		// Without the gateway's JSON, a proxy in front of it (Vite's dev proxy answers 502) could not reach it.
		return new ApiError(status, serverError ? type : ErrorType.unreachable, UNAVAILABLE_MESSAGE);
	}
	if (status >= 500) return new ApiError(status, type, SERVER_FAULT_MESSAGE);
	if (status === 429) return new ApiError(status, type, RATE_LIMITED_MESSAGE);
	if (!serverError) return new ApiError(status, type, `The server answered with an error (HTTP ${status}).`);
	const fieldErrors = toFieldErrors(serverError.data);
	switch (type) {
		case ErrorType.accountNotFound:
			return new ApiError(status, type, NO_ACCOUNT_MESSAGE);
		case ErrorType.accountExists:
			return new ApiError(status, type, ACCOUNT_EXISTS_MESSAGE);
	}
	// A validation error's own message ("Parameters validation error!") says less than its fields.
	const message = fieldErrors.length > 0 ? fieldErrors.map(fieldError => fieldError.message).join(" ") : serverError.message;
	return new ApiError(status, type, message, fieldErrors);
}

/** crypto.randomUUID exists only in secure contexts; a phone on http://192.168.x.y lacks it. */
function newIdempotencyKey(): string {
	if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return Array.from(bytes, byte => byte.toString(16).padStart(2, "0")).join("");
}
