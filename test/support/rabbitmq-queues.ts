/**
 * Removes what test namespaces leave in RabbitMQ. Moleculer's request queues (`REQB`) never expire
 * (its `autoDeleteQueues` sets no expiry on them), so a namespace made up for one run keeps them
 * for good unless they are deleted.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";

const execFileAsync = promisify(execFile);

/**
 * Deletes the queues without consumers and the exchanges (unused) whose names start with one of
 * `prefixes`. Listing needs `rabbitmqctl` (a local RabbitMQ); without it nothing is removed.
 */
export async function deleteUnusedQueues(url: string, prefixes: readonly string[]): Promise<void> {
	/** Rows of a listing (tab-separated columns) whose first column starts with a prefix. */
	const list = async (what: string, ...columns: string[]) => {
		try {
			const { stdout } = await execFileAsync("rabbitmqctl", [what, "-q", "--no-table-headers", "name", ...columns], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
			return stdout
				.split("\n")
				.map(line => line.trim().split("\t"))
				.filter(([name]) => prefixes.some(prefix => name.startsWith(prefix)));
		} catch {
			return [];
		}
	};
	// Queues without consumers, deleted without `if-unused`: quorum queues refuse that flag, and
	// RabbitMQ answers it by closing the whole connection.
	const queues = (await list("list_queues", "consumers")).filter(([, consumers]) => consumers === "0").map(([name]) => name);
	const exchanges = (await list("list_exchanges")).map(([name]) => name);
	if (queues.length + exchanges.length === 0) return;
	const connection = await amqp.connect(url);
	connection.on("error", () => undefined);
	for (const queue of queues) {
		const channel = await connection.createChannel(); // a refused delete closes its channel...
		channel.on("error", () => undefined); // ...with an error event, which must not crash the run
		await channel.deleteQueue(queue).catch(() => undefined);
		await channel.close().catch(() => undefined);
	}
	for (const exchange of exchanges) {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		await channel.deleteExchange(exchange, { ifUnused: true }).catch(() => undefined);
		await channel.close().catch(() => undefined);
	}
	await connection.close();
}
