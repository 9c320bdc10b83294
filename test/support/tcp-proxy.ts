/**
 * A TCP proxy in front of a server, for outages a test can switch on and off: `cut()` refuses new
 * connections (ECONNREFUSED, as a stopped server) and resets every open one (as a crashed server
 * or a failover), `restore()` listens again on the same port. The fault suite puts one in front of
 * each service's database, so that one service's database can be unavailable for minutes while
 * the other's works.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export class TcpProxy {
	private server: Server | null = null;
	private readonly sockets = new Set<Socket>();
	private listeningPort = 0;

	constructor(private readonly target: { host: string; port: number }) {}

	get port(): number {
		return this.listeningPort;
	}

	/** Whether a connection goes through it now. */
	get inUse(): boolean {
		return this.sockets.size > 0;
	}

	/** Listens on a free port (or the given one) and returns it. */
	async start(port = 0): Promise<number> {
		const server = createServer(client => this.forward(client));
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(port, "127.0.0.1", () => resolve());
		});
		server.on("error", () => undefined);
		this.server = server;
		this.listeningPort = (server.address() as { port: number }).port;
		return this.listeningPort;
	}

	/** The outage: no new connection is accepted, every open one is reset. */
	async cut(): Promise<void> {
		const server = this.server;
		this.server = null;
		for (const socket of this.sockets) socket.resetAndDestroy();
		this.sockets.clear();
		if (server) await new Promise<void>(resolve => server.close(() => resolve()));
	}

	/** The end of the outage, on the same port. */
	async restore(): Promise<void> {
		if (!this.server) await this.start(this.listeningPort);
	}

	async stop(): Promise<void> {
		await this.cut();
	}

	private forward(client: Socket): void {
		const upstream = connect(this.target.port, this.target.host);
		for (const [socket, peer] of [
			[client, upstream],
			[upstream, client]
		] as const) {
			this.sockets.add(socket);
			socket.on("error", () => peer.destroy());
			socket.on("close", () => {
				this.sockets.delete(socket);
				peer.destroy();
			});
			socket.pipe(peer);
		}
	}
}
