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
 * - it tells whether it consumes a local service's queues (`consumesQueuesOf`), for readiness;
 * - no broker event ends the process or leaves it deaf (issue 19): a consumer that RabbitMQ
 *   cancels (amqplib passes `null`, which Moleculer reads `.content` of), a channel RabbitMQ closes
 *   (a channel error, a queue gone), a send on a channel that closed under it: each is turned into
 *   a lost connection, the one loss Moleculer recovers from (reconnect after 5 s, redeclare,
 *   resubscribe). Meanwhile `hasWorkingChannel()` is false, and sends fail with a retryable error;
 * - `queueType: "quorum"` makes the shared queues quorum queues (replicated over a cluster's
 *   nodes); Moleculer's `queueOptions` cannot, as it applies to the node's own auto-deleted queues too.
 */
import type { Writable } from "node:stream";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { Errors, Transporters, type Middleware, type Packet as Packets, type ServiceBroker } from "moleculer";

const EVENT_PACKET = "EVENT"; // Moleculer's PACKET_EVENT
const REQUEST_PACKET = "REQ"; // Moleculer's PACKET_REQUEST

/** Moleculer's options, plus `socketOptions`, which it passes to amqplib but does not declare. */
type AmqpOptions = Exclude<ConstructorParameters<typeof Transporters.AMQP>[0], string | undefined> & {
	socketOptions?: { noDelay?: boolean; clientProperties?: Record<string, unknown> };
};

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

export const QUEUE_TYPES = ["classic", "quorum"] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];

export interface EventDurableAmqpOptions extends AmqpOptions {
	/** Events sent without persistence. */
	transientEvents?: readonly string[];
	/** The type of the shared (balanced) request and event queues; default `classic`. */
	queueType?: QueueType;
}

/**
 * RabbitMQ's refusal to declare an existing queue with other settings ("PRECONDITION_FAILED -
 * inequivalent arg 'x-queue-type' for queue '...'"): the queue's name and the differing setting.
 */
function inequivalentQueue(err: unknown): { queue: string; setting: string } | null {
	const match = /inequivalent arg '([^']+)' for queue '([^']+)'/.exec(String((err as Error | undefined)?.message));
	return (err as { code?: number } | undefined)?.code === 406 && match ? { setting: match[1], queue: match[2] } : null;
}

/**
 * Whether the broker's transporter can send and receive now. `transit.connected` stays true
 * through an outage once the first connection is made; ours also says whether it has a channel
 * that consumes the node's queues.
 */
export function isTransporterWorking(broker: ServiceBroker): boolean {
	const transit = broker.transit;
	if (!transit) return true;
	return transit.connected && (transit.tx instanceof EventDurableAmqpTransporter ? transit.tx.hasWorkingChannel() : transit.tx.connected);
}

/** What the transporter reads of a packet it sends: its type and, for an event, the event's name. */
interface SentPacket {
	type?: string;
	payload?: { event?: string; timeout?: number };
}

/** Acks or nacks (requeues) a message. On a channel closed since, amqplib throws, and RabbitMQ has requeued it by itself. */
function settle(channel: Channel, msg: ConsumeMessage, outcome: "ack" | "nack"): void {
	try {
		if (outcome === "ack") channel.ack(msg);
		else channel.nack(msg);
	} catch {
		// The channel is gone, and with it the delivery: nothing left to settle.
	}
}

export class EventDurableAmqpTransporter extends Transporters.AMQP {
	// What the parent holds (its typings say `any`).
	declare channel: Channel | null;
	declare connection: ChannelModel | null;
	private readonly transientEvents: ReadonlySet<string>;
	private readonly transientMessageOptions: Record<string, unknown>;
	private readonly queueType: QueueType;
	/** Services whose request and event queues are consumed, as of the last (re)subscription on this connection. */
	private consumedServices: ReadonlySet<string> = new Set();
	/** Event queue subscriptions of the (re)subscription in progress: Moleculer does not wait for them. */
	private eventSubscriptions: Promise<unknown>[] = [];
	private subscriptionRound = 0;
	/** The connection on which Moleculer last finished subscribing to the node's queues and announcing it. */
	private subscribedConnection: unknown = null;
	/** The connection given up on (closed so that Moleculer reconnects): each loss is handled once. */
	private abandonedConnection: unknown = null;

	constructor({ transientEvents = [], queueType = "classic", ...options }: EventDurableAmqpOptions) {
		super(options);
		this.transientEvents = new Set(transientEvents);
		this.transientMessageOptions = { ...this.opts.messageOptions, persistent: false };
		this.queueType = queueType;
		// Moleculer adopts each new channel by assigning it: the one moment to watch it before it is used.
		let channel: Channel | null = null;
		Object.defineProperty(this, "channel", {
			get: () => channel,
			set: (next: Channel | null) => {
				channel = next;
				if (next) this.watchChannel(next);
			}
		});
	}

	override init(...args: Parameters<Transporters.Base["init"]>): void {
		super.init(...args);
		// RabbitMQ shows it as the connection's name (management UI, `rabbitmqctl list_connections
		// client_properties`): which node a connection is, to close or to look at.
		const opts = this.opts as AmqpOptions;
		opts.socketOptions = { ...opts.socketOptions, clientProperties: { connection_name: this.nodeID } };
	}

	/** A reconnection Moleculer scheduled before the broker stopped (its timer is not cleared) would open a connection nobody closes. */
	override connect(...args: unknown[]): Promise<void> {
		if (this.broker.stopping) return this.broker.Promise.resolve();
		// The typings omit the error callback that Moleculer's transit passes.
		const connect: (...connectArgs: unknown[]) => Promise<void> = super.connect;
		return connect.apply(this, args);
	}

	/**
	 * Whether this node, connected, consumes the queues of the local service `fullName`. Moleculer
	 * declares and consumes them only when it announces the node's services, which it debounces
	 * (`serviceChangedDebounceTime`, a second by default): until then, requests and events for the
	 * service wait in queues nobody consumes, or, on a first deployment, go to queues that do not
	 * exist yet, and RabbitMQ drops them.
	 */
	consumesQueuesOf(fullName: string): boolean {
		return this.hasWorkingChannel() && this.consumedServices.has(fullName);
	}

	/** Whether a channel is open and consumes the node's own queues: false from a loss until Moleculer has subscribed again. */
	hasWorkingChannel(): boolean {
		return this.connected && this.channel !== null && this.subscribedConnection !== null && this.connection === this.subscribedConnection;
	}

	override subscribeBalancedEvent(event: string, group: string): Promise<void> {
		const subscribed = Promise.resolve(super.subscribeBalancedEvent(event, group));
		this.eventSubscriptions.push(subscribed);
		// Moleculer drops this promise: its failure is the round's (makeBalancedSubscriptions), not an unhandled rejection.
		subscribed.catch(() => undefined);
		return subscribed;
	}

	override makeBalancedSubscriptions(): Promise<void> {
		const round = ++this.subscriptionRound;
		const channel = this.channel;
		const services = this.broker.getLocalNodeInfo().services.map(service => String(service.fullName));
		this.eventSubscriptions = [];
		return super
			.makeBalancedSubscriptions()
			.then(() => Promise.all(this.eventSubscriptions))
			.then(
				() => {
					// Without a channel the parent subscribes nothing and still resolves; a later round supersedes this one.
					if (channel && channel === this.channel && round === this.subscriptionRound) this.consumedServices = new Set(services);
				},
				// Moleculer runs this on a service change without handling a rejection: a queue that cannot
				// be declared or consumed (its channel closed meanwhile) is a lost channel.
				(err: Error) => this.recover(`A subscription failed (${err.message})`)
			);
	}

	override onConnected(wasReconnect?: boolean): Promise<unknown> {
		const connection = this.connection;
		// Lost while Moleculer was subscribing on it: the next connection subscribes again.
		if (connection === this.abandonedConnection) return this.broker.Promise.resolve();
		// A new connection consumes nothing until Moleculer subscribes again.
		this.consumedServices = new Set();
		const socket = (this as unknown as AmqplibConnectionHolder).connection?.connection?.stream;
		if (socket) coalesceWritesPerTick(socket);
		return super.onConnected(wasReconnect).then((result: unknown) => {
			if (connection === this.connection && connection !== this.abandonedConnection) this.subscribedConnection = connection;
			return result;
		});
	}

	/**
	 * Moleculer's, but for what RabbitMQ may do meanwhile: a consumer it cancels (its queue deleted,
	 * its node down) gets `null`, and a message is settled on the channel it came on (on a newer
	 * channel its delivery tag is unknown, and RabbitMQ closes that channel too).
	 */
	override _consumeCB(cmd: string, needAck = false): (msg: ConsumeMessage | null) => void | Promise<void> {
		const channel = this.channel as Channel;
		return msg => {
			if (msg === null) return this.recover(`RabbitMQ cancelled the consumer of a ${cmd} queue (deleted, or on a node that went down)`);
			// A request runs at most once. RabbitMQ hands one out again when the instance that took it
			// lost its connection before acknowledging it (a crash, a recovery above): it may have been
			// applied, and a second run would place an order or credit a top-up twice for a caller
			// without an Idempotency-Key. Dropped, the call times out (504: "may have been applied").
			if (cmd === REQUEST_PACKET && msg.fields.redelivered) {
				this.logger.warn("Dropped a request RabbitMQ delivered again: it may have been applied by an instance that lost its connection.");
				return settle(channel, msg, "ack");
			}
			const received = this.receive(cmd, msg.content);
			if (!needAck) return received;
			return Promise.resolve(received).then(
				() => settle(channel, msg, "ack"),
				(err: unknown) => {
					this.logger.error("Message handling error.", err);
					settle(channel, msg, "nack");
				}
			);
		};
	}

	/**
	 * With `queueType: "quorum"`, the shared queues are quorum queues. The event queues keep their expiry (RabbitMQ
	 * 3.10 takes `x-expires` and message TTLs on them, but no auto-delete, exclusive or transient
	 * queue). The node's own queues stay classic, and become exclusive to its connection: a durable
	 * classic queue whose RabbitMQ node is down can be neither declared nor consumed ("NOT_FOUND ...
	 * home node is down"), and the Moleculer node it belonged to stayed deaf until then (issue 19);
	 * an exclusive one goes with its connection, and is declared afresh on the RabbitMQ node the
	 * transporter reconnects to. (Transient non-exclusive queues would do too, but RabbitMQ 4.3
	 * refuses them by default.)
	 */
	override _getQueueOptions(packetType: string, balancedQueue?: boolean): Record<string, unknown> {
		const options = super._getQueueOptions(packetType, balancedQueue);
		if (this.queueType === "classic") return options;
		// Explicit, so that a broker whose default queue type is quorum makes the node's own queues classic still.
		const queueArguments = { ...(options.arguments as Record<string, unknown> | undefined), "x-queue-type": balancedQueue ? "quorum" : "classic" };
		return balancedQueue ? { ...options, arguments: queueArguments } : { ...options, durable: false, exclusive: true, arguments: queueArguments };
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

	/** Moleculer sends an event to each of its groups without waiting: a failed send must not be an unhandled rejection (the outbox re-emits the event). */
	override publishBalancedEvent(packet: Packets.Packet<Packets.PacketEventPayload>, group: string): Promise<void> {
		return super.publishBalancedEvent(packet, group).catch((err: Error) => this.logger.warn(`An event for group ${group} was not sent: ${err.message}`));
	}

	override send(topic: string, data: Buffer, meta: { packet?: SentPacket } & Record<string, unknown>): Promise<void> {
		const { type, payload } = meta.packet ?? {};
		const durable = this.opts.messageOptions;
		// The parent reads the options synchronously while sending: swap them for this message only.
		if (type !== EVENT_PACKET || this.transientEvents.has(payload?.event ?? "")) this.opts.messageOptions = this.transientMessageOptions;
		// A request dies in its queue once its caller has stopped waiting: run later (every instance
		// away for longer, then back), it would apply what the caller, answered 504, may have sent again.
		// RabbitMQ takes whole milliseconds only: a nested call's remaining time is fractional, and an
		// invalid expiration closes the channel.
		if (type === REQUEST_PACKET && payload?.timeout) this.opts.messageOptions = { ...this.transientMessageOptions, expiration: String(Math.max(1, Math.ceil(payload.timeout))) };
		try {
			return super.send(topic, data, meta);
		} catch (err) {
			// amqplib throws on a channel that closed under it (the connection lost mid-publish), and
			// Moleculer's callers expect a rejection: a throw in its heartbeat timer ends the process.
			this.recover(`The channel closed while sending (${(err as Error).message})`);
			// Its constructor takes no arguments (its typings say otherwise).
			return Promise.reject(Reflect.construct(Errors.BrokerDisconnectedError, []) as Errors.BrokerDisconnectedError);
		} finally {
			this.opts.messageOptions = durable;
		}
	}

	/** Watches a new channel, before Moleculer uses it, for what RabbitMQ may do to it. */
	private watchChannel(channel: Channel): void {
		// Moleculer sets the prefetch without handling the answer: a channel closed before RabbitMQ
		// answers (a node going down as we connect) would reject it unhandled, and end the process.
		const setPrefetch = channel.prefetch.bind(channel);
		channel.prefetch = (count, global) => {
			const answer = setPrefetch(count, global);
			answer.catch(() => undefined);
			return answer;
		};
		channel.on("error", err => this.stopOnInequivalentQueue(err));
		channel.once("close", () => this.recover("The channel closed"));
	}

	/**
	 * A queue made before under other settings (another AMQP_QUEUE_TYPE) is refused on every
	 * (re)declaration, so no reconnection can help: the process stops, saying what to do.
	 */
	private stopOnInequivalentQueue(err: unknown): void {
		const refused = inequivalentQueue(err);
		// Any other channel error: the parent logs it, and the channel's close recovers.
		if (!refused) return;
		this.logger.fatal(
			`RabbitMQ has queue '${refused.queue}' with another '${refused.setting}' than this node declares (AMQP_QUEUE_TYPE=${this.queueType}): it was made under other settings. ` +
				`Start with a new NAMESPACE, or delete the namespace's queues first (README, "Quorum queues on a RabbitMQ cluster").`
		);
		// As broker.fatal stops, without its error argument, which the text log prints as "undefined".
		process.exit(1);
	}

	/**
	 * Turns a loss Moleculer does not recover from (a closed channel, a cancelled consumer) into the
	 * one it does: a lost connection, after which it reconnects (5 s later), redeclares and
	 * resubscribes everything, and announces the node again.
	 */
	private recover(cause: string): void {
		const connection = this.connection;
		// Moleculer closes them itself while it disconnects.
		if (!connection || connection === this.abandonedConnection || this.transit.disconnecting) return;
		this.abandonedConnection = connection;
		// Until it is back, sends fail at once with a retryable error instead of going nowhere.
		this.connected = false;
		this.consumedServices = new Set();
		this.logger.warn(`${cause}: reconnecting to RabbitMQ.`);
		// Deferred: amqplib may be closing it itself (a lost connection closes its channels first).
		setImmediate(() => {
			connection.close().catch(() => undefined);
		});
	}
}

type CallTarget = string | { local?: boolean; action: { name: string } };
type Call = (target: CallTarget, params?: unknown, opts?: Record<string, unknown>) => Promise<unknown>;

/**
 * Requests to another process go to the action's shared queue, which RabbitMQ hands to a live
 * consumer, not to the queue of the one instance moleculer-web picked from the registry: a killed
 * instance stays listed for 30 to 60 s (the heartbeat timeout), and each request sent to its own
 * queue waited there for the whole request timeout (about half of them, with two instances: 504).
 * A request taken by an instance that dies before answering is not run again (`_consumeCB`: it
 * may have been applied); its caller times out, and a client retries a create with its
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
