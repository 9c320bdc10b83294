import { createServer, type AddressInfo } from "node:net";

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as AddressInfo;
			server.close(() => resolve(port));
		});
		server.on("error", reject);
	});
}

function isFree(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = createServer()
			.once("error", () => resolve(false))
			.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
	});
}

/** The first of `count` consecutive ports free on 127.0.0.1 right now (a cluster's gateway and health ports). */
export async function freePortBlock(count: number): Promise<number> {
	for (let attempt = 0; attempt < 50; attempt++) {
		const first = await freePort();
		if (first + count > 65_535) continue;
		const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => isFree(first + 1 + i)));
		if (rest.every(Boolean)) return first;
	}
	throw new Error(`No ${count} consecutive free ports found.`);
}
