import { hostname } from "node:os";
import type { Middleware } from "moleculer";
import { describe, expect, it } from "vitest";
import { requestsBalancedByRabbitMq } from "../../platform/amqp-transporter";
import { createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";

const middlewareNames = (env: NodeJS.ProcessEnv) => ((createBrokerOptions(loadConfiguration(env)).middlewares ?? []) as Middleware[]).map(middleware => middleware.name);

describe("broker options", () => {
	it("give every process its own node id by default, even with one host name and pid (containers running as pid 1)", () => {
		const [first, second] = [createBrokerOptions(loadConfiguration({})).nodeID, createBrokerOptions(loadConfiguration({})).nodeID];
		expect(first).toMatch(new RegExp(`^${hostname().toLowerCase()}-${process.pid}-[0-9a-f]{6}$`));
		expect(second).not.toBe(first);
		expect(createBrokerOptions(loadConfiguration({ NODE_ID: "orders-7" })).nodeID).toBe("orders-7");
	});

	it("send requests to the action's shared queue over RabbitMQ, not to one picked instance's", () => {
		expect(middlewareNames({ TRANSPORTER: "amqp://127.0.0.1:5672" })).toContain("RequestsBalancedByRabbitMQ");
		expect(middlewareNames({})).not.toContain("RequestsBalancedByRabbitMQ");
	});

	it("turn a call to another process's picked endpoint into a call by action name, and keep every other target", async () => {
		const targets: unknown[] = [];
		const call = (requestsBalancedByRabbitMq.call as unknown as (next: (target: unknown) => Promise<unknown>) => (target: unknown, params?: unknown, opts?: object) => Promise<unknown>)(
			async target => targets.push(target)
		);
		const remote = { local: false, id: "orders-1", action: { name: "orders.create" } };
		const local = { local: true, id: "api-1", action: { name: "api.ready" } };
		await call(remote, {}, {});
		await call(remote, {}, { nodeID: "orders-1" });
		await call(local, {}, {});
		await call("payments.getBalance");
		expect(targets).toEqual(["orders.create", remote, local, "payments.getBalance"]);
	});
});
