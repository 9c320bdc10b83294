/**
 * The gateway's live channel: one Server-Sent Events stream per open browser tab, grouped by
 * user, so that an order's status change reaches only its owner. Streams are plain PassThrough
 * streams that moleculer-web pipes into the HTTP response.
 */
import { PassThrough } from "node:stream";
import type { OrderView } from "./contracts";

/** Comment lines keep proxies and load balancers from closing an idle stream. */
export const HEARTBEAT = ": ping\n\n";

export function formatServerSentEvent(event: string, data: unknown): string {
	return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class OrderEventStreams {
	private readonly streamsByUser = new Map<string, Set<PassThrough>>();

	/** A new stream for the user; it is forgotten when the client goes away or it is ended. */
	open(userId: string): PassThrough {
		const stream = new PassThrough();
		let streams = this.streamsByUser.get(userId);
		if (!streams) this.streamsByUser.set(userId, (streams = new Set()));
		streams.add(stream);
		const forget = () => {
			streams.delete(stream);
			if (streams.size === 0 && this.streamsByUser.get(userId) === streams) this.streamsByUser.delete(userId);
			stream.destroy();
		};
		// The response closing unpipes the stream (client gone); `close` covers end() and destroy().
		stream.once("unpipe", forget);
		stream.once("close", forget);
		// Tells EventSource-style clients how soon to reconnect, and flushes the headers at once.
		stream.write("retry: 3000\n\n");
		return stream;
	}

	publish(order: OrderView): void {
		const message = formatServerSentEvent("order", order);
		for (const stream of this.streamsByUser.get(order.userId) ?? []) stream.write(message);
	}

	heartbeat(): void {
		for (const streams of this.streamsByUser.values()) for (const stream of streams) stream.write(HEARTBEAT);
	}

	get size(): number {
		let count = 0;
		for (const streams of this.streamsByUser.values()) count += streams.size;
		return count;
	}

	/** Ends every stream, so that the HTTP server can close. */
	closeAll(): void {
		for (const streams of [...this.streamsByUser.values()]) for (const stream of [...streams]) stream.end();
		this.streamsByUser.clear();
	}
}
