/** A stand-in for the gateway behind a spied-on global fetch, for component and unit tests. */
import { vi } from "vitest";
import type { Journey, JourneyHop, Movement, Order, Statement } from "../api";

export interface RecordedRequest {
	method: string;
	/** Path and query, as the app passed it. */
	url: string;
	headers: Headers;
	body: unknown;
	signal: AbortSignal | undefined;
}

type Handler = (request: RecordedRequest) => Response | Promise<Response>;

export function jsonResponse(body: unknown, status = 200): Response {
	return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** An error in moleculer-web's shape. */
export function errorResponse(status: number, type: string, message: string, data?: unknown): Response {
	return jsonResponse({ name: "Error", message, code: status, type, data }, status);
}

export function validationError(field: string, message: string): Response {
	return errorResponse(422, "VALIDATION_ERROR", "Parameters validation error!", [{ type: "number", message, field }]);
}

/**
 * A fetch answering from routes "METHOD /path" (the query string is ignored). A route not listed
 * answers 404, except GET /api/events, which by default opens a stream that stays silent.
 */
export function createFakeFetch(routes: Record<string, Handler>) {
	const requests: RecordedRequest[] = [];
	const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
		const url = input instanceof Request ? input.url : String(input);
		const request: RecordedRequest = {
			method: init?.method ?? "GET",
			url,
			headers: new Headers(init?.headers),
			body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
			signal: init?.signal ?? undefined
		};
		requests.push(request);
		const handler = routes[`${request.method} ${url.split("?")[0]}`];
		if (handler) return handler(request);
		if (request.method === "GET" && url === "/api/events") return eventStream().respond(request);
		return errorResponse(404, "NOT_FOUND", `No route for ${request.method} ${url}`);
	});
	return { fetch, requests };
}

/** Replaces the global fetch with createFakeFetch's. */
export function mockFetch(routes: Record<string, Handler>) {
	const fake = createFakeFetch(routes);
	vi.spyOn(globalThis, "fetch").mockImplementation(fake.fetch);
	return fake;
}

/** A text/event-stream response the test writes to; it fails when the request is aborted. */
export function eventStream() {
	const encoder = new TextEncoder();
	let controller!: ReadableStreamDefaultController<Uint8Array>;
	let closed = false;
	const body = new ReadableStream<Uint8Array>({
		start(streamController) {
			controller = streamController;
		}
	});
	return {
		respond(request: Pick<RecordedRequest, "signal">): Response {
			request.signal?.addEventListener("abort", () => {
				if (!closed) controller.error(new DOMException("The operation was aborted.", "AbortError"));
				closed = true;
			});
			return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
		},
		send(text: string): void {
			controller.enqueue(encoder.encode(text));
		},
		end(): void {
			closed = true;
			controller.close();
		}
	};
}

export function makeOrder(overrides: Partial<Order> & Pick<Order, "id">): Order {
	return {
		userId: "alice",
		amount: 10,
		description: `Order ${overrides.id}`,
		status: "NEW",
		createdAt: "2025-01-01T10:00:00.000Z",
		updatedAt: "2025-01-01T10:00:00.000Z",
		...overrides
	};
}

export function makeAccount(balance: number) {
	return { userId: "alice", balance, createdAt: "2025-01-01T09:00:00.000Z", updatedAt: "2025-01-01T09:00:00.000Z" };
}

/** A statement page of the given movements (newest first), its balance the newest one's balance after. */
export function makeStatement(movements: Movement[], page: { limit?: number; offset?: number; total?: number } = {}): Statement {
	const { limit = 10, offset = 0, total = offset + movements.length } = page;
	return { balance: movements[0]?.balanceAfter ?? 0, total, limit, offset, movements };
}

/** A promise the test settles when it wants, to look at the UI meanwhile. */
export function deferred<T>() {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>(settle => {
		resolve = settle;
	});
	return { promise, resolve };
}

/** A finished order's journey: every hop, a few milliseconds apart. */
export function makeJourney(order: Order, overrides: Partial<Journey> = {}): Journey {
	const at = (ms: number) => new Date(Date.parse(order.createdAt) + ms).toISOString();
	const hops: JourneyHop[] = [
		{ step: "created", service: "orders", at: at(0), tookMs: 0 },
		{ step: "requestEmitted", service: "orders", at: at(12), tookMs: 12 },
		{ step: "requestReceived", service: "payments", at: at(20), tookMs: 8 },
		{ step: "paymentDecided", service: "payments", at: at(25), tookMs: 5, detail: "PAID" },
		{ step: "requestConfirmed", service: "orders", at: at(31), tookMs: 6 },
		{ step: "resultEmitted", service: "payments", at: at(40), tookMs: 9 },
		{ step: "resultApplied", service: "orders", at: at(1_540), tookMs: 1_500, detail: "emitted 2 times" },
		{ step: "pushed", service: "orders", at: at(1_540), tookMs: 0 },
		{ step: "resultConfirmed", service: "payments", at: at(1_552), tookMs: 12 }
	];
	return { order, traceId: "4bf92f3577b34da6a3ce929d0e0e4736", hops, ...overrides };
}
