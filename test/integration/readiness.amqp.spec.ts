/**
 * A node over RabbitMQ is ready only once it consumes its services' queues. Moleculer declares
 * them when it announces the node's services, a second (its debounce) after they started: a
 * request or event sent earlier goes to a queue that does not exist, and RabbitMQ drops it.
 */
import amqp from "amqplib";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import { freePort, waitFor } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

const probeService: ServiceSchema = {
	name: "probe",
	actions: { hello: () => "hello" },
	events: { "probe.happened": () => undefined }
};

describe.skipIf(!rabbitmqUrl)("readiness over RabbitMQ", () => {
	const namespace = `test-readiness-${Math.random().toString(16).slice(2, 10)}`; // "test-": its queues are removed after the run
	let broker: ServiceBroker;
	let connection: amqp.ChannelModel;
	let port: number;

	/** Whether the queue exists, and how many consume it (a channel per check: a missing queue closes it). */
	const queueState = async (queue: string) => {
		const channel = await connection.createChannel();
		channel.on("error", () => undefined);
		try {
			const { consumerCount } = await channel.checkQueue(queue);
			await channel.close();
			return { exists: true, consumers: consumerCount };
		} catch {
			return { exists: false, consumers: 0 };
		}
	};
	const ready = async () => {
		const response = await fetch(`http://127.0.0.1:${port}/ready`);
		return { status: response.status, body: (await response.json()) as { checks: { name: string; ready: boolean }[] } };
	};

	beforeAll(async () => {
		port = await freePort();
		connection = await amqp.connect(rabbitmqUrl!);
		broker = new ServiceBroker({
			...createBrokerOptions(loadConfiguration({ TRANSPORTER: rabbitmqUrl!, NAMESPACE: namespace, NODE_ID: `${namespace}-probe`, HEALTH_PORT: String(port), AMQP_QUEUE_EXPIRY_MS: "60000" })),
			logLevel: "warn"
		});
		broker.createService(probeService);
	});

	afterAll(async () => {
		await broker?.stop();
		await connection?.close();
	});

	it("reports not ready until the node consumes its services' queues, then ready", async () => {
		await broker.start();
		const eventQueue = `MOL-${namespace}.EVENTB.probe.probe.happened`;

		const early = await ready();
		expect(early.status).toBe(503);
		expect(early.body.checks).toContainEqual({ name: "queues", ready: false });
		expect((await queueState(eventQueue)).exists).toBe(false);

		await waitFor("the node to be ready", async () => (await ready()).status === 200 || null, 10_000);
		expect((await ready()).body.checks).toContainEqual({ name: "queues", ready: true });
		for (const queue of [eventQueue, `MOL-${namespace}.REQB.probe.hello`]) {
			const state = await queueState(queue);
			expect(state.exists).toBe(true);
			expect(state.consumers).toBeGreaterThanOrEqual(1);
		}
	});
});
