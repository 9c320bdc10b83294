/**
 * Moleculer's AMQP transporter, with persistence where it belongs: events are persistent (an
 * event for a consumer that is briefly down waits in its durable queue), requests and responses
 * are not (a request older than its caller's timeout is worthless, and writing it to disk costs
 * RabbitMQ time on every call).
 */
import { Transporters } from "moleculer";

const EVENT_PACKET = "EVENT"; // Moleculer's PACKET_EVENT

/** Moleculer's options, plus `socketOptions`, which it passes to amqplib but does not declare. */
type AmqpOptions = Exclude<ConstructorParameters<typeof Transporters.AMQP>[0], string | undefined> & { socketOptions?: { noDelay?: boolean } };

export class EventDurableAmqpTransporter extends Transporters.AMQP {
	constructor(options: AmqpOptions) {
		super(options);
	}

	override send(topic: string, data: Buffer, meta: { packet?: { type?: string } } & Record<string, unknown>): Promise<void> {
		const durable = this.opts.messageOptions;
		if (meta.packet?.type === EVENT_PACKET) return super.send(topic, data, meta);
		// The parent reads the options synchronously while sending: swap them for this message only.
		this.opts.messageOptions = { ...durable, persistent: false };
		try {
			return super.send(topic, data, meta);
		} finally {
			this.opts.messageOptions = durable;
		}
	}
}

