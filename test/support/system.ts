/**
 * The whole system for a test: fresh databases on the run's Postgres, the three services on
 * real brokers (one process, or one broker per service over RabbitMQ), an HTTP client for the
 * gateway and SQL access to each service's database. `stop()` tears it all down.
 */
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import type { AddressInfo } from "node:net";
import { ServiceBroker, type BrokerOptions, type Middleware, type Service } from "moleculer";
import { Pool } from "pg";
import { expect, inject } from "vitest";
import { createDatabases, dropDatabases } from "../../tools/throwaway-databases";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import type { OutboxOptions } from "../../mixins/outbox.mixin";
import { createApiService, type ApiServiceOptions } from "../../services/api/api.service";
import { createOrdersService } from "../../services/orders/orders.service";
import type { ReconcilerOptions } from "../../services/orders/orders.reconciler";
import { createPaymentsService } from "../../services/payments/payments.service";

export interface TestDatabases {
	orders: string;
	payments: string;
	drop(): Promise<void>;
}

/** Two empty databases named after a random suffix; the services migrate them at start. */
export async function createTestDatabases(suffix: string): Promise<TestDatabases> {
	const admin = inject("databaseAdminUrl");
	const names = [`test_${suffix}_orders`, `test_${suffix}_payments`];
	const [orders, payments] = await createDatabases(admin, names);
	return { orders, payments, drop: () => dropDatabases(admin, names) };
}

/** Fast retries so that tests of lost events finish in a second or two. */
export const TEST_OUTBOX: OutboxOptions = { pollIntervalMs: 200, batchSize: 100, retry: { baseMs: 200, maxMs: 1000 }, parking: { maxFailures: 10, minAgeMs: 0 } };

export interface SystemOptions {
	/** An AMQP URL: one broker per service over RabbitMQ. Unset: one broker, no transporter. */
	transporter?: string;
	/** Extra middlewares of the payments / orders broker (to drop or duplicate deliveries). */
	paymentsMiddlewares?: Middleware[];
	ordersMiddlewares?: Middleware[];
	/** Outbox settings of both services (default TEST_OUTBOX). */
	outbox?: OutboxOptions;
	/** Gateway options (authentication mode, rate limit). */
	api?: ApiServiceOptions;
	/** Settings of the orders reconciler (default: from the environment). */
	reconciler?: ReconcilerOptions;
	/** More environment for every broker's options (TRACING_EXPORTER, say). */
	env?: NodeJS.ProcessEnv;
}

export interface HttpResponse<T = any> {
	status: number;
	headers: Headers;
	body: T;
}

export interface RequestOptions {
	user?: string;
	body?: unknown;
	/** Sent as is, instead of JSON of `body`. */
	rawBody?: string;
	headers?: Record<string, string>;
}

export interface TestSystem {
	baseUrl: string;
	brokers: { api: ServiceBroker; orders: ServiceBroker; payments: ServiceBroker };
	namespace: string;
	databaseUrls: { orders: string; payments: string };
	request<T = any>(method: string, path: string, options?: RequestOptions): Promise<HttpResponse<T>>;
	sql<T extends object = any>(database: "orders" | "payments", text: string, values?: unknown[]): Promise<T[]>;
	stop(): Promise<void>;
}

export function brokerOptions(nodeID: string, namespace: string, transporter: string | undefined, middlewares: Middleware[] = [], env: NodeJS.ProcessEnv = {}): BrokerOptions {
	const base = createBrokerOptions(loadConfiguration({ ...env, TRANSPORTER: transporter, NAMESPACE: namespace, AMQP_QUEUE_EXPIRY_MS: "60000" }));
	return {
		...base,
		nodeID,
		logger: process.env.TEST_LOGLEVEL ? base.logger : false,
		logLevel: (process.env.TEST_LOGLEVEL as BrokerOptions["logLevel"]) ?? "warn",
		middlewares: [...(base.middlewares ?? []), ...middlewares]
	};
}

export async function startSystem(options: SystemOptions = {}): Promise<TestSystem> {
	const suffix = randomBytes(4).toString("hex");
	const namespace = `test-${suffix}`;
	const databases = await createTestDatabases(suffix);
	const outbox = options.outbox ?? TEST_OUTBOX;
	const orders = createOrdersService({ databaseUrl: databases.orders, outbox, reconciler: options.reconciler });
	const payments = createPaymentsService({ databaseUrl: databases.payments, outbox });
	const api = createApiService({ port: 0, logRequest: null, logResponse: null }, options.api);

	let brokers: TestSystem["brokers"];
	if (options.transporter) {
		brokers = {
			api: new ServiceBroker(brokerOptions(`api-${suffix}`, namespace, options.transporter, [], options.env)),
			orders: new ServiceBroker(brokerOptions(`orders-${suffix}`, namespace, options.transporter, options.ordersMiddlewares, options.env)),
			payments: new ServiceBroker(brokerOptions(`payments-${suffix}`, namespace, options.transporter, options.paymentsMiddlewares, options.env))
		};
		brokers.orders.createService(orders);
		brokers.payments.createService(payments);
		brokers.api.createService(api);
		await Promise.all([brokers.orders.start(), brokers.payments.start()]);
		await brokers.api.start();
		await brokers.api.waitForServices(["orders", "payments"], 10_000);
	} else {
		const broker = new ServiceBroker(brokerOptions(`all-${suffix}`, namespace, undefined, [...(options.ordersMiddlewares ?? []), ...(options.paymentsMiddlewares ?? [])], options.env));
		broker.createService(orders);
		broker.createService(payments);
		broker.createService(api);
		await broker.start();
		brokers = { api: broker, orders: broker, payments: broker };
	}

	const gateway = brokers.api.getLocalService("api") as Service & { server: { address(): AddressInfo } };
	const baseUrl = `http://127.0.0.1:${gateway.server.address().port}`;
	await waitFor("the gateway to be ready", async () => (await fetch(`${baseUrl}/ready`)).ok);
	const pools = { orders: new Pool({ connectionString: databases.orders, max: 2 }), payments: new Pool({ connectionString: databases.payments, max: 2 }) };

	return {
		baseUrl,
		brokers,
		namespace,
		databaseUrls: { orders: databases.orders, payments: databases.payments },
		async request(method, path, { user, body, rawBody, headers = {} } = {}) {
			const response = await fetch(baseUrl + path, {
				method,
				headers: {
					...(user === undefined ? {} : { "X-User-Id": user }),
					...(body !== undefined || rawBody !== undefined ? { "Content-Type": "application/json" } : {}),
					...headers
				},
				body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body))
			});
			const text = await response.text();
			let parsed: unknown = text;
			try {
				parsed = JSON.parse(text);
			} catch {
				// not JSON: keep the text
			}
			return { status: response.status, headers: response.headers, body: parsed as any };
		},
		async sql(database, text, values = []) {
			return (await pools[database].query(text, values)).rows;
		},
		async stop() {
			await pools.orders.end();
			await pools.payments.end();
			for (const broker of new Set([brokers.api, brokers.orders, brokers.payments])) await broker.stop();
			await databases.drop();
		}
	};
}

export interface EventStream {
	status: number;
	contentType: string | null;
	/** `event: order` messages received so far, parsed. */
	orders: any[];
	/** Everything received, as text. */
	text(): string;
	close(): void;
}

/** Opens the gateway's live channel as a user and collects what arrives. */
export async function openEventStream(system: TestSystem, user: string): Promise<EventStream> {
	const abort = new AbortController();
	const response = await fetch(`${system.baseUrl}/api/events`, { headers: { "X-User-Id": user }, signal: abort.signal });
	let received = "";
	const orders: any[] = [];
	void (async () => {
		const decoder = new TextDecoder();
		try {
			for await (const chunk of response.body!) {
				received += decoder.decode(chunk, { stream: true });
				const messages = received.split("\n\n");
				orders.length = 0;
				for (const message of messages) {
					const data = message.split("\n").find(line => line.startsWith("data: "));
					if (message.includes("event: order") && data) orders.push(JSON.parse(data.slice(6)));
				}
			}
		} catch {
			// aborted
		}
	})();
	return { status: response.status, contentType: response.headers.get("content-type"), orders, text: () => received, close: () => abort.abort() };
}

/** Polls `probe` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise(resolve => setTimeout(resolve, 25));
	}
}

/** Waits until the order has left NEW and returns it. */
export async function waitForOrderEnd(system: TestSystem, user: string, orderId: string, timeoutMs = 10_000) {
	return waitFor(
		`order ${orderId} to end`,
		async () => {
			const { body } = await system.request("GET", `/api/orders/${orderId}`, { user });
			return body.status !== "NEW" ? body : null;
		},
		timeoutMs
	);
}

/** Opens the user's account and tops it up by `amount`. */
export async function openAccount(system: TestSystem, user: string, amount: number): Promise<void> {
	expect((await system.request("POST", "/api/accounts", { user, body: {} })).status).toBe(201);
	expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount } })).status).toBe(200);
}

/** Places an order for the user; returns its id. */
export async function placeOrder(system: TestSystem, user: string, amount: number, description = "test order"): Promise<string> {
	const created = await system.request("POST", "/api/orders", { user, body: { amount, description } });
	expect(created.status).toBe(201);
	return created.body.id;
}

/**
 * Makes a service's handler fail on every delivery, the way a bug would: `write` (e.g. "INSERT ON
 * payment_transactions", in the handler's transaction) raises `message` `when` it holds, until `fixed()`.
 */
export async function breakHandler(system: TestSystem, database: "orders" | "payments", write: string, when: string, message = "a broken handler (test)"): Promise<{ fixed(): Promise<unknown> }> {
	const name = `broken_${database}_${randomBytes(4).toString("hex")}`;
	const table = write.split(" ON ")[1];
	await system.sql(database, `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`);
	await system.sql(database, `CREATE TRIGGER ${name} BEFORE ${write} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`);
	return { fixed: () => system.sql(database, `DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}()`) };
}

export { freePort, freePortBlock } from "../../tools/free-port";

/** Collects what a child process prints (both streams), to show when a test fails. */
export function collectOutput(child: ChildProcess, sink: string[]): ChildProcess {
	child.stdout?.on("data", chunk => sink.push(String(chunk)));
	child.stderr?.on("data", chunk => sink.push(String(chunk)));
	return child;
}
