/**
 * The gateway's live channel: one Server-Sent Events stream per open browser tab, grouped by
 * user, so that an order's status change reaches only its owner. Streams are plain PassThrough
 * streams that moleculer-web pipes into the HTTP response.
 *
 * Issue 15: each stream holds a socket (a file descriptor) for as long as the client likes, and
 * 2,000 of them opened in a second from 10 user ids. They are capped per user and in total, and a
 * stream whose client stops reading is dropped once its backlog passes a bound, instead of
 * buffering every later message (its client reconnects and re-reads its orders). A stream opened
 * with a token ends when the token does: one opened with a token valid for 2 more seconds still
 * delivered events 40 s later (second attack).
 */
import { PassThrough } from "node:stream";
import { Errors } from "moleculer";
import type { OrderView } from "../orders/contracts";

/** Comment lines keep proxies and load balancers from closing an idle stream. */
export const HEARTBEAT = ": ping\n\n";

/** Bytes a stream may hold for a client that does not read, beyond what the socket buffers. */
export const MAX_STREAM_BACKLOG_BYTES = 64 * 1024;

/** Node's longest timer (about 24.8 days); a later end is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface EventStreamLimits {
	/** Open streams per user (a browser allows six connections per server; phones and laptops add up). */
	perUser: number;
	/** Open streams on this gateway instance, all users together. */
	total: number;
}

export function formatServerSentEvent(event: string, data: unknown): string {
	return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

const tooManyStreams = (message: string) => new Errors.MoleculerClientError(message, 429, "TOO_MANY_STREAMS");

export class OrderEventStreams {
	private readonly streamsByUser = new Map<string, Set<PassThrough>>();
	private count = 0;

	constructor(private readonly limits: EventStreamLimits) {}

	/**
	 * A new stream for the user; it is forgotten when the client goes away or it is ended, and
	 * ended at `endsAt` (ms since the epoch) if given. Throws a 429 error past a limit, before
	 * anything is opened.
	 */
	open(userId: string, endsAt?: number): PassThrough {
		let streams = this.streamsByUser.get(userId);
		if ((streams?.size ?? 0) >= this.limits.perUser) {
			throw tooManyStreams(`You have ${this.limits.perUser} live streams open already: close one (another tab or device) first.`);
		}
		if (this.count >= this.limits.total) throw tooManyStreams("The server has as many live streams open as it allows; retry later.");
		const stream = new PassThrough();
		if (!streams) this.streamsByUser.set(userId, (streams = new Set()));
		streams.add(stream);
		this.count++;
		let timer: NodeJS.Timeout | undefined;
		const release = () => {
			clearTimeout(timer);
			if (streams.delete(stream)) {
				this.count--;
				if (streams.size === 0 && this.streamsByUser.get(userId) === streams) this.streamsByUser.delete(userId);
			}
		};
		const forget = () => {
			release();
			stream.destroy();
		};
		// Released first, so nothing more is written to it; ended, so its response ends cleanly.
		const endWhenDue = () => {
			const remainingMs = endsAt! - Date.now();
			if (remainingMs > 0) timer = setTimeout(endWhenDue, Math.min(remainingMs, MAX_TIMER_MS)).unref();
			else {
				release();
				stream.end();
			}
		};
		// The response closing unpipes the stream (client gone); `close` covers end() and destroy().
		stream.once("unpipe", forget);
		stream.once("close", forget);
		stream.on("error", forget);
		// Tells EventSource-style clients how soon to reconnect, and flushes the headers at once.
		stream.write("retry: 3000\n\n");
		if (endsAt !== undefined) endWhenDue();
		return stream;
	}

	publish(order: OrderView): void {
		const message = formatServerSentEvent("order", order);
		for (const stream of this.streamsByUser.get(order.userId) ?? []) this.write(stream, message);
	}

	heartbeat(): void {
		for (const streams of this.streamsByUser.values()) for (const stream of streams) this.write(stream, HEARTBEAT);
	}

	/** Writes, or drops a stream whose client has let its backlog grow past the bound. */
	private write(stream: PassThrough, message: string): void {
		if (stream.writableLength + stream.readableLength > MAX_STREAM_BACKLOG_BYTES) stream.destroy();
		else stream.write(message);
	}

	get size(): number {
		return this.count;
	}

	/** Ends every stream, so that the HTTP server can close. */
	closeAll(): void {
		for (const streams of this.streamsByUser.values()) {
			for (const stream of streams) stream.end();
			streams.clear();
		}
		this.streamsByUser.clear();
		this.count = 0;
	}
}
