/**
 * The gateway's `/health` and `/ready` are its own process's answers, not calls through RabbitMQ
 * (issue 19): while its transporter reconnects, `/health` stays 200 (a liveness probe must not
 * restart a gateway that is fine) and `/ready` says 503, then 200 once it is back.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startSystem, waitFor, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

describe.skipIf(!rabbitmqUrl)("the gateway while its RabbitMQ connection is lost", () => {
	let system: TestSystem;

	beforeAll(async () => {
		system = await startSystem({ transporter: rabbitmqUrl! });
	});

	afterAll(async () => {
		await system?.stop();
	});

	it("answers /health 200 throughout, /ready 503 until it has reconnected, then 200", async () => {
		// As on a broker event: the connection given up, Moleculer reconnects 5 s later.
		(system.brokers.api.transit!.tx as unknown as { recover(cause: string): void }).recover("A test gives up the connection");
		const health = await system.request("GET", "/health");
		expect(health.status).toBe(200);
		expect(health.body).toEqual({ status: "ok" });
		const ready = await system.request("GET", "/ready");
		expect(ready.status).toBe(503);
		expect(ready.body.checks).toContainEqual(expect.objectContaining({ name: "transporter", ready: false }));
		await waitFor("the gateway to be ready again", async () => (await system.request("GET", "/ready")).status === 200, 20_000);
		expect((await system.request("GET", "/health")).status).toBe(200);
	});
});
