/**
 * Moleculer's AMQP transporter, with persistence where it belongs and fewer system calls:
 * - events are persistent (an event for a consumer that is briefly down waits in its durable
 *   queue), requests and responses are not (a request older than its caller's timeout is
 *   worthless, and writing it to disk costs RabbitMQ time on every call), nor are the events named
 *   `transientEvents`: those whose loss the system repairs anyway (a lost confirmation means one
 *   more re-emit), where a disk write per message would buy nothing;
 * - the frames written in one tick leave in one write: amqplib writes every frame (each publish,
 *   each ack) with its own system call, and on loopback each one costs as much as a small query;
 * - an event for one group is sent as it is: Moleculer deep-copies an event's packet, payload
 *   included, for each of its groups, to give each copy that one group;
 * - it tells whether it consumes a local service's queues (`consumesQueuesOf`), for readiness.
 */
import type { Writable } from "node:stream";
import { Transporters, type Middleware, type Packet as Packets } from "moleculer";

const EVENT_PACKET = "EVENT"; // Moleculer's PACKET_EVENT

/** Moleculer's options, plus `socketOptions`, which it passes to amqplib but does not declare. */
type AmqpOptions = Exclude<ConstructorParameters<typeof Transporters.AMQP>[0], string | undefined> & { socketOptions?: { noDelay?: boolean } };

/** What the parent keeps of amqplib's connection: its socket is `connection.connection.stream`. */
interface AmqplibConnectionHolder {
	connection?: { connection?: { stream?: Writable } } | null;
}

/**
 * Corks the socket at its first write in a tick and uncorks it once the tick's work is done, so
 * that everything written meanwhile goes out in one `writev`. No delay is added: the data leaves
 * before the event loop moves on. `write`'s return value (back-pressure) is unchanged.
 */
export function coalesceWritesPerTick(socket: Writable): void {
	const write = socket.write;
	let corked = false;
	const flush = () => {
		corked = false;
		socket.uncork();
	};
	socket.write = function (this: Writable, ...args: unknown[]) {
		if (!corked) {
			corked = true;
			socket.cork();
			process.nextTick(flush);
		}
		return (write as (...writeArgs: unknown[]) => boolean).apply(this, args);
	} as Writable["write"];
}

export interface EventDurableAmqpOptions extends AmqpOptions {
	/** Events sent without persistence. */
	transientEvents?: readonly string[];
}

/** What the transporter reads of a packet it sends: its type and, for an event, the event's name. */
interface SentPacket {
	type?: string;
	payload?: { event?: string };
}

export class EventDurableAmqpTransporter extends Transporters.AMQP {
	private readonly transientEvents: ReadonlySet<string>;
	private readonly transientMessageOptions: Record<string, unknown>;
	/** Services whose request and event queues are consumed, as of the last (re)subscription on this connection. */
	private consumedServices: ReadonlySet<string> = new Set();
	/** Event queue subscriptions of the (re)subscription in progress: Moleculer does not wait for them. */
	private eventSubscriptions: Promise<unknown>[] = [];
	private subscriptionRound = 0;

	constructor({ transientEvents = [], ...options }: EventDurableAmqpOptions) {
		super(options);
		this.transientEvents = new Set(transientEvents);
		this.transientMessageOptions = { ...this.opts.messageOptions, persistent: false };
	}

	/**
	 * Whether this node, connected, consumes the queues of the local service `fullName`. Moleculer
	 * declares and consumes them only when it announces the node's services, which it debounces
	 * (`serviceChangedDebounceTime`, a second by default): until then, requests and events for the
	 * service wait in queues nobody consumes, or, on a first deployment, go to queues that do not
	 * exist yet, and RabbitMQ drops them.
	 */
	consumesQueuesOf(fullName: string): boolean {
		return this.connected && this.consumedServices.has(fullName);
	}

	override subscribeBalancedEvent(event: string, group: string): Promise<void> {
		const subscribed = super.subscribeBalancedEvent(event, group);
		this.eventSubscriptions.push(Promise.resolve(subscribed));
		return subscribed;
	}

	override makeBalancedSubscriptions(): Promise<void> {
		const round = ++this.subscriptionRound;
		const services = this.broker.getLocalNodeInfo().services.map(service => String(service.fullName));
		this.eventSubscriptions = [];
		return super
			.makeBalancedSubscriptions()
			.then(() => Promise.all(this.eventSubscriptions))
			.then(() => {
				// Without a channel the parent subscribes nothing and still resolves; a later round supersedes this one.
				const channel = (this as unknown as { channel?: unknown }).channel;
				if (channel && round === this.subscriptionRound) this.consumedServices = new Set(services);
			});
	}

	override onConnected(wasReconnect?: boolean): Promise<unknown> {
		// A new connection consumes nothing until Moleculer subscribes again.
		this.consumedServices = new Set();
		const socket = (this as unknown as AmqplibConnectionHolder).connection?.connection?.stream;
		if (socket) coalesceWritesPerTick(socket);
		return super.onConnected(wasReconnect);
	}

	override prepublish(packet: Packets.Packet<Packets.PacketPayload>): Promise<void> {
		const groups = (packet.payload as Partial<Packets.PacketEventPayload>).groups;
		if (this.connected && packet.type === EVENT_PACKET && packet.target == null && groups?.length === 1) {
			// As the parent sends a grouped event: to the group's queue, without waiting for it.
			void this.publishBalancedEvent(packet as Packets.Packet<Packets.PacketEventPayload>, groups[0]);
			return this.broker.Promise.resolve();
		}
		return super.prepublish(packet);
	}

	override send(topic: string, data: Buffer, meta: { packet?: SentPacket } & Record<string, unknown>): Promise<void> {
		const durable = this.opts.messageOptions;
		const { type, payload } = meta.packet ?? {};
		if (type === EVENT_PACKET && !this.transientEvents.has(payload?.event ?? "")) return super.send(topic, data, meta);
		// The parent reads the options synchronously while sending: swap them for this message only.
		this.opts.messageOptions = this.transientMessageOptions;
		try {
			return super.send(topic, data, meta);
		} finally {
			this.opts.messageOptions = durable;
		}
	}
}

type CallTarget = string | { local?: boolean; action: { name: string } };
type Call = (target: CallTarget, params?: unknown, opts?: Record<string, unknown>) => Promise<unknown>;

/**
 * Requests to another process go to the action's shared queue, which RabbitMQ hands to a live
 * consumer, not to the queue of the one instance moleculer-web picked from the registry: a killed
 * instance stays listed for 30 to 60 s (the heartbeat timeout), and each request sent to its own
 * queue waited there for the whole request timeout (about half of them, with two instances: 504).
 * A request taken by an instance that dies before answering is handed to another when its
 * connection drops (it is acknowledged only once handled): creates are safe to send twice with an
 * Idempotency-Key. Calls that name a node (`nodeID`), and calls to this process's own actions
 * (its `/ready` must be its own), keep their target.
 */
export const requestsBalancedByRabbitMq = {
	name: "RequestsBalancedByRabbitMQ",
	call(next: Call): Call {
		return (target, params, opts) => next(typeof target === "string" || target.local || opts?.nodeID ? target : target.action.name, params, opts);
	}
	// Moleculer's typings have a `call` hook return a promise; it returns the wrapped call.
} as unknown as Middleware;
