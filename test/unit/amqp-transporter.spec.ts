/**
 * Which messages RabbitMQ is asked to persist (events yes, but for the transient ones; requests
 * and responses no), an event for one group sent without a copy, and the writes of one tick
 * leaving in one system call (on a real loopback socket).
 */
import { once } from "node:events";
import net from "node:net";
import { Transporters } from "moleculer";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventDurableAmqpTransporter, coalesceWritesPerTick } from "../../lib/amqp-transporter";
import { EVENTS } from "../../lib/contracts";
import { createBrokerOptions } from "../../moleculer.config";

function transporterWithRecordingChannel(
	transporter = new EventDurableAmqpTransporter({
		url: "amqp://unused",
		messageOptions: { persistent: true, priority: 1 },
		transientEvents: ["outbox.confirmed"]
	})
) {
	const sent: { persistent?: boolean; priority?: number }[] = [];
	const record = (...args: unknown[]) => sent.push(args.at(-1) as { persistent?: boolean });
	(transporter as unknown as { channel: unknown }).channel = { sendToQueue: record, publish: record };
	(transporter as unknown as { broker: unknown }).broker = { Promise };
	return { transporter, sent };
}

describe("the AMQP transporter", () => {
	it("persists events only, but for the transient ones, keeping the other message options", async () => {
		const { transporter, sent } = transporterWithRecordingChannel();
		await transporter.send("MOL.EVENTB.payments.payment.requested", Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event: "payment.requested" } } });
		await transporter.send("MOL.EVENTB.orders.outbox.confirmed", Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event: "outbox.confirmed" } } });
		await transporter.send("MOL.REQB.orders.create", Buffer.from("{}"), { balanced: true, packet: { type: "REQ" } });
		await transporter.send("MOL.RES.node-1", Buffer.from("{}"), { balanced: false, packet: { type: "RES", target: "node-1" } });
		expect(sent).toEqual([
			{ persistent: true, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1 }
		]);
		expect(transporter.opts.messageOptions).toEqual({ persistent: true, priority: 1 });
	});

	it("as configured, persists the outbox's events and none whose loss is repaired anyway", async () => {
		const { transporter: configured } = createBrokerOptions({ TRANSPORTER: "amqp://guest:guest@127.0.0.1:5672" });
		const { transporter, sent } = transporterWithRecordingChannel(configured as EventDurableAmqpTransporter);
		const persisted: Record<string, boolean | undefined> = {};
		for (const event of Object.values(EVENTS)) {
			await transporter.send(`MOL.EVENTB.group.${event}`, Buffer.from("{}"), { balanced: true, packet: { type: "EVENT", payload: { event } } });
			persisted[event] = sent.at(-1)?.persistent;
		}
		expect(sent).toHaveLength(Object.values(EVENTS).length);
		expect(persisted).toEqual({
			[EVENTS.PAYMENT_REQUESTED]: true,
			[EVENTS.PAYMENT_PROCESSED]: true,
			[EVENTS.OUTBOX_CONFIRMED]: false,
			[EVENTS.OUTBOX_REJECTED]: false,
			[EVENTS.ORDER_STATUS_CHANGED]: false
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
		Object.assign(transporter as unknown as Record<string, unknown>, {
			broker: { Promise, getLocalNodeInfo: () => ({ services: [{ fullName: "probe" }] }) },
			channel: {},
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
		peer.on("data", chunk => (received += chunk));

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
