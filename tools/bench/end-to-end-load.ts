/**
 * End-to-end load through the gateway: closed-loop clients, each its own user with its own live
 * channel open before the level starts. A client posts an order, waits until its final status is
 * pushed, and posts the next one. After a warm-up, latencies are those of the orders started in
 * the measured window, throughput the final statuses that arrived in it.
 */
import http from "node:http";
import { wallClockMs, sleep } from "./clock";
import { requestJson } from "./http-client";
import { OrderStatusStream } from "./order-status-stream";
import type { ResourceSampler } from "./resource-sampler";
import type { EndToEndLevel } from "./results";
import { summarize } from "./stats";

/** One order's timeline, wall clock ms. */
export interface OrderTimeline {
	orderId: string;
	postStartedAt: number;
	answeredAt: number;
	finalAt: number;
}

export interface EndToEndRun {
	figures: EndToEndLevel;
	/** The orders started in the window, with their timelines. */
	timelines: OrderTimeline[];
}

const ORDER_TIMEOUT_MS = 30_000;
const PAUSE_AFTER_ERROR_MS = 100;
/** A large balance per user: no order is refused during the run. */
const TOP_UP_AMOUNT = 1_000_000_000;
const ORDER = { amount: 1, description: "bench order" };

export function benchUser(index: number): string {
	return `bench-${index}`;
}

/** Opens an account with a large balance for each user (an existing account is topped up again). */
export async function prepareUsers(gatewayUrl: string, users: readonly string[]): Promise<void> {
	const agent = new http.Agent({ keepAlive: true });
	try {
		await Promise.all(
			users.map(async user => {
				const account = await requestJson(agent, gatewayUrl, "POST", "/api/accounts", user, {});
				if (account.status !== 201 && account.status !== 409) throw new Error(`POST /api/accounts for ${user}: ${account.status} ${JSON.stringify(account.body)}`);
				const topUp = await requestJson(agent, gatewayUrl, "POST", "/api/accounts/topup", user, { amount: TOP_UP_AMOUNT });
				if (topUp.status !== 200) throw new Error(`POST /api/accounts/topup for ${user}: ${topUp.status} ${JSON.stringify(topUp.body)}`);
			})
		);
	} finally {
		agent.destroy();
	}
}

export async function runEndToEndLevel(gatewayUrl: string, users: readonly string[], warmupMs: number, measureMs: number, sampler: ResourceSampler): Promise<EndToEndRun> {
	const agent = new http.Agent({ keepAlive: true });
	const streams = await Promise.all(users.map(user => OrderStatusStream.open(gatewayUrl, user)));
	const measureFrom = wallClockMs() + warmupMs;
	const measureTo = measureFrom + measureMs;
	const timelines: OrderTimeline[] = [];
	const counts = { failedCreates: 0, unfinished: 0, notFinished: 0 };
	let firstError: string | null = null;
	const fail = async (message: string) => {
		firstError ??= message;
		await sleep(PAUSE_AFTER_ERROR_MS);
	};

	const client = async (user: string, stream: OrderStatusStream) => {
		while (wallClockMs() < measureTo) {
			const postStartedAt = wallClockMs();
			const answer = await requestJson(agent, gatewayUrl, "POST", "/api/orders", user, ORDER).catch((err: Error) => ({ status: 0, body: err.message }));
			const answeredAt = wallClockMs();
			if (answer.status !== 201) {
				counts.failedCreates++;
				await fail(`POST /api/orders: ${answer.status} ${JSON.stringify(answer.body)}`);
				continue;
			}
			const orderId = (answer.body as { id: string }).id;
			const final = await stream.waitForFinal(orderId, ORDER_TIMEOUT_MS);
			if (!final) {
				counts.unfinished++;
				firstError ??= `order ${orderId}: no final status pushed within ${ORDER_TIMEOUT_MS} ms`;
				continue;
			}
			if (final.status !== "FINISHED") counts.notFinished++;
			timelines.push({ orderId, postStartedAt, answeredAt, finalAt: final.at });
		}
	};

	try {
		const clients = users.map((user, index) => client(user, streams[index]));
		await sleep(measureFrom - wallClockMs());
		sampler.start();
		await sleep(measureTo - wallClockMs());
		const resources = sampler.stop();
		await Promise.all(clients);

		const started = timelines.filter(t => t.postStartedAt >= measureFrom && t.postStartedAt < measureTo);
		const completed = timelines.filter(t => t.finalAt >= measureFrom && t.finalAt < measureTo).length;
		return {
			figures: {
				clients: users.length,
				ordersPerSecond: completed / (measureMs / 1000),
				createToFinal: summarize(started.map(t => t.finalAt - t.postStartedAt)),
				httpCreate: summarize(started.map(t => t.answeredAt - t.postStartedAt)),
				...counts,
				firstError,
				resources
			},
			timelines: started
		};
	} finally {
		for (const stream of streams) stream.close();
		agent.destroy();
	}
}
