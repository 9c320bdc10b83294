/**
 * No broker event ends a process or leaves it deaf (issue 19). For each thing RabbitMQ or the
 * network can do to a node, the node's broker stays up, its readiness answers 503 while it has no
 * working channel, it recovers by itself (reconnects, redeclares, resubscribes), answers 200 again,
 * and a call and an event reach it afterwards. The node connects through two TCP proxies, listed
 * as failover URLs as a RabbitMQ cluster's nodes would be, so that a test can cut its connection
 * or stop "its node". Every recovery declares all the node's queues again: the faults that touch
 * queues run with both queue types, the others once, with the cluster's (quorum).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { EventDurableAmqpTransporter, QUEUE_TYPES, type QueueType } from "../../platform/amqp-transporter";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import { freePort, waitFor } from "../support/system";
import { TcpProxy } from "../support/tcp-proxy";

const rabbitmqUrl = inject("rabbitmqUrl");
const execFileAsync = promisify(execFile);

async function rabbitmqctl(...args: string[]): Promise<string> {
	const { stdout } = await execFileAsync("rabbitmqctl", ["-q", ...args], { timeout: 30_000 });
	return stdout;
}

interface QueueState {
	type: string;
	durable: boolean;
	exclusive: boolean;
	consumers: number;
}

/** The namespace's queues by name, as RabbitMQ lists them (an exclusive queue cannot be looked at from another connection; a quorum queue's `exclusive` is empty). */
async function queuesOf(namespace: string): Promise<Record<string, QueueState>> {
	const lines = (await rabbitmqctl("list_queues", "--no-table-headers", "name", "type", "durable", "exclusive", "consumers")).split("\n");
	const queues: Record<string, QueueState> = {};
	for (const [name, type, durable, exclusive, consumers] of lines.map(line => line.split("\t"))) {
		if (name?.startsWith(`MOL-${namespace}.`)) queues[name] = { type, durable: durable === "true", exclusive: exclusive === "true", consumers: Number(consumers) };
	}
	return queues;
}

function brokerFor(nodeID: string, namespace: string, queueType: QueueType, env: NodeJS.ProcessEnv): ServiceBroker {
	const options = createBrokerOptions(loadConfiguration({ NAMESPACE: namespace, NODE_ID: nodeID, AMQP_QUEUE_TYPE: queueType, AMQP_QUEUE_EXPIRY_MS: "60000", ...env }));
	const broker = new ServiceBroker({ ...options, logger: false });
	vi.spyOn(broker.transit!.tx.logger, "fatal");
	return broker;
}

/** Stopping the process is what a refused queue must do: recorded instead, the tests' process goes on. */
function recordProcessExits() {
	let exit: ReturnType<typeof vi.spyOn>;
	beforeAll(() => void (exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as typeof process.exit)));
	afterAll(() => exit.mockRestore());
	return () => exit;
}

const randomSuffix = () => Math.random().toString(16).slice(2, 10);

describe.skipIf(!rabbitmqUrl).each(QUEUE_TYPES)("a node over RabbitMQ with %s queues", queueType => {
	// "test-": its queues are removed after the run.
	const namespace = `test-recovery-${queueType}-${randomSuffix()}`;
	const prefix = `MOL-${namespace}`;
	const probeNode = `${namespace}-probe`;
	const proxies: TcpProxy[] = [];
	const unhandledRejections: unknown[] = [];
	const recordRejection = (reason: unknown) => unhandledRejections.push(reason);
	let eventsReceived = 0;
	let probe: ServiceBroker;
	let caller: ServiceBroker;
	let healthPort: number;
	// Declared only for the queue type they concern, not skipped for the other (no skipped test under CI).
	const itWith = (type: typeof queueType) => (name: string, test: () => Promise<void>) => (queueType === type ? it(name, test) : undefined);
	const itWithQuorumQueues = itWith("quorum");
	const itWithClassicQueues = itWith("classic");
	const processExit = recordProcessExits();

	const probeService: ServiceSchema = {
		name: "probe",
		actions: { hello: () => "hello" },
		events: { "probe.happened": () => void eventsReceived++ }
	};
	const transporter = () => probe.transit!.tx as EventDurableAmqpTransporter;
	const readiness = async () => (await fetch(`http://127.0.0.1:${healthPort}/ready`)).status;
	const consumersOf = async (queue: string) => (await queuesOf(namespace))[queue]?.consumers;

	/** After the fault, the node says it is not ready, recovers, says it is ready, and a call and an event reach it. */
	async function expectRecovery(fault: () => Promise<unknown>): Promise<void> {
		const notReady = waitFor("the node to report not ready", async () => (await readiness()) === 503, 15_000);
		notReady.catch(() => undefined); // awaited below, unless the fault itself fails
		await fault();
		await notReady;
		await waitFor("the node to report ready again", async () => (await readiness()) === 200, 30_000);
		expect(await caller.call("probe.hello", {}, { timeout: 5000 })).toBe("hello");
		const before = eventsReceived;
		await caller.emit("probe.happened");
		await waitFor("the event to arrive", async () => eventsReceived > before, 5000);
		expect(probe.started).toBe(true);
		expect(processExit()).not.toHaveBeenCalled();
		expect(unhandledRejections).toEqual([]);
	}

	beforeAll(async () => {
		process.on("unhandledRejection", recordRejection);
		const rabbitmq = new URL(rabbitmqUrl!);
		for (let i = 0; i < 2; i++) proxies.push(new TcpProxy({ host: rabbitmq.hostname, port: Number(rabbitmq.port || 5672) }));
		const ports = await Promise.all(proxies.map(proxy => proxy.start()));
		const failoverUrls = ports.map(port => Object.assign(new URL(rabbitmqUrl!), { port: String(port) }).href).join(";");
		healthPort = await freePort();
		probe = brokerFor(probeNode, namespace, queueType, { TRANSPORTER: failoverUrls, HEALTH_PORT: String(healthPort) });
		probe.createService(probeService);
		caller = brokerFor(`${namespace}-caller`, namespace, queueType, { TRANSPORTER: rabbitmqUrl! });
		caller.createService({ name: "echo", actions: { say: () => "said" } });
		await Promise.all([probe.start(), caller.start()]);
		await caller.waitForServices("probe", 10_000);
		await waitFor("the node to be ready", async () => (await readiness()) === 200, 10_000);
	});

	afterAll(async () => {
		await Promise.all([probe?.stop(), caller?.stop()]);
		await Promise.all(proxies.map(proxy => proxy.stop()));
		process.off("unhandledRejection", recordRejection);
	});

	it(`declares the shared queues ${queueType}, and the node's own queues classic${queueType === "quorum" ? " and exclusive" : ""}`, async () => {
		const queues = await queuesOf(namespace);
		const shared = Object.keys(queues).filter(name => /\.(REQB|EVENTB)\./.test(name));
		expect(shared).toEqual(expect.arrayContaining([`${prefix}.REQB.probe.hello`, `${prefix}.EVENTB.probe.probe.happened`]));
		for (const [name, queue] of Object.entries(queues)) {
			const isShared = shared.includes(name);
			const ownQueueOnCluster = queueType === "quorum" && !isShared;
			expect({ name, type: queue.type, durable: queue.durable, exclusive: queue.exclusive }).toEqual({
				name,
				type: isShared ? queueType : "classic",
				durable: !ownQueueOnCluster,
				exclusive: ownQueueOnCluster
			});
		}
	});

	it("recovers when RabbitMQ cancels its consumer (the node's own queue deleted)", async () => {
		await expectRecovery(() => rabbitmqctl("delete_queue", `${prefix}.EVENT.${probeNode}`));
		await expect.poll(() => consumersOf(`${prefix}.EVENT.${probeNode}`)).toBeGreaterThanOrEqual(1);
	});

	it("recovers when a shared queue it consumes is deleted", async () => {
		await expectRecovery(() => rabbitmqctl("delete_queue", `${prefix}.REQB.probe.hello`));
		// RabbitMQ lists a quorum queue's consumers a few seconds late.
		await expect.poll(() => consumersOf(`${prefix}.REQB.probe.hello`)).toBeGreaterThanOrEqual(1);
	});

	// On a cluster, a queue whose node is down is refused the same way ("NOT_FOUND ... home node is
	// down"). Classic only: a quorum queue cannot be held exclusively.
	itWithClassicQueues("keeps reconnecting while a queue it declares is refused, and recovers once it is not", async () => {
		const queue = `${prefix}.REQB.probe.hello`;
		const reconnections = vi.spyOn(transporter().logger, "warn");
		const locker = await amqp.connect(rabbitmqUrl!);
		await expectRecovery(async () => {
			await rabbitmqctl("delete_queue", queue);
			// Another connection's exclusive queue of that name: RabbitMQ refuses the node's declaration
			// (RESOURCE_LOCKED) and closes its channel, failing the other declarations in flight with it.
			await (await locker.createChannel()).assertQueue(queue, { exclusive: true });
			await waitFor("a refused declaration", async () => reconnections.mock.calls.filter(([line]) => /reconnecting/.test(String(line))).length >= 2, 15_000);
			await locker.close();
		});
		reconnections.mockRestore();
	});

	itWithQuorumQueues("recovers when RabbitMQ closes its channel on a channel error", async () => {
		// Any channel error closes the channel: here a 404 on a queue that does not exist.
		await expectRecovery(() => expect(transporter().channel!.checkQueue(`${prefix}.missing`)).rejects.toThrow(/NOT_FOUND/));
	});

	itWithQuorumQueues("recovers when RabbitMQ closes its connection (rabbitmqctl close_connection)", async () => {
		const connections = (await rabbitmqctl("list_connections", "--no-table-headers", "pid", "client_properties")).split("\n");
		const pid = connections.find(line => line.includes(probeNode))?.match(/^<[^>]+>/)?.[0];
		expect(pid).toBeDefined();
		await expectRecovery(() => rabbitmqctl("close_connection", pid!, "closed by a test of issue 19"));
	});

	itWithQuorumQueues("recovers when its connection is lost mid-publish, and fails what it could not send with a retryable error", async () => {
		let failures: unknown[] = [];
		await expectRecovery(async () => {
			// Sent into a connection that is being reset: lost on the way (a call then times out), or refused at once.
			const sends = Array.from({ length: 200 }, (_, i) => (i % 2 ? probe.call("echo.say", {}, { timeout: 3000 }) : probe.emit("probe.happened")));
			await proxies.find(proxy => proxy.inUse)!.cut();
			await Promise.all(proxies.map(proxy => proxy.restore()));
			failures = (await Promise.allSettled(sends)).flatMap(result => (result.status === "rejected" ? [result.reason] : []));
		});
		for (const failure of failures) expect(failure).toMatchObject({ retryable: true });
	});

	itWithQuorumQueues("recovers on another RabbitMQ node when its node stops", async () => {
		const stopped = proxies.find(proxy => proxy.inUse)!;
		await expectRecovery(() => stopped.cut());
		expect(stopped.inUse).toBe(false);
		await stopped.restore();
	});
});

describe.skipIf(!rabbitmqUrl)("quorum queues over the classic queues of an earlier start", () => {
	const namespace = `test-queue-type-${randomSuffix()}`;
	const unhandledRejections: unknown[] = [];
	const recordRejection = (reason: unknown) => unhandledRejections.push(reason);
	let running: ServiceBroker | undefined;
	const processExit = recordProcessExits();

	beforeAll(() => void process.on("unhandledRejection", recordRejection));
	afterAll(async () => {
		await running?.stop();
		process.off("unhandledRejection", recordRejection);
	});

	it("stop the start with one line that says what to do, and leave nothing unhandled", async () => {
		const start = async (queueType: QueueType) => {
			running = brokerFor(`${namespace}-${queueType}`, namespace, queueType, { TRANSPORTER: rabbitmqUrl! });
			running.createService({ name: "probe", actions: { hello: () => "hello" } });
			await running.start();
			return running;
		};
		const classic = await start("classic");
		const transporter = classic.transit!.tx as EventDurableAmqpTransporter;
		await waitFor("the classic queues", async () => transporter.consumesQueuesOf("probe"), 10_000);
		await classic.stop();

		const quorum = await start("quorum");
		await waitFor("the start to be stopped", async () => processExit().mock.calls.length > 0, 10_000);
		const fatal = vi.mocked(quorum.transit!.tx.logger.fatal);
		expect(fatal).toHaveBeenCalledTimes(1);
		const [line] = fatal.mock.calls[0];
		expect(line).toMatch(new RegExp(`queue 'MOL-${namespace}\\.REQB\\.[^']+'`));
		expect(line).toContain("'x-queue-type'");
		expect(line).toMatch(/new NAMESPACE, or delete the namespace's queues/);
		expect(line).not.toContain("\n");
		expect(unhandledRejections).toEqual([]);
	});
});
