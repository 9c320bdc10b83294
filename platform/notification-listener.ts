/**
 * A Postgres LISTEN on a connection of its own, kept up for as long as the listener runs: a lost
 * connection is re-opened with capped backoff. Notifications sent while it was down are lost, so
 * every (re)connection also counts as one notification: the caller catches up with what it missed.
 *
 * It never fails its caller: while it cannot listen, the caller's polling is the safety net.
 */
import { Client } from "pg";

export interface NotificationListenerOptions {
	url: string;
	channel: string;
	/** Shown in pg_stat_activity. */
	applicationName: string;
	onNotification(): void;
	onError(err: Error): void;
	/** First reconnection delay; doubles up to `maxRetryMs`. */
	retryMs?: number;
	maxRetryMs?: number;
}

export class NotificationListener {
	private client: Client | null = null;
	private retryTimer: NodeJS.Timeout | null = null;
	private failures = 0;
	private closed = false;

	constructor(private readonly options: NotificationListenerOptions) {}

	/** Starts listening in the background. */
	start(): void {
		this.closed = false;
		void this.connect();
	}

	/** Whether LISTEN is in effect right now. */
	get listening(): boolean {
		return this.client !== null;
	}

	async close(): Promise<void> {
		this.closed = true;
		if (this.retryTimer) clearTimeout(this.retryTimer);
		this.retryTimer = null;
		const client = this.client;
		this.client = null;
		await client?.end().catch(() => undefined);
	}

	private async connect(): Promise<void> {
		this.retryTimer = null;
		const { url, channel, applicationName } = this.options;
		const client = new Client({ connectionString: url, application_name: applicationName, keepAlive: true });
		let connected = false;
		let gone = false; // each client is lost once, however many of its events arrive (late ones too)
		const lose = (err: Error) => {
			if (gone) return;
			gone = true;
			this.lost(client, err);
		};
		client.on("notification", () => this.options.onNotification());
		client.on("error", lose);
		client.on("end", () => connected && lose(new Error("The notification connection was closed.")));
		try {
			await client.connect();
			connected = true;
			await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
		} catch (err) {
			lose(err as Error);
			return;
		}
		if (this.closed || this.client !== null) {
			gone = true; // not needed: closing it is no loss
			await client.end().catch(() => undefined);
			return;
		}
		this.client = client;
		this.failures = 0;
		this.options.onNotification(); // whatever became due while nobody listened
	}

	private lost(client: Client, err: Error): void {
		if (this.client === client) this.client = null;
		void client.end().catch(() => undefined);
		if (this.closed || this.retryTimer) return;
		this.options.onError(err);
		const { retryMs = 500, maxRetryMs = 30_000 } = this.options;
		const delay = Math.min(maxRetryMs, retryMs * 2 ** this.failures++);
		this.retryTimer = setTimeout(() => void this.connect(), delay);
	}
}
