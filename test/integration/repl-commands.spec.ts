/**
 * The operator's REPL commands (tools/repl-commands.ts, issue 16) on the whole system in one process
 * (real Postgres): each command's action is run as moleculer-repl runs it (its argument parser, its
 * table and colour helpers) and what it prints is what an operator would read. Over RabbitMQ, from
 * a REPL process of its own: repl.amqp.spec.ts.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { format, stripVTControlCharacters } from "node:util";
import { Errors } from "moleculer";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { REPL_COMMANDS, describeError, formatAge, formatTook, type ReplCommand, type ReplHelpers } from "../../tools/repl-commands";
import { startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

/** moleculer-repl's own packages: what it hands custom commands, and how it parses `--key value`. */
const replRequire = createRequire(require.resolve("moleculer-repl"));
const { table, getBorderCharacters } = replRequire("table");
const helpers: ReplHelpers = { table, getBorderCharacters, kleur: replRequire("kleur") };
const { parser: parseOptions } = replRequire("./src/args-parser") as { parser(argv: string[]): Record<string, unknown> };

let system: TestSystem;

beforeAll(async () => {
	system = await startSystem();
});

afterAll(async () => {
	await system?.stop();
});

/** Runs a command's action with `args` as moleculer-repl builds them; returns what it printed, without colours. */
async function run(name: keyof typeof REPL_COMMANDS, args: object, options: string[] = []): Promise<string> {
	const printed: string[] = [];
	const capture = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void printed.push(format(...parts)));
	try {
		const command = REPL_COMMANDS[name] as ReplCommand<object>;
		await command.action(system.brokers.api, { ...args, options: parseOptions(options), rawCommand: name }, helpers);
	} finally {
		capture.mockRestore();
	}
	return stripVTControlCharacters(printed.join("\n"));
}

/** A table row of cells, as moleculer-repl's table draws it: cells between │, padded. */
const row = (...cells: (string | RegExp)[]) => new RegExp(cells.map(cell => (typeof cell === "string" ? cell.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : cell.source)).join("\\s*│\\s*"));

/** An event of payments that orders parks as dead at once: its order id is malformed. */
async function deadPaymentsEvent(): Promise<string> {
	const [event] = await system.sql("payments", "INSERT INTO outbox_events (event_name, target_group, payload) VALUES ($1, 'orders', $2) RETURNING id", [
		PAYMENT_EVENTS.PAYMENT_PROCESSED,
		JSON.stringify({ orderId: "not-a-uuid", outcome: "PAID", reason: null })
	]);
	await waitFor("the malformed event to be parked", async () => (await system.sql("payments", "SELECT dead_at FROM outbox_events WHERE id = $1", [event.id]))[0].dead_at);
	return event.id;
}

describe("outbox and dead events", () => {
	it("outbox shows every service's pending events, the oldest one's age and its dead events in one table", async () => {
		// Waits for a consumer group nobody runs: pending, never emitted, 90 s old.
		await system.sql("orders", "INSERT INTO outbox_events (event_name, target_group, payload, created_at) VALUES ('audit.requested', 'auditors', '{}', now() - interval '90 seconds')");
		await deadPaymentsEvent();

		const printed = await run("outbox", {});
		expect(printed).toMatch(row("Service", "Pending", "Oldest pending", "Dead"));
		expect(printed).toMatch(row("orders", "1", /1 min 3[01] s/, "0"));
		expect(printed).toMatch(row("payments", "0", "-", "1"));
	});

	it("dead lists the dead events of every service, or of one, with their last error", async () => {
		const eventId = await deadPaymentsEvent();
		for (const service of [undefined, "payments"]) {
			const printed = await run("dead", { service });
			expect(printed).toMatch(row("payments", eventId, `${PAYMENT_EVENTS.PAYMENT_PROCESSED} → orders`, "1", /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, "Malformed event"));
			expect(printed).toMatch(row("", "order not-a-uuid", ""));
		}
		expect(await run("dead", { service: "orders" })).toBe(">> No dead events.");
	});

	it("dead and replay name the services up when given another, and print a bad limit as the action's validation error", async () => {
		expect(await run("dead", { service: "shipping" })).toBe(">> No service with an outbox is called 'shipping' (those up: orders, payments).");
		expect(await run("replay", { service: "shipping", ids: [] })).toBe(">> No service with an outbox is called 'shipping' (those up: orders, payments).");
		expect(await run("dead", { service: "payments" }, ["--limit", "0"])).toBe(
			">> payments: Parameters validation error! The 'limit' field must be greater than or equal to 1. (422 VALIDATION_ERROR)"
		);
	});
});

describe("replay", () => {
	it("replays the given dead events, says which given ids were not dead, and the replayed event is applied", async () => {
		const user = `replay-${Date.now()}`;
		const orderId = randomUUID();
		await system.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, $2, 500, 'stranded')", [orderId, user]);
		const eventId = await deadPaymentsEvent();
		// The cause fixed at the source: the event names the order.
		await system.sql("payments", "UPDATE outbox_events SET payload = jsonb_set(payload, '{orderId}', to_jsonb($2::text)) WHERE id = $1", [eventId, orderId]);
		const unknown = randomUUID();

		const printed = await run("replay", { service: "payments", ids: [eventId, unknown] });
		expect(printed).toBe(`>> Replayed 1 dead event(s) of payments:\n   ${eventId}\n>> Not dead (confirmed, already replayed or unknown): ${unknown}`);
		expect(await waitForOrderEnd(system, user, orderId)).toMatchObject({ status: "FINISHED" });
		expect(await run("replay", { service: "payments", ids: [eventId] })).toBe(">> Nothing replayed: payments has no such dead event.");
	});

	it("replays every dead event of a service without ids", async () => {
		const first = await deadPaymentsEvent();
		const second = await deadPaymentsEvent();
		const printed = await run("replay", { service: "payments", ids: [] });
		expect(printed).toMatch(/^>> Replayed \d+ dead event\(s\) of payments:/);
		expect(printed).toContain(first);
		expect(printed).toContain(second);
		// Still malformed: parked again, and nothing else is left to replay in between.
		await waitFor(
			"the replayed events to be parked again",
			async () => (await system.sql("payments", "SELECT 1 FROM outbox_events WHERE id = ANY($1) AND dead_at IS NOT NULL", [[first, second]])).length === 2
		);
	});

	it("prints an invalid id as the action's validation error and replays nothing", async () => {
		const eventId = await deadPaymentsEvent();
		expect(await run("replay", { service: "payments", ids: [eventId, "abc"] })).toBe(
			">> replay on payments: Parameters validation error! The 'ids[1]' field must be a valid UUID. (422 VALIDATION_ERROR)"
		);
		expect((await system.sql("payments", "SELECT dead_at FROM outbox_events WHERE id = $1", [eventId]))[0].dead_at).not.toBeNull();
	});
});

describe("as", () => {
	it("calls actions as the user, with --key value or JSON params, and shows the user's balance", async () => {
		const user = `as-${Date.now()}`;
		await run("as", { userId: user, actionName: "payments.createAccount" });
		expect(await run("as", { userId: user, actionName: "payments.topUp" }, ["--amount", "25"])).toContain(">> payments.topUp as");
		const order = await run("as", { userId: user, actionName: "orders.create", jsonParams: '{ "amount": 10.5, "description": "from the REPL" }' });
		expect(order).toContain("status: 'NEW'");
		const orderId = /id: '([0-9a-f-]{36})'/.exec(order)![1];
		await waitForOrderEnd(system, user, orderId);

		const balance = await run("as", { userId: user, actionName: "payments.getBalance" });
		expect(balance).toContain(`>> payments.getBalance as ${user} with {}`);
		expect(balance).toContain(`userId: '${user}'`);
		expect(balance).toContain("balance: 14.5");
	});

	it("prints a refusal, a validation error, an unknown action and params that are not JSON as one clear line each", async () => {
		const errorLine = async (args: object, options: string[] = []) => (await run("as", args, options)).split("\n").at(-1);
		expect(await errorLine({ userId: "nobody-here", actionName: "payments.getBalance" })).toMatch(/^>> payments.getBalance: .+ \(404 ACCOUNT_NOT_FOUND\)$/);
		expect(await errorLine({ userId: "bad user", actionName: "orders.list" })).toBe(">> orders.list: The X-User-Id header must be 1-64 characters of A-Z a-z 0-9 . _ : @ - (400 INVALID_USER_ID)");
		expect(await errorLine({ userId: "alice", actionName: "payments.topUp" }, ["--amount", "-3"])).toMatch(
			/^>> payments.topUp: Parameters validation error! .*amount.* \(422 VALIDATION_ERROR\)$/
		);
		expect(await errorLine({ userId: "alice", actionName: "shipping.send" })).toBe(">> shipping.send: Service 'shipping.send' is not found. (404 SERVICE_NOT_FOUND)");
		expect(await errorLine({ userId: "alice", actionName: "orders.create", jsonParams: "{amount: 5}" })).toMatch(/^>> The params are not JSON: /);
	});
});

describe("order", () => {
	it("shows a finished order, its payment decision and every hop across the services", async () => {
		const user = `journey-${Date.now()}`;
		await run("as", { userId: user, actionName: "payments.createAccount" });
		await run("as", { userId: user, actionName: "payments.topUp" }, ["--amount", "20"]);
		const { body: order } = await system.request("POST", "/api/orders", { user, body: { amount: 7, description: "followed" } });
		await waitForOrderEnd(system, user, order.id);

		const printed = await run("order", { id: order.id });
		expect(printed).toMatch(new RegExp(`^Order ${order.id} of ${user}: 7.00, FINISHED, placed \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC`));
		expect(printed).toMatch(row("Step", "Service", "At (UTC)", "Took", "Detail"));
		expect(printed).toMatch(row("created", "orders", /\d\d:\d\d:\d\d\.\d{3}/, "+0 ms"));
		expect(printed).toMatch(row("paymentDecided", "payments", /\d\d:\d\d:\d\d\.\d{3}/, /\+\d+ ms/, "PAID"));
		for (const step of ["requestEmitted", "requestReceived", "requestConfirmed", "resultEmitted", "resultApplied", "pushed"]) expect(printed).toContain(step);
		expect(printed).not.toContain("Waiting for");
	});

	it("shows a refunded order with when its cancel was asked and its money went back (issue 18)", async () => {
		const user = `refund-${Date.now()}`;
		await run("as", { userId: user, actionName: "payments.createAccount" });
		await run("as", { userId: user, actionName: "payments.topUp" }, ["--amount", "20"]);
		const { body: order } = await system.request("POST", "/api/orders", { user, body: { amount: 7, description: "returned" } });
		await waitForOrderEnd(system, user, order.id);
		expect((await system.request("POST", `/api/orders/${order.id}/cancel`, { user })).status).toBe(202);
		await waitFor("the refund", async () => (await system.request("GET", `/api/orders/${order.id}`, { user })).body.status === "REFUNDED");

		const printed = await run("order", { id: order.id });
		const time = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC";
		expect(printed).toMatch(new RegExp(`^Order ${order.id} of ${user}: 7.00, REFUNDED, cancel requested ${time}, refunded ${time}, placed ${time}`));
		expect(printed).toMatch(row("cancelRequested", "orders", /\d\d:\d\d:\d\d\.\d{3}/, /\+\d+ ms/));
		expect(printed).toMatch(row("refunded", "orders", /\d\d:\d\d:\d\d\.\d{3}/, /\+\d+ ms/));
	});

	it("says what a NEW order waits for", async () => {
		const orderId = randomUUID();
		await system.sql("orders", "INSERT INTO orders (id, user_id, amount_minor, description) VALUES ($1, 'waiting-user', 500, 'never requested')", [orderId]);
		const printed = await run("order", { id: orderId });
		expect(printed).toMatch(new RegExp(`^Order ${orderId} of waiting-user: 5.00, NEW, placed `));
		expect(printed.split("\n").at(-1)).toMatch(/^>> Waiting for paymentDecided since [\d-]+ [\d:]+ UTC: payments has no decision and no request is in flight/);
	});

	it("says an unknown order is not found", async () => {
		expect(await run("order", { id: "5b0e6f3c-0000-4000-8000-000000000000" })).toBe(">> order 5b0e6f3c-0000-4000-8000-000000000000: Order not found. (404 ORDER_NOT_FOUND)");
	});
});

describe("what the commands print", () => {
	it("gives a timeout's message with a warning that the call may still complete", () => {
		const timeout = new Errors.RequestTimeoutError({ action: "orders.journey", nodeID: "orders-1" });
		expect(describeError(timeout)).toBe("Request is timed out when call 'orders.journey' action on 'orders-1' node. (504 REQUEST_TIMEOUT) It may still complete.");
	});

	it("gives ages and durations in the unit an operator reads at a glance", () => {
		expect([0.42, 42.4, 185, 7_620].map(formatAge)).toEqual(["0.4 s", "42 s", "3 min 05 s", "2 h 07 min"]);
		expect([0, 16, 1_240, 61_229].map(formatTook)).toEqual(["+0 ms", "+16 ms", "+1.2 s", "+1 min 01 s"]);
	});
});
