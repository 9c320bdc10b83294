/** The machine's RabbitMQ: its version, and removing what a run's namespaces left in it. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";
import { sleep } from "./clock";

const execFileAsync = promisify(execFile);

export async function rabbitmqVersion(url: string): Promise<string> {
	const connection = await amqp.connect(url, { timeout: 5000 });
	try {
		return String(connection.connection.serverProperties.version ?? "unknown");
	} finally {
		await connection.close();
	}
}

/** Names `rabbitmqctl` lists (queues or exchanges) that belong to the Moleculer namespace. */
async function namesOfNamespace(what: "list_queues" | "list_exchanges", namespace: string): Promise<string[]> {
	const { stdout } = await execFileAsync("rabbitmqctl", [what, "-q", "--no-table-headers", "name"], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
	// Moleculer's AMQP transporter prefixes everything with MOL-<namespace>.
	return stdout
		.split("\n")
		.map(line => line.trim())
		.filter(name => name.startsWith(`MOL-${namespace}.`));
}

/** The queues of a namespace. */
export function namespaceQueues(namespace: string): Promise<string[]> {
	return namesOfNamespace("list_queues", namespace);
}

/** Deletes the queues and exchanges of a namespace whose nodes have stopped. */
export async function deleteNamespace(url: string, namespace: string): Promise<void> {
	const queues = await namesOfNamespace("list_queues", namespace);
	const exchanges = await namesOfNamespace("list_exchanges", namespace);
	if (queues.length + exchanges.length === 0) return;
	const connection = await amqp.connect(url);
	try {
		const channel = await connection.createChannel();
		for (const queue of queues) await channel.deleteQueue(queue);
		for (const exchange of exchanges) await channel.deleteExchange(exchange);
		await channel.close();
	} finally {
		await connection.close();
	}
}

/**
 * Waits until no message waits in any queue of the namespace (twice in a row, a moment apart):
 * the consumers have worked through every backlog. Messages prefetched by a consumer (a few) do
 * not count.
 */
export async function waitUntilNamespaceQueuesEmpty(url: string, namespace: string, timeoutMs: number): Promise<void> {
	const queues = await namesOfNamespace("list_queues", namespace);
	const connection = await amqp.connect(url);
	try {
		const channel = await connection.createChannel();
		const deadline = Date.now() + timeoutMs;
		for (let emptyChecks = 0; emptyChecks < 2 && Date.now() < deadline;) {
			let waiting = 0;
			for (const queue of queues) waiting += (await channel.checkQueue(queue)).messageCount;
			emptyChecks = waiting === 0 ? emptyChecks + 1 : 0;
			await sleep(100);
		}
		await channel.close();
	} finally {
		await connection.close();
	}
}
