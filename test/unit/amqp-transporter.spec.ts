/**
 * Which messages RabbitMQ is asked to persist (events yes, but for the transient ones; requests
 * and responses no), an event for one group sent without a copy, the writes of one tick leaving
 * in one system call (on a real loopback socket), the queues' types, and how each thing RabbitMQ
 * does to a channel turns into a reconnection (issue 19; against RabbitMQ itself:
 * test/integration/amqp-recovery.amqp.spec.ts).
 */
import { EventEmitter, once } from "node:events";
import net from "node:net";
import { Errors, Transporters, type ServiceBroker } from "moleculer";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConsumeMessage } from "amqplib";
import { EventDurableAmqpTransporter, coalesceWritesPerTick, isTransporterWorking, type QueueType } from "../../platform/amqp-transporter";
import { MESSAGING_EVENTS } from "../../mixins/messaging-contracts";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { ORDER_EVENTS } from "../../services/orders/contracts";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";

/** What the transporter uses of an amqplib channel. */
function fakeChannel(methods: Record<string, unknown> = {}) {
	return Object.assign(new EventEmitter(), { ack: vi.fn(), nack: vi.fn(), prefetch: vi.fn(async () => ({})) }, methods);
}

function transporterWithRecordingChannel(
	transporter = new EventDurableAmqpTransporter({
		url: "amqp://unused",
		messageOptions: { persistent: true, priority: 1 },
		transientEvents: ["outbox.confirmed"]
	})
) {
	const sent: { persistent?: boolean; priority?: number }[] = [];
	const record = (...args: unknown[]) => sent.push(args.at(-1) as { persistent?: boolean });
	(transporter as unknown as { channel: unknown }).channel = fakeChannel({ sendToQueue: record, publish: record });
	(transporter as unknown as { broker: unknown }).broker = { Promise };
	return { transporter, sent };
}

describe("the AMQP transporter", () => {
	it("persists events only, but for the transient ones, keeping the other message options", async () => {
		const { transporter, sent } = transporterWithRecordingChannel();
		await transporter.send("MOL.EVENTB.payments.payment.requested", Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event: "payment.requested" } } });
		await transporter.send("MOL.EVENTB.orders.outbox.confirmed", Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event: "outbox.confirmed" } } });
		await transporter.send("MOL.REQB.orders.create", Buffer.from("{}"), { balanced: true, packet: { type: "REQ" } });
		await transporter.send("MOL.RES.node-1", Buffer.from("{}"), { balanced: false, packet: { type: "RES" } });
		// A request expires when its caller stops waiting (issue 19: run later, it could apply twice).
		await transporter.send("MOL.REQB.orders.create", Buffer.from("{}"), { balanced: true, packet: { type: "REQ", payload: { timeout: 10_000 } } });
		await transporter.send("MOL.REQB.payments.paymentTrail", Buffer.from("{}"), { balanced: true, packet: { type: "REQ", payload: { timeout: 9_871.25 } } });
		expect(sent).toEqual([
			{ persistent: true, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1, expiration: "10000" },
			{ persistent: false, priority: 1, expiration: "9872" } // whole milliseconds, or RabbitMQ closes the channel
		]);
		expect(transporter.opts.messageOptions).toEqual({ persistent: true, priority: 1 });
	});

	it("as configured, persists the outbox's events and none whose loss is repaired anyway", async () => {
		const { transporter: configured } = createBrokerOptions(loadConfiguration({ TRANSPORTER: "amqp://guest:guest@127.0.0.1:5672" }));
		const { transporter, sent } = transporterWithRecordingChannel(configured as EventDurableAmqpTransporter);
		const persisted: Record<string, boolean | undefined> = {};
		const events = [...Object.values(ORDER_EVENTS), ...Object.values(PAYMENT_EVENTS), ...Object.values(MESSAGING_EVENTS)];
		for (const event of events) {
			await transporter.send(`MOL.EVENTB.group.${event}`, Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event } } });
			persisted[event] = sent.at(-1)?.persistent;
		}
		expect(sent).toHaveLength(events.length);
		expect(persisted).toEqual({
			[ORDER_EVENTS.PAYMENT_REQUESTED]: true,
			[PAYMENT_EVENTS.PAYMENT_PROCESSED]: true,
			[ORDER_EVENTS.PAYMENT_CANCEL_REQUESTED]: true,
			[PAYMENT_EVENTS.CANCEL_PROCESSED]: true,
			[MESSAGING_EVENTS.OUTBOX_CONFIRMED]: false,
			[MESSAGING_EVENTS.OUTBOX_REJECTED]: false,
			[ORDER_EVENTS.ORDER_STATUS_CHANGED]: false
		});
	});
});

describe("the AMQP transporter's grouped events", () => {
	function connectedTransporter() {
		const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused", messageOptions: { persistent: true } });
		const sent: { topic: string; packet: unknown; body: Record<string, unknown> }[] = [];
		Object.assign(transporter as unknown as Record<string, unknown>, {
			broker: { Promise, PROTOCOL_VERSION: "5", serializer: { serialize: (payload: unknown) => Buffer.from(JSON.stringify(payload)) } },
			nodeID: "node-1",
			prefix: "MOL",
			connected: true
		});
		transporter.send = async (topic, data, meta) => void sent.push({ topic, packet: meta.packet, body: JSON.parse(String(data)) });
		return { transporter, sent };
	}
	const eventPacket = (groups: string[]) =>
		({ type: "EVENT", target: null, payload: { event: "payment.requested", data: { eventId: "e-1", payload: { amountMinor: 100 } }, groups } }) as unknown as Parameters<
			EventDurableAmqpTransporter["prepublish"]
		>[0];

	it("sends an event for one group as it is, to that group's queue, without a copy", async () => {
		const { transporter, sent } = connectedTransporter();
		const packet = eventPacket(["payments"]);
		await transporter.prepublish(packet);
		expect(sent).toHaveLength(1);
		expect(sent[0].topic).toBe("MOL.EVENTB.payments.payment.requested");
		expect(sent[0].packet).toBe(packet); // Moleculer's own path sends a deep copy
		expect(sent[0].body).toMatchObject({ event: "payment.requested", groups: ["payments"], data: { eventId: "e-1", payload: { amountMinor: 100 } }, sender: "node-1" });
	});

	it("leaves events for several groups, and sending while disconnected, to Moleculer", async () => {
		const { transporter, sent } = connectedTransporter();
		await transporter.prepublish(eventPacket(["orders", "payments"]));
		expect(sent.map(message => [message.topic, (message.body as { groups: string[] }).groups])).toEqual([
			["MOL.EVENTB.orders.payment.requested", ["orders"]],
			["MOL.EVENTB.payments.payment.requested", ["payments"]]
		]);
		(transporter as unknown as { connected: boolean }).connected = false;
		await expect(transporter.prepublish(eventPacket(["payments"]))).rejects.toThrow(/disconnected/);
	});
});

describe("the AMQP transporter's readiness (consumesQueuesOf)", () => {
	afterEach(() => vi.restoreAllMocks());

	it("counts the transporter as working only while a channel consumes the node's queues, whatever transit.connected says", () => {
		const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused" });
		// Moleculer's transit stays "connected" through an outage, once it has connected.
		const broker = { transit: { connected: true, tx: transporter } } as unknown as ServiceBroker;
		const connection = {};
		Object.assign(transporter as unknown as Record<string, unknown>, { channel: fakeChannel(), connection, connected: true });
		expect(isTransporterWorking(broker)).toBe(false); // Moleculer has not subscribed on this connection yet
		Object.assign(transporter as unknown as Record<string, unknown>, { subscribedConnection: connection });
		expect(isTransporterWorking(broker)).toBe(true);
		(transporter as unknown as { channel: unknown }).channel = null; // closed
		expect(isTransporterWorking(broker)).toBe(false);
	});

	it("counts a service's queues as consumed once its event queues are too, and only while connected", async () => {
		let eventQueueConsumed!: () => void;
		const eventSubscription = new Promise<void>(resolve => (eventQueueConsumed = resolve));
		// Moleculer's own subscription round: request queues awaited, event queues not.
		vi.spyOn(Transporters.Base.prototype, "makeBalancedSubscriptions").mockImplementation(function (this: Transporters.Base) {
			void this.subscribeBalancedEvent("probe.happened", "probe");
			return Promise.resolve();
		});
		vi.spyOn(Transporters.AMQP.prototype, "subscribeBalancedEvent").mockReturnValue(eventSubscription);
		const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused" });
		const connection = {};
		Object.assign(transporter as unknown as Record<string, unknown>, {
			broker: { Promise, getLocalNodeInfo: () => ({ services: [{ fullName: "probe" }] }) },
			channel: fakeChannel(),
			connection,
			subscribedConnection: connection, // Moleculer has subscribed to the node's own queues on it
			connected: true
		});

		const round = transporter.makeBalancedSubscriptions();
		await new Promise(resolve => setImmediate(resolve));
		expect(transporter.consumesQueuesOf("probe")).toBe(false); // its event queue is not consumed yet
		eventQueueConsumed();
		await round;
		expect(transporter.consumesQueuesOf("probe")).toBe(true);
		expect(transporter.consumesQueuesOf("other")).toBe(false);

		(transporter as unknown as { connected: boolean }).connected = false; // the connection dropped
		expect(transporter.consumesQueuesOf("probe")).toBe(false);
	});
});

describe("the AMQP transporter's queue types", () => {
	const queueOptions = (queueType?: QueueType) => {
		const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused", autoDeleteQueues: 60_000, queueType });
		return (packetType: string, balanced?: boolean) => transporter._getQueueOptions(packetType, balanced);
	};

	it("declares the queues as Moleculer does, by default", () => {
		const options = queueOptions();
		expect(options("REQ", true)).toEqual({});
		expect(options("EVENTLB", true)).toEqual({ expires: 60_000 });
		expect(options("RES")).toEqual({ expires: 60_000 });
		expect(options("HEARTBEAT")).toEqual({ autoDelete: true });
	});

	it("with quorum, makes the shared queues quorum queues and the node's own classic ones exclusive to its connection, expiries kept", () => {
		const options = queueOptions("quorum");
		expect(options("REQ", true)).toEqual({ arguments: { "x-queue-type": "quorum" } });
		expect(options("EVENTLB", true)).toEqual({ expires: 60_000, arguments: { "x-queue-type": "quorum" } });
		expect(options("REQ")).toEqual({ expires: 60_000, durable: false, exclusive: true, arguments: { "x-queue-type": "classic" } });
		expect(options("HEARTBEAT")).toEqual({ autoDelete: true, durable: false, exclusive: true, arguments: { "x-queue-type": "classic" } });
	});

	it("is configured by AMQP_QUEUE_TYPE, which refuses anything but classic and quorum", () => {
		const configured = (AMQP_QUEUE_TYPE?: string) => createBrokerOptions(loadConfiguration({ TRANSPORTER: "amqp://unused", AMQP_QUEUE_TYPE })).transporter as EventDurableAmqpTransporter;
		expect(configured()._getQueueOptions("REQ", true)).toEqual({});
		expect(configured("quorum")._getQueueOptions("REQ", true)).toEqual({ arguments: { "x-queue-type": "quorum" } });
		expect(() => configured("stream")).toThrow('AMQP_QUEUE_TYPE must be one of classic, quorum, not "stream".');
	});
});

describe("the AMQP transporter's recovery from what RabbitMQ does to its channel (issue 19)", () => {
	const message = { content: Buffer.from("{}"), fields: { deliveryTag: 1 } } as unknown as ConsumeMessage;
	const nextTurn = () => new Promise(resolve => setImmediate(resolve));

	function transporterOnFakeConnection() {
		const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused" });
		const connection = { close: vi.fn(async () => undefined) };
		const channel = fakeChannel();
		Object.assign(transporter as unknown as Record<string, unknown>, {
			broker: { Promise },
			transit: { disconnecting: false },
			logger: { warn: vi.fn(), error: vi.fn(), info: vi.fn(), fatal: vi.fn() },
			connection,
			subscribedConnection: connection,
			channel,
			connected: true
		});
		transporter.receive = vi.fn(async () => undefined);
		return { transporter, connection, channel };
	}

	it("reconnects once when RabbitMQ cancels its consumers (amqplib delivers null), instead of crashing", async () => {
		const { transporter, connection } = transporterOnFakeConnection();
		const consume = transporter._consumeCB("REQ", true);
		expect(() => consume(null)).not.toThrow();
		void consume(null); // amqplib does not wait for its consumer either
		expect(transporter.connected).toBe(false); // sends fail at once, with a retryable error
		expect(transporter.hasWorkingChannel()).toBe(false);
		await nextTurn();
		expect(connection.close).toHaveBeenCalledTimes(1); // Moleculer reconnects on its close
	});

	it("reconnects when RabbitMQ closes the channel, but not when Moleculer closes it to stop", async () => {
		const { connection, channel } = transporterOnFakeConnection();
		channel.emit("close");
		await nextTurn();
		expect(connection.close).toHaveBeenCalledTimes(1);

		const stopping = transporterOnFakeConnection();
		stopping.transporter.transit.disconnecting = true;
		stopping.channel.emit("close");
		await nextTurn();
		expect(stopping.connection.close).not.toHaveBeenCalled();
	});

	it("runs a request at most once: one RabbitMQ delivers again (its first taker lost its connection) is dropped, an event is not", async () => {
		const { transporter, channel } = transporterOnFakeConnection();
		const redelivered = { ...message, fields: { deliveryTag: 2, redelivered: true } } as unknown as ConsumeMessage;
		await transporter._consumeCB("REQ", true)(redelivered);
		expect(transporter.receive).not.toHaveBeenCalled();
		expect(channel.ack).toHaveBeenCalledWith(redelivered);
		await transporter._consumeCB("EVENT", true)(redelivered);
		expect(transporter.receive).toHaveBeenCalledTimes(1);
	});

	it("settles a message on the channel it came on, and nowhere once that channel is gone", async () => {
		const { transporter, channel: first } = transporterOnFakeConnection();
		const consume = transporter._consumeCB("REQ", true);
		const second = fakeChannel();
		(transporter as unknown as { channel: unknown }).channel = second; // a reconnection meanwhile
		await consume(message);
		expect(first.ack).toHaveBeenCalledWith(message);
		expect(second.ack).not.toHaveBeenCalled(); // its delivery tag is unknown there: RabbitMQ would close that channel

		first.ack.mockImplementation(() => {
			throw new Error("Channel closed");
		});
		await expect(consume(message)).resolves.toBeUndefined();
	});

	it("fails a send on a channel that closed under it with a retryable error, instead of throwing", async () => {
		const { transporter, connection } = transporterOnFakeConnection();
		const closed = () => {
			throw new Error("Channel closed");
		};
		(transporter as unknown as { channel: unknown }).channel = fakeChannel({ sendToQueue: closed, publish: closed });
		const sent = transporter.send("MOL.REQB.probe.hello", Buffer.from("{}"), { balanced: true, packet: { type: "REQ" } });
		await expect(sent).rejects.toBeInstanceOf(Errors.BrokerDisconnectedError);
		await nextTurn();
		expect(connection.close).toHaveBeenCalledTimes(1);
	});

	it("leaves no prefetch unhandled when the channel closes before RabbitMQ answers it", async () => {
		const { transporter } = transporterOnFakeConnection();
		const unhandled: unknown[] = [];
		const record = (reason: unknown) => unhandled.push(reason);
		process.on("unhandledRejection", record);
		(transporter as unknown as { channel: unknown }).channel = fakeChannel({ prefetch: () => Promise.reject(new Error("Channel ended, no reply will be forthcoming")) });
		void transporter.channel!.prefetch(10); // as Moleculer does
		await nextTurn();
		process.off("unhandledRejection", record);
		expect(unhandled).toEqual([]);
	});

	it("stops the process with one line saying what to do when a queue exists with another type", () => {
		const { transporter, channel } = transporterOnFakeConnection();
		const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as typeof process.exit);
		const fatal = vi.mocked(transporter.logger.fatal);
		channel.emit("error", Object.assign(new Error("Channel closed by server: 404 (NOT-FOUND) with message \"NOT_FOUND - no queue 'q'\""), { code: 404 }));
		expect(exit).not.toHaveBeenCalled(); // any other channel error: a reconnection

		const refusal = `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'MOL-ns.REQB.orders.create' in vhost '/': received the value 'quorum' of type 'longstr' but current is none`;
		channel.emit("error", Object.assign(new Error(`Channel closed by server: 406 (PRECONDITION-FAILED) with message "${refusal}"`), { code: 406 }));
		expect(exit).toHaveBeenCalledWith(1);
		expect(fatal).toHaveBeenCalledTimes(1);
		const [line, ...more] = fatal.mock.calls[0] as [string];
		expect(more).toEqual([]); // nothing that prints as another line (or as "undefined")
		expect(line).toMatch(/^RabbitMQ has queue 'MOL-ns\.REQB\.orders\.create' with another 'x-queue-type' than this node declares \(AMQP_QUEUE_TYPE=classic\)/);
		expect(line).toContain("Start with a new NAMESPACE, or delete the namespace's queues first");
		exit.mockRestore();
	});
});

describe("coalesceWritesPerTick", () => {
	it("sends the writes of one tick in one system call, all of them, in order", async () => {
		const server = net.createServer();
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		const { port } = server.address() as net.AddressInfo;
		const accepted = once(server, "connection");
		const socket = net.connect(port, "127.0.0.1");
		await once(socket, "connect");
		const [peer] = (await accepted) as [net.Socket];
		let received = "";
		peer.on("data", (chunk: Buffer) => (received += chunk.toString()));

		// The socket's native handle: each call is one system call.
		const handle = (socket as unknown as { _handle: Record<string, (...args: unknown[]) => unknown> })._handle;
		const calls = { writeBuffer: 0, writev: 0 };
		for (const name of ["writeBuffer", "writev"] as const) {
			const native = handle[name];
			handle[name] = function (this: unknown, ...args: unknown[]) {
				calls[name]++;
				return native.apply(this, args);
			};
		}

		coalesceWritesPerTick(socket);
		const frames = Array.from({ length: 20 }, (_, i) => `frame-${i};`);
		for (const frame of frames) expect(socket.write(Buffer.from(frame))).toBe(true);
		await new Promise(resolve => setImmediate(resolve));
		expect(calls).toEqual({ writeBuffer: 0, writev: 1 });

		socket.write(Buffer.from("next-tick;")); // a later tick: its own write
		await new Promise(resolve => setImmediate(resolve));
		expect(calls.writeBuffer + calls.writev).toBe(2);

		await expect.poll(() => received).toBe([...frames, "next-tick;"].join(""));
		socket.destroy();
		peer.destroy();
		server.close();
	});
});
