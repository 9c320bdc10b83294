/**
 * docker-compose.yml, the Dockerfile and the README's configuration table against the code: no
 * Docker engine runs here, so these checks are what keeps the deployment files from drifting
 * from the configuration the code actually reads (platform/config.ts's list of variables).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../platform/paths";
import { amqpUrls } from "../../moleculer.config";
import { CONFIGURATION_VARIABLES, loadConfiguration } from "../../platform/config";

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), "utf8");

function sourceFiles(dir: string): string[] {
	return readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap(entry =>
		entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : []
	);
}

/** Every environment variable the running code reads (tools/ and tests aside). */
const CODE_VARIABLES: ReadonlySet<string> = new Set(Object.keys(CONFIGURATION_VARIABLES));
const DATABASE_SERVICES = [...CODE_VARIABLES].flatMap(name => /^([A-Z]+)_DATABASE_URL$/.exec(name)?.[1].toLowerCase() ?? []);
/** Read by moleculer-runner itself. */
const RUNNER_VARIABLES = new Set(["SERVICES", "SERVICEDIR"]);
/** The README's configuration table: each variable's default as written there. */
const README_DEFAULTS = new Map([...read("README.md").matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|/gm)].map(m => [m[1], m[2].trim()]));

/** A Compose environment as the services get it: `${NAME:-default}` is its default (nothing is exported here). */
const composed = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value.replace(/\$\{\w+:-([^}]*)\}/g, "$1")]));

type Service = {
	hostname?: string;
	build?: unknown;
	image?: string;
	environment?: Record<string, string>;
	healthcheck?: { test: string[] };
	depends_on?: Record<string, { condition: string }>;
	restart?: string;
	ports?: string[];
	volumes?: string[];
};
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const APP_SERVICES = ["api", "orders", "payments"];

describe("the configuration the code reads", () => {
	it("is read by platform/config.ts alone (moleculer.config.ts only removes TRANSPORTER, the embedded Postgres' tools inherit it)", () => {
		const readers = ["moleculer.config.ts", ...["platform", "mixins", "services"].flatMap(sourceFiles)]
			.filter(file => file !== path.join("platform", "config.ts"))
			.flatMap(file =>
				read(file)
					.split("\n")
					.filter(line => /process\.env\b/.test(line))
					.map(line => `${file}: ${line.trim()}`)
			);
		expect(readers).toEqual([
			"moleculer.config.ts: delete process.env.TRANSPORTER;",
			`${path.join("platform", "embedded-postgres.ts")}: const run = (file: string, args: string[]) => execFileAsync(file, args, { ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } });`
		]);
	});

	it("is documented in the README's configuration table, each with its default", () => {
		expect([...README_DEFAULTS.keys()].filter(name => !RUNNER_VARIABLES.has(name)).sort()).toEqual([...CODE_VARIABLES].sort());
		for (const [name, fallback] of Object.entries(CONFIGURATION_VARIABLES)) {
			if (fallback !== null) expect(README_DEFAULTS.get(name), name).toMatch(new RegExp(`^\`${fallback.replace(/\./g, "\\.")}\``));
		}
		expect(DATABASE_SERVICES.sort()).toEqual(["orders", "payments"]);
	});
});

describe("docker-compose.yml", () => {
	it("has Postgres, RabbitMQ with its management UI, and the three services", () => {
		expect(Object.keys(compose.services).sort()).toEqual(["api", "orders", "payments", "postgres", "rabbitmq"]);
		expect(compose.services.rabbitmq.image).toMatch(/management/);
		expect(compose.services.rabbitmq.ports).toContain("15672:15672");
		expect(compose.services.api.ports).toContain("3000:3000");
	});

	it("builds every service from the one Dockerfile, with health checks, start order by health and restarts", () => {
		for (const name of APP_SERVICES) {
			const service = compose.services[name];
			expect(service.build, name).toBe(".");
			expect(service.restart, name).toBe("unless-stopped");
			expect(service.healthcheck?.test.join(" "), name).toMatch(/\/ready/);
			expect(service.depends_on, name).toEqual({ postgres: { condition: "service_healthy" }, rabbitmq: { condition: "service_healthy" } });
		}
		for (const name of ["postgres", "rabbitmq"]) expect(compose.services[name].healthcheck, name).toBeDefined();
	});

	it("keeps data in named volumes", () => {
		for (const name of ["postgres", "rabbitmq"]) {
			const volume = compose.services[name].volumes?.[0].split(":")[0];
			expect(Object.keys(compose.volumes), name).toContain(volume);
		}
	});

	it("gives each service exactly the configuration the code reads", () => {
		const createdDatabases = [...read("docker/postgres/init.sql").matchAll(/CREATE DATABASE (\w+)/g)].map(m => m[1]);
		for (const name of APP_SERVICES) {
			const env = compose.services[name].environment ?? {};
			const unknown = Object.keys(env).filter(key => !CODE_VARIABLES.has(key) && !RUNNER_VARIABLES.has(key));
			expect(unknown, `${name}: variables nothing reads`).toEqual([]);
			expect(() => loadConfiguration(composed(env)), `${name}: a configuration that starts`).not.toThrow();
			expect(env.SERVICES, name).toBe(name);
			expect(read(`services/${name}/${name}.service.ts`)).toContain(`name: "${name}"`);
			expect(new URL(env.TRANSPORTER).hostname, name).toBe("rabbitmq");
			for (const service of DATABASE_SERVICES) {
				const variable = `${service.toUpperCase()}_DATABASE_URL`;
				if (service !== name) {
					expect(env[variable], `${name} must not reach ${service}'s database`).toBeUndefined();
					continue;
				}
				const url = new URL(env[variable]);
				expect(url.hostname).toBe("postgres");
				expect(createdDatabases).toContain(url.pathname.slice(1));
			}
			// The health check asks the port this process serves /ready on.
			const readyPort = name === "api" ? env.PORT : env.HEALTH_PORT;
			expect(compose.services[name].healthcheck?.test.join(" "), name).toContain(`127.0.0.1:${readyPort}/ready`);
		}
	});
});

describe("docker-compose.rabbitmq-cluster.yml (RabbitMQ as a three-node cluster with quorum queues)", () => {
	const overlay = parse(read("docker-compose.rabbitmq-cluster.yml"), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
	const clusterConf = read("docker/rabbitmq/cluster.conf");
	const NODES = ["rabbitmq", "rabbitmq-2", "rabbitmq-3"];
	const setting = (key: string) => [...clusterConf.matchAll(new RegExp(`^${key.replace(/\./g, "\\.")}\\s*=\\s*(\\S+)$`, "gm"))].map(m => m[1]);

	it("makes the single RabbitMQ the first of three nodes that know each other by name", () => {
		expect(
			Object.keys(overlay.services)
				.filter(name => name.startsWith("rabbitmq"))
				.sort()
		).toEqual(NODES);
		expect(setting("cluster_formation.peer_discovery_backend")).toEqual(["classic_config"]);
		const members = [1, 2, 3].flatMap(i => setting(`cluster_formation.classic_config.nodes.${i}`));
		expect(members).toEqual(NODES.map(node => `rabbit@${overlay.services[node].hostname}`));
		const cookies = new Set(NODES.map(node => overlay.services[node].environment?.RABBITMQ_ERLANG_COOKIE));
		expect(cookies.size, "one Erlang cookie for every node").toBe(1);
		expect([...cookies][0]).toBeTruthy();
		for (const node of NODES) {
			expect(overlay.services[node].volumes, node).toContain("./docker/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro");
		}
		for (const node of NODES.slice(1)) {
			expect(overlay.services[node].image, node).toBe(compose.services.rabbitmq.image);
			expect(overlay.services[node].healthcheck, node).toEqual(compose.services.rabbitmq.healthcheck);
			expect(Object.keys(overlay.volumes), node).toContain(overlay.services[node].volumes?.[0].split(":")[0]);
		}
	});

	it("makes every durable queue a quorum queue", () => {
		expect(setting("default_queue_type")).toEqual(["quorum"]);
	});

	it("gives every service all the nodes to fail over to and quorum queues, and starts it once the nodes are healthy", () => {
		for (const name of APP_SERVICES) {
			const service = overlay.services[name];
			expect(Object.keys(service.environment ?? {}).sort(), name).toEqual(["AMQP_QUEUE_TYPE", "TRANSPORTER"]);
			expect(service.environment?.AMQP_QUEUE_TYPE, name).toBe("quorum");
			const hosts = amqpUrls(service.environment!.TRANSPORTER).map(url => new URL(url).hostname);
			expect(hosts, name).toEqual(NODES);
			// The base file's `rabbitmq` dependency stays: Compose merges depends_on.
			expect(service.depends_on, name).toEqual({ "rabbitmq-2": { condition: "service_healthy" }, "rabbitmq-3": { condition: "service_healthy" } });
		}
	});
});

describe("Dockerfile", () => {
	const dockerfile = read("Dockerfile");
	const stages = dockerfile.split(/^FROM /m).slice(1);

	it("is multi-stage and runs compiled JavaScript as a non-root user", () => {
		expect(stages.length).toBeGreaterThanOrEqual(2);
		const runtime = stages.at(-1)!;
		expect(runtime).toMatch(/^USER (?!root)\w+/m);
		expect(runtime).toMatch(/NODE_ENV=production/);
		expect(runtime).toMatch(/CMD \[.*"dist\/moleculer\.config\.js"\]/);
		expect(runtime).not.toMatch(/tsx|ts-node/);
	});

	it("copies every source folder the build compiles", () => {
		const { include } = JSON.parse(read("tsconfig.json")) as { include: string[] };
		const copied = [...stages[0].matchAll(/^COPY (.+)$/gm)].flatMap(m => m[1].split(/\s+/).slice(0, -1));
		for (const source of include) expect(copied, source).toContain(source);
		expect(stages[0]).toContain("COPY frontend frontend");
	});
});
