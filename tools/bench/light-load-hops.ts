/**
 * Where an order's time goes, hop by hop, from the timestamps the system writes anyway: the order
 * row (inserted, updated: clock_timestamp()), the outbox rows (claimed by a relay: the claim's
 * now()), the consumers' transactions (inbox received_at, payment created_at: their now(), i.e.
 * their start), and the client's own clock at either end. All on one machine's clock.
 * Orders whose events were emitted more than once are left out (a re-emit rewrites the claim time).
 */
import { Client } from "pg";
import { epochMs } from "./clock";
import type { OrderTimeline } from "./end-to-end-load";
import type { HopTiming } from "./results";
import { percentile } from "./stats";

interface OrderSide {
	id: string;
	order_inserted: number;
	order_finished: number;
	request_attempts: number;
}

interface PaymentSide {
	order_id: string;
	payment_started: number;
	result_id: string;
	result_attempts: number;
}

/** One order's path, wall clock ms. */
interface OrderPath {
	postStarted: number;
	answeredAt: number;
	finalAt: number;
	orderInserted: number;
	paymentStarted: number;
	resultReceived: number;
	orderFinished: number;
}

async function queryRows<T>(url: string, text: string, values: unknown[]): Promise<T[]> {
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		return (await client.query(text, values)).rows as T[];
	} finally {
		await client.end();
	}
}

/** The hops, in order: label and how to compute it from one order's timestamps. */
const HOPS: { hop: string; ms: (t: OrderPath) => number }[] = [
	{ hop: "POST → order row written (gateway, request to orders, BEGIN)", ms: t => t.orderInserted - t.postStarted },
	// The outbox row is written already claimed and emitted on commit: its own timestamps fall
	// inside the writing transaction, so each hop runs from one transaction's start to the next.
	{ hop: "order row → payments transaction starts (commit, emit on commit, transport, handler)", ms: t => t.paymentStarted - t.orderInserted },
	{ hop: "payment transaction → orders transaction starts (tx, commit, emit, transport, handler)", ms: t => t.resultReceived - t.paymentStarted },
	{ hop: "orders transaction → order row updated (inbox insert)", ms: t => t.orderFinished - t.resultReceived },
	{ hop: "order row updated → push arrives (commit, broadcast, SSE)", ms: t => t.finalAt - t.orderFinished },
	{ hop: "total: POST → final status pushed", ms: t => t.finalAt - t.postStarted },
	{ hop: "(aside) order row written → POST answered", ms: t => t.answeredAt - t.orderInserted }
];

export async function measureHops(urls: { orders: string; payments: string }, timelines: readonly OrderTimeline[]): Promise<{ orders: number; hops: HopTiming[] } | null> {
	const ids = timelines.map(t => t.orderId);
	const ordersSide = await queryRows<OrderSide>(
		urls.orders,
		`SELECT o.id, ${epochMs("o.created_at")} AS order_inserted, ${epochMs("o.updated_at")} AS order_finished,
			r.attempts AS request_attempts
		FROM orders o JOIN outbox_events r ON r.event_name = 'payment.requested' AND r.payload->>'orderId' = o.id::text
		WHERE o.id = ANY($1::uuid[])`,
		[ids]
	);
	const paymentsSide = await queryRows<PaymentSide>(
		urls.payments,
		`SELECT p.order_id, ${epochMs("p.created_at")} AS payment_started, e.id AS result_id,
			e.attempts AS result_attempts
		FROM payment_transactions p JOIN outbox_events e ON e.event_name = 'payment.processed' AND e.payload->>'orderId' = p.order_id::text
		WHERE p.order_id = ANY($1::uuid[])`,
		[ids]
	);
	const resultsReceived = await queryRows<{ event_id: string; received: number }>(
		urls.orders,
		`SELECT event_id, ${epochMs("received_at")} AS received FROM inbox_events WHERE event_id = ANY($1::uuid[])`,
		[paymentsSide.map(p => p.result_id)]
	);
	const orderById = new Map(ordersSide.map(row => [row.id, row]));
	const paymentByOrder = new Map(paymentsSide.map(row => [row.order_id, row]));
	const receivedByEvent = new Map(resultsReceived.map(row => [row.event_id, row.received]));

	const paths = timelines.flatMap((timeline): OrderPath[] => {
		const order = orderById.get(timeline.orderId);
		const payment = paymentByOrder.get(timeline.orderId);
		const resultReceived = payment && receivedByEvent.get(payment.result_id);
		if (!order || !payment || resultReceived === undefined || order.request_attempts !== 1 || payment.result_attempts !== 1) return [];
		return [
			{
				postStarted: timeline.postStartedAt,
				answeredAt: timeline.answeredAt,
				finalAt: timeline.finalAt,
				orderInserted: order.order_inserted,
				paymentStarted: payment.payment_started,
				resultReceived,
				orderFinished: order.order_finished
			}
		];
	});
	if (paths.length === 0) return null;
	return {
		orders: paths.length,
		hops: HOPS.map(({ hop, ms }) => {
			const sorted = paths.map(ms).sort((a, b) => a - b);
			return { hop, medianMs: percentile(sorted, 0.5), p90Ms: percentile(sorted, 0.9) };
		})
	};
}
