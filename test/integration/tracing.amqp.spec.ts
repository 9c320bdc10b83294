/**
 * One trace per order across every hop, through the outbox (issue 16): three brokers over real
 * RabbitMQ with the `event` exporter (TRACING_EXPORTER=event), and a fourth that collects the
 * spans the way a tracing back end would. The trace of an order covers the gateway's request,
 * `orders.create`, the emit of its request, the payments handler, the emit of the result, the
 * orders handler and the status push to the gateway; an event dropped once and re-emitted shows
 * both emits in the same trace.
 */
import { randomBytes } from "node:crypto";
import { ServiceBroker, type Context } from "moleculer";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { ORDER_EVENTS, type PaymentRequestedPayload } from "../../services/orders/contracts";
import { dropFirstDelivery } from "../support/middlewares";
import { brokerOptions, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const rabbitmqUrl = inject("rabbitmqUrl");

interface ExportedSpan {
	name: string;
	id: string;
	traceID: string;
	parentID: string | null;
	type: string;
	service?: { name: string } | null;
	tags: Record<string, unknown>;
}

/** Amount (in minor units) of the orders whose payment request is lost on its first delivery. */
const DROPPED_ONCE_AMOUNT_MINOR = 777;

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

describe.skipIf(!rabbitmqUrl)("tracing through the outbox (event exporter, RabbitMQ)", () => {
	let system: TestSystem;
	let collector: ServiceBroker;
	const spans: ExportedSpan[] = [];

	beforeAll(async () => {
		system = await startSystem({
			transporter: rabbitmqUrl!,
			env: { TRACING_EXPORTER: "event" },
			paymentsMiddlewares: [dropFirstDelivery<PaymentRequestedPayload>(ORDER_EVENTS.PAYMENT_REQUESTED, request => request.amountMinor === DROPPED_ONCE_AMOUNT_MINOR)]
		});
		collector = new ServiceBroker(brokerOptions(`collector-${hex(4)}`, system.namespace, rabbitmqUrl!));
		collector.createService({
			name: "span-collector",
			events: {
				"$tracing.spans"(ctx: Context<ExportedSpan[]>) {
					spans.push(...ctx.params);
				}
			}
		});
		await collector.start();
		// Spans emitted before a node knows the collector's group go nowhere: wait until each sends.
		await waitFor("every node to send spans to the collector", async () => new Set(spans.map(span => span.service?.name)).size >= 3, 20_000);
	});

	afterAll(async () => {
		await collector?.stop();
		await system?.stop();
	});

	async function userWithBalance(): Promise<string> {
		const user = `trace-user-${hex(4)}`;
		expect((await system.request("POST", "/api/accounts", { user, body: {} })).status).toBe(201);
		expect((await system.request("POST", "/api/accounts/topup", { user, body: { amount: 100 } })).status).toBe(200);
		return user;
	}

	/**
	 * The spans of a trace once it holds every named one (each span's name, then its service) and
	 * passes `complete`: spans arrive in batches, from each node on its own.
	 */
	async function traceWith(traceId: string, expected: string[], complete: (trace: ExportedSpan[]) => boolean = () => true): Promise<ExportedSpan[]> {
		const describe = (span: ExportedSpan) => `${span.name} @${span.service?.name ?? "-"}`;
		let lastSeen: string[] = [];
		onTestFailed(() => console.error("The trace's spans:", lastSeen));
		return waitFor(
			`the trace to hold ${expected.join(", ")}`,
			async () => {
				const trace = spans.filter(span => span.traceID === traceId);
				const names = trace.map(describe);
				lastSeen = names;
				return expected.every(name => names.includes(name)) && complete(trace) ? trace : null;
			},
			20_000
		);
	}

	/** Every span's parent is in the trace, but for the root's, which is `rootParent`. */
	function expectConnected(trace: ExportedSpan[], rootParent: string | null) {
		const ids = new Set(trace.map(span => span.id));
		const orphans = trace.filter(span => !ids.has(span.parentID!) && span.parentID !== rootParent);
		expect(orphans.map(span => span.name)).toEqual([]);
	}

	const ORDER_HOPS = [
		"POST /api/orders @api",
		"action 'orders.create' @orders",
		"outbox emit 'payment.requested' @orders",
		"event 'payment.requested' in 'payments' @payments",
		"outbox emit 'payment.processed' @payments",
		"event 'payment.processed' in 'orders' @orders",
		"event 'order.statusChanged' in 'api' @api"
	];

	it("gives an order one trace from the gateway to the status push, continuing the caller's traceparent", async () => {
		const user = await userWithBalance();
		const traceId = hex(16);
		const callerSpan = hex(8);
		const created = await system.request("POST", "/api/orders", { user, body: { amount: 5, description: "traced" }, headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
		expect(created.status).toBe(201);
		expect(created.headers.get("x-request-id")).toBe(traceId);
		await waitForOrderEnd(system, user, created.body.id);

		const trace = await traceWith(traceId, ORDER_HOPS);
		expectConnected(trace, callerSpan);
		// Each hop is the child of the one before it.
		const byName = (name: string) => trace.find(span => `${span.name} @${span.service?.name ?? "-"}` === name)!;
		for (let i = 1; i < ORDER_HOPS.length; i++) {
			expect(byName(ORDER_HOPS[i]).parentID, ORDER_HOPS[i]).toBe(byName(ORDER_HOPS[i - 1]).id);
		}
		expect(byName("outbox emit 'payment.requested' @orders").tags).toMatchObject({ orderId: created.body.id, attempt: 1, group: "payments" });
	});

	it("puts the re-emit of a request lost on its first delivery, and what it caused, in the order's trace", async () => {
		const user = await userWithBalance();
		const created = await system.request("POST", "/api/orders", { user, body: { amount: DROPPED_ONCE_AMOUNT_MINOR / 100, description: "dropped once" } });
		expect(created.status).toBe(201);
		const traceId = created.headers.get("x-request-id")!;
		expect(traceId).toMatch(/^[0-9a-f-]{16,}$/);
		expect(await waitForOrderEnd(system, user, created.body.id)).toMatchObject({ status: "FINISHED" });

		const requestEmits = (trace: ExportedSpan[]) => trace.filter(span => span.name === "outbox emit 'payment.requested'");
		// The handler that paid is the child of the re-emit (the lost delivery may have a span too).
		const paidByReemit = (trace: ExportedSpan[]) => {
			const reemit = requestEmits(trace).find(emit => emit.tags.attempt === 2);
			return trace.some(span => span.name === "event 'payment.requested' in 'payments'" && span.parentID === reemit?.id);
		};
		const trace = await traceWith(traceId, ORDER_HOPS, paidByReemit);
		expectConnected(trace, null);
		expect(requestEmits(trace).map(span => span.tags.attempt)).toEqual(expect.arrayContaining([1, 2]));
		expect(new Set(requestEmits(trace).map(span => span.tags.eventId)).size).toBe(1);
	});

	it("adopts a valid X-Request-ID, replaces an unusable one, and ignores an invalid traceparent", async () => {
		const user = await userWithBalance();
		const requestId = "0f8fad5b-d9cb-469f-a165-70867728950e";
		const adopted = await system.request("GET", "/api/accounts/balance", { user, headers: { "X-Request-ID": requestId } });
		expect(adopted.headers.get("x-request-id")).toBe(requestId);

		const unusable: Record<string, string>[] = [
			{ "X-Request-ID": "<script>alert(1)</script>" },
			{ "X-Correlation-ID": "x".repeat(5000) },
			{ traceparent: `00-${"0".repeat(32)}-${hex(8)}-01` },
			{ traceparent: "garbage" }
		];
		for (const headers of unusable) {
			const res = await system.request("GET", "/api/accounts/balance", { user, headers });
			expect(res.status, JSON.stringify(headers)).toBe(200);
			const answered = res.headers.get("x-request-id")!;
			expect(answered, JSON.stringify(headers)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
		}
	});
});
