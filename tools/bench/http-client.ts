/** Minimal JSON requests to the gateway over node:http with keep-alive (cheaper for the bench's CPU than fetch). */
import http from "node:http";

export interface JsonResponse {
	status: number;
	body: unknown;
}

export function requestJson(agent: http.Agent, baseUrl: string, method: string, path: string, userId: string, body?: unknown): Promise<JsonResponse> {
	const payload = body === undefined ? undefined : JSON.stringify(body);
	return new Promise((resolve, reject) => {
		const request = http.request(
			new URL(path, baseUrl),
			{
				method,
				agent,
				headers: { "X-User-Id": userId, ...(payload !== undefined && { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }) }
			},
			response => {
				const chunks: Buffer[] = [];
				response.on("data", (chunk: Buffer) => chunks.push(chunk));
				response.on("end", () => {
					const text = Buffer.concat(chunks).toString("utf8");
					try {
						resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : null });
					} catch {
						resolve({ status: response.statusCode ?? 0, body: text });
					}
				});
				response.on("error", reject);
			}
		);
		request.setTimeout(30_000, () => request.destroy(new Error(`${method} ${path} timed out`)));
		request.on("error", reject);
		request.end(payload);
	});
}
