/**
 * A client of the gateway's live channel (`GET /api/events`, Server-Sent Events) for one user:
 * notes when each order's final status (anything but NEW) is pushed, so that the create→final
 * latency is measured the way a browser sees it.
 */
import http from "node:http";
import { wallClockMs } from "./clock";

export interface FinalStatus {
	status: string;
	/** When the push arrived (wall clock, ms). */
	at: number;
}

export class OrderStatusStream {
	private buffer = "";
	/** Final statuses that arrived before anyone waited for them (the push can beat the POST's answer). */
	private readonly arrived = new Map<string, FinalStatus>();
	private readonly waiters = new Map<string, (final: FinalStatus) => void>();

	private constructor(private readonly request: http.ClientRequest) {}

	/** Resolves once the stream is open, i.e. registered at the gateway: no push is missed after that. */
	static open(baseUrl: string, userId: string): Promise<OrderStatusStream> {
		return new Promise((resolve, reject) => {
			const request = http.get(new URL("/api/events", baseUrl), { headers: { "X-User-Id": userId, Accept: "text/event-stream" } }, response => {
				if (response.statusCode !== 200) {
					request.destroy();
					return reject(new Error(`GET /api/events answered ${response.statusCode}`));
				}
				const stream = new OrderStatusStream(request);
				response.setEncoding("utf8");
				response.on("data", (chunk: string) => stream.receive(chunk, wallClockMs()));
				response.on("error", () => undefined); // closed by us
				resolve(stream);
			});
			request.on("error", reject);
		});
	}

	/** The order's final status, or null if none arrives within the timeout. */
	waitForFinal(orderId: string, timeoutMs: number): Promise<FinalStatus | null> {
		const early = this.arrived.get(orderId);
		if (early) {
			this.arrived.delete(orderId);
			return Promise.resolve(early);
		}
		return new Promise(resolve => {
			const timer = setTimeout(() => {
				this.waiters.delete(orderId);
				resolve(null);
			}, timeoutMs);
			this.waiters.set(orderId, final => {
				clearTimeout(timer);
				resolve(final);
			});
		});
	}

	close(): void {
		this.request.destroy();
	}

	private receive(chunk: string, at: number): void {
		this.buffer += chunk;
		const messages = this.buffer.split("\n\n");
		this.buffer = messages.pop()!;
		for (const message of messages) {
			const lines = message.split("\n");
			const data = lines.find(line => line.startsWith("data: "));
			if (!lines.includes("event: order") || !data) continue;
			const order = JSON.parse(data.slice("data: ".length)) as { id: string; status: string };
			if (order.status === "NEW") continue;
			const final = { status: order.status, at };
			const waiter = this.waiters.get(order.id);
			if (waiter) {
				this.waiters.delete(order.id);
				waiter(final);
			} else {
				this.arrived.set(order.id, final);
			}
		}
	}
}
