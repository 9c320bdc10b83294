/**
 * A RabbitMQ cluster of its own on this machine (three nodes by default), beside the machine's
 * RabbitMQ and without touching it: for the broker-cluster fault test (issue 19) and for trying
 * the system on a cluster by hand.
 *
 * Each node is the installed RabbitMQ (Debian's 3.10 here) run with its own node name
 * (`<name>-<i>@localhost`), AMQP and distribution ports, data, log and config folders and an
 * Erlang cookie of its own (HOME points at the cluster's folder), all under one folder in the
 * temp directory. Nodes 2..n join node 1 (`stop_app`, `join_cluster`, `start_app`). The vhost the
 * URLs name is created with quorum as its default queue type: RabbitMQ 3.10 has no
 * `default_queue_type` in rabbitmq.conf (4.x has), but a vhost's default (3.10+) makes every
 * durable, non-exclusive, non-auto-delete queue declared without `x-queue-type` a quorum queue,
 * and the others classic, so the transporter's code needs no change.
 *
 * Starting is idempotent against a killed run: nodes left running in the cluster's folder (found
 * by their pid files) are killed and the folder is removed first. The shared epmd (port 4369) is
 * used as it is: it is the machine's, and forgets a node when that node's VM exits.
 *
 *   npx tsx tools/rabbitmq-cluster.ts up [name]     # prints the settings for `npm run cluster`; nodes keep running
 *   npx tsx tools/rabbitmq-cluster.ts down [name]   # kills the nodes, removes the folder
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import amqp from "amqplib";
import { freePortBlock } from "./free-port";

const run = promisify(execFile);

/** Debian's scripts behind /usr/sbin's wrappers (which switch to the `rabbitmq` user); elsewhere, whatever PATH has. */
const DEBIAN_BIN_DIR = "/usr/lib/rabbitmq/bin";
const bin = (tool: string) => (existsSync(path.join(DEBIAN_BIN_DIR, tool)) ? path.join(DEBIAN_BIN_DIR, tool) : tool);

/** Whether RabbitMQ's server is installed here. */
export function rabbitmqInstalled(): boolean {
	return [DEBIAN_BIN_DIR, ...(process.env.PATH ?? "").split(path.delimiter)].some(dir => dir && existsSync(path.join(dir, "rabbitmq-server")));
}

export interface RabbitClusterOptions {
	/** Names the nodes (`<name>-1@localhost`...) and the folder; one cluster per name at a time. */
	name?: string;
	size?: number;
	/** The vhost the URLs name, created with quorum as its default queue type. */
	vhost?: string;
	/** How long one node may take to boot. */
	bootTimeoutMs?: number;
}

export interface RabbitClusterNode {
	nodename: string;
	amqpPort: number;
	distPort: number;
	/** AMQP URL of this node, with the cluster's vhost. */
	url: string;
}

export interface RabbitCluster {
	readonly folder: string;
	readonly nodes: readonly RabbitClusterNode[];
	/** Every node's URL, node 1 first: what TRANSPORTER lists. */
	readonly urls: readonly string[];
	/** Stops node `index`: gracefully (SIGTERM, as `rabbitmqctl stop`), or at once (SIGKILL). Resolves once its VM exited. */
	stopNode(index: number, how?: "graceful" | "kill"): Promise<void>;
	/** Starts node `index` again on its data; resolves once it accepts AMQP connections. */
	startNode(index: number): Promise<void>;
	/** A CLI tool (`rabbitmqctl`, `rabbitmq-queues`...) against node `index`; resolves with its output. */
	ctl(index: number, args: string[], tool?: string): Promise<string>;
	/** Kills every node and removes the folder; safe to call twice. */
	destroy(): Promise<void>;
}

const folderOf = (name: string) => path.join(tmpdir(), `rabbitmq-cluster-${name}`);
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** Kills what a previous run left in the cluster's folder (nodes found by their pid files) and removes it. */
export async function destroyRabbitCluster(name = "rabbit-test"): Promise<void> {
	const folder = folderOf(name);
	if (!existsSync(folder)) return;
	const pids = readdirSync(folder)
		.map(entry => path.join(folder, entry, "pid"))
		.filter(file => existsSync(file))
		.map(file => Number(readFileSync(file, "utf8").trim()))
		// A pid is reused once its process is gone: kill it only if it still is that node's VM.
		.filter(pid => pid > 0 && isAlive(pid) && readEnvironment(pid).includes(folder));
	for (const pid of pids) process.kill(pid, "SIGKILL");
	for (const pid of pids) while (isAlive(pid)) await sleep(50);
	rmSync(folder, { recursive: true, force: true });
}

function readEnvironment(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/environ`, "utf8");
	} catch {
		return "";
	}
}

async function acceptsAmqp(url: string): Promise<boolean> {
	try {
		const connection = await amqp.connect(url, { timeout: 2000 });
		connection.on("error", () => undefined);
		await connection.close();
		return true;
	} catch {
		return false;
	}
}

export async function startRabbitCluster(options: RabbitClusterOptions = {}): Promise<RabbitCluster> {
	const { name = "rabbit-test", size = 3, vhost = "quorum", bootTimeoutMs = 90_000 } = options;
	await destroyRabbitCluster(name);
	const folder = folderOf(name);
	const home = path.join(folder, "home");
	mkdirSync(home, { recursive: true });
	// The Erlang cookie the nodes and the CLI share, and nothing else on the machine knows.
	writeFileSync(path.join(home, ".erlang.cookie"), `${name.toUpperCase().replace(/[^A-Z0-9]/g, "")}${Math.random().toString(36).slice(2).toUpperCase()}`, { mode: 0o400 });

	const amqpBase = await freePortBlock(size);
	const distBase = await freePortBlock(size);
	const nodes: RabbitClusterNode[] = Array.from({ length: size }, (_, i) => ({
		nodename: `${name}-${i + 1}@localhost`,
		amqpPort: amqpBase + i,
		distPort: distBase + i,
		url: `amqp://guest:guest@127.0.0.1:${amqpBase + i}/${encodeURIComponent(vhost)}`
	}));
	const processes: (ChildProcess | null)[] = nodes.map(() => null);
	// The CLI's environment: the cluster's cookie, and not the machine's rabbitmq-env.conf (which names rabbit@localhost).
	const cliEnv = { ...process.env, HOME: home, RABBITMQ_CONF_ENV_FILE: path.join(home, "rabbitmq-env.conf") };
	writeFileSync(cliEnv.RABBITMQ_CONF_ENV_FILE, "");

	const ctl = async (index: number, args: string[], tool = "rabbitmqctl") => (await run(bin(tool), ["-n", nodes[index].nodename, ...args], { env: cliEnv, timeout: 120_000 })).stdout;

	const nodeFolder = (index: number) => path.join(folder, `node-${index + 1}`);
	for (const [index, node] of nodes.entries()) {
		const dir = nodeFolder(index);
		mkdirSync(dir, { recursive: true });
		writeFileSync(path.join(dir, "rabbitmq.conf"), [`listeners.tcp.default = 127.0.0.1:${node.amqpPort}`, ""].join("\n"));
		// No plugins: the management plugin would want the machine's port 15672.
		writeFileSync(path.join(dir, "enabled_plugins"), "[].\n");
	}

	const spawnNode = (index: number) => {
		const dir = nodeFolder(index);
		const log = openSync(path.join(dir, "stdout.log"), "a");
		const child = spawn(bin("rabbitmq-server"), [], {
			cwd: dir,
			env: {
				...cliEnv,
				RABBITMQ_NODENAME: nodes[index].nodename,
				RABBITMQ_DIST_PORT: String(nodes[index].distPort),
				RABBITMQ_CONFIG_FILE: path.join(dir, "rabbitmq.conf"),
				// A file never written: the node reads none, rather than the machine's /etc/rabbitmq one.
				RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, "advanced.config"),
				RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, "enabled_plugins"),
				RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
				RABBITMQ_LOG_BASE: path.join(dir, "log"),
				RABBITMQ_PID_FILE: path.join(dir, "pid"),
				// The script then execs the VM instead of waiting on it: our child is the node, and
				// SIGTERM to it is RabbitMQ's own graceful stop.
				RUNNING_UNDER_SYSTEMD: "true",
				// The VM listens for distribution on loopback only, as the machine's node does.
				RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}"
			},
			// Its own process group, and not tied to ours: a node outlives a killed test run
			// (the next start kills it), and `up` leaves the cluster running.
			detached: true,
			stdio: ["ignore", log, log]
		});
		closeSync(log);
		child.unref();
		processes[index] = child;
		child.once("exit", () => {
			if (processes[index] === child) processes[index] = null;
		});
	};

	const awaitBoot = async (index: number) => {
		const deadline = Date.now() + bootTimeoutMs;
		// amqplib rejects a connection to a node still booting; probing AMQP is far cheaper than the CLI (about a second per call).
		while (!(await acceptsAmqp(`amqp://guest:guest@127.0.0.1:${nodes[index].amqpPort}`))) {
			if (!processes[index]) throw new Error(`RabbitMQ node ${nodes[index].nodename} exited while booting: see ${nodeFolder(index)}`);
			if (Date.now() > deadline) throw new Error(`RabbitMQ node ${nodes[index].nodename} did not boot within ${bootTimeoutMs} ms: see ${nodeFolder(index)}`);
			await sleep(200);
		}
	};

	const awaitExit = async (index: number) => {
		const child = processes[index];
		// Polled: the child is unref'd, so waiting on its exit event alone would not keep this process alive.
		while (child && child.exitCode === null && child.signalCode === null) await sleep(50);
	};

	const cluster: RabbitCluster = {
		folder,
		nodes,
		urls: nodes.map(node => node.url),
		async stopNode(index, how = "graceful") {
			processes[index]?.kill(how === "kill" ? "SIGKILL" : "SIGTERM");
			await awaitExit(index);
		},
		async startNode(index) {
			if (!processes[index]) spawnNode(index);
			await awaitBoot(index);
		},
		ctl,
		async destroy() {
			for (const child of processes) child?.kill("SIGKILL");
			await Promise.all(nodes.map((_, index) => awaitExit(index)));
			await destroyRabbitCluster(name);
		}
	};

	try {
		nodes.forEach((_, index) => spawnNode(index));
		await Promise.all(nodes.map((_, index) => awaitBoot(index)));
		// One at a time: two nodes joining at once can fail to start Mnesia ("badmatch ... mnesia_app").
		for (let index = 1; index < size; index++) {
			await ctl(index, ["stop_app"]);
			await ctl(index, ["join_cluster", nodes[0].nodename]);
			await ctl(index, ["start_app"]);
		}
		await ctl(0, ["add_vhost", vhost, "--default-queue-type", "quorum"]);
		await ctl(0, ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]);
		return cluster;
	} catch (err) {
		await cluster.destroy();
		throw err;
	}
}

async function main(command: string | undefined, name: string | undefined) {
	if (command === "up") {
		const cluster = await startRabbitCluster({ name });
		console.log(`RabbitMQ cluster up: ${cluster.nodes.map(node => node.nodename).join(", ")} (data in ${cluster.folder}); quorum queues by default in its vhost.`);
		console.log(`export TRANSPORTER='${cluster.urls.join(",")}' AMQP_QUEUE_TYPE=quorum`);
	} else if (command === "down") {
		await destroyRabbitCluster(name);
		console.log("RabbitMQ cluster down.");
	} else {
		console.error("Usage: tsx tools/rabbitmq-cluster.ts up|down [name]");
		process.exitCode = 2;
	}
}

if (require.main === module) {
	main(process.argv[2], process.argv[3]).catch(err => {
		console.error(err);
		process.exit(1);
	});
}
