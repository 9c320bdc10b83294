/** Which messages RabbitMQ is asked to persist: events yes, requests and responses no. */
import { describe, expect, it } from "vitest";
import { EventDurableAmqpTransporter } from "../../lib/amqp-transporter";

function transporterWithRecordingChannel() {
	const transporter = new EventDurableAmqpTransporter({ url: "amqp://unused", messageOptions: { persistent: true, priority: 1 } });
	const sent: { persistent?: boolean; priority?: number }[] = [];
	const record = (...args: unknown[]) => sent.push(args.at(-1) as { persistent?: boolean });
	(transporter as unknown as { channel: unknown }).channel = { sendToQueue: record, publish: record };
	(transporter as unknown as { broker: unknown }).broker = { Promise };
	return { transporter, sent };
}

describe("the AMQP transporter", () => {
	it("persists events only, keeping the other message options", async () => {
		const { transporter, sent } = transporterWithRecordingChannel();
		await transporter.send("MOL.EVENTB.payments.payment.requested", Buffer.from("{}"), { balanced: true, packet: { type: "EVENT" } });
		await transporter.send("MOL.REQB.orders.create", Buffer.from("{}"), { balanced: true, packet: { type: "REQ" } });
		await transporter.send("MOL.RES.node-1", Buffer.from("{}"), { balanced: false, packet: { type: "RES", target: "node-1" } });
		expect(sent).toEqual([
			{ persistent: true, priority: 1 },
			{ persistent: false, priority: 1 },
			{ persistent: false, priority: 1 }
		]);
		expect(transporter.opts.messageOptions).toEqual({ persistent: true, priority: 1 });
	});
});
