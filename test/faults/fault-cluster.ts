/**
 * What the fault suites share: the cluster as separate processes (gateway, 2× orders, 2× payments)
 * over the machine's RabbitMQ and fresh databases, a client that retries with its Idempotency-Key
 * as a real one would, quiescence, and the checks of the outcome (nothing lost, nothing applied
 * twice, every ledger balanced, nothing parked; issue 18: every cancel ended, no refund twice or
 * without a payment, every statement summing to its balance).
 */
import type { ChildProcess } from "node:child_process";
import { Pool } from "pg";
import { expect } from "vitest";
import { CLUSTER_NODES, spawnRunner } from "../../tools/runner-process";
import { deleteUnusedQueues } from "../support/rabbitmq-queues";
import { collectOutput, createTestDatabases, freePortBlock, waitFor, type TestDatabases } from "../support/system";

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export interface FaultClusterOptions {
	/**
	 * TRANSPORTER of every node (the machine's RabbitMQ, whose queues of the cluster's namespace are
	 * deleted when it stops), or of node `index` (the order of CLUSTER_NODES; a RabbitMQ of the
	 * suite's own, which it removes itself).
	 */
	rabbitmqUrl: string | ((index: number) => string);
	/** Where the services find their databases (a proxy in front of them, say); default: the fresh databases. */
	databaseUrls?(databases: TestDatabases): { orders: string; payments: string };
	/** Settings of every process, over the suite's defaults. */
	env?: NodeJS.ProcessEnv;
}

export interface FaultCluster {
	/** The gateway's port; node i's health port is port + 1 + i. */
	port: number;
	namespace: string;
	databases: TestDatabases;
	/** Direct connections to each database (not through any proxy), for the checks. */
	pools: { orders: Pool; payments: Pool };
	/** Everything the processes printed. */
	output: string[];
	/** Processes that exited without being killed or stopped by the suite. */
	unexpectedExits: { id: string; code: number | null; signal: string | null; at: number }[];
	kill(id: string): void;
	/** Starts a node again and waits until it is ready. */
	restart(id: string): Promise<void>;
	stop(): Promise<void>;
}

export async function startFaultCluster(options: FaultClusterOptions): Promise<FaultCluster> {
	const suffix = Math.random().toString(16).slice(2, 10);
	const namespace = `faults-${suffix}`;
	const databases = await createTestDatabases(suffix);
	const urls = options.databaseUrls?.(databases) ?? databases;
	const port = await freePortBlock(1 + CLUSTER_NODES.length); // the gateway and the health ports
	const output: string[] = [];
	const processes = new Map<string, ChildProcess>();
	const unexpectedExits: FaultCluster["unexpectedExits"] = [];
	/** Children killed or stopped on purpose: their exit is expected. */
	const ended = new WeakSet<ChildProcess>();

	const start = (index: number) => {
		const { id, services } = CLUSTER_NODES[index];
		const child = spawnRunner({
			SERVICES: services,
			NODE_ID: `${namespace}-${id}`,
			NAMESPACE: namespace,
			TRANSPORTER: typeof options.rabbitmqUrl === "string" ? options.rabbitmqUrl : options.rabbitmqUrl(index),
			AMQP_QUEUE_EXPIRY_MS: "300000",
			ORDERS_DATABASE_URL: urls.orders,
			PAYMENTS_DATABASE_URL: urls.payments,
			PORT: String(port),
			HEALTH_PORT: String(port + 1 + index),
			LOG_FORMAT: "json",
			LOGLEVEL: "info",
			...options.env
		});
		collectOutput(child, output);
		child.once("exit", (code, signal) => {
			if (!ended.has(child)) unexpectedExits.push({ id, code, signal, at: Date.now() });
		});
		processes.set(id, child);
	};
	const ready = (index: number) => async () => (await fetch(`http://127.0.0.1:${port + 1 + index}/ready`).catch(() => null))?.ok;

	CLUSTER_NODES.forEach((_, index) => start(index));
	await waitFor("the cluster to be ready", async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 60_000);
	const pools = { orders: new Pool({ connectionString: databases.orders, max: 2 }), payments: new Pool({ connectionString: databases.payments, max: 2 }) };

	return {
		port,
		namespace,
		databases,
		pools,
		output,
		unexpectedExits,
		kill(id) {
			const child = processes.get(id);
			if (child) ended.add(child);
			child?.kill("SIGKILL");
		},
		async restart(id) {
			const index = CLUSTER_NODES.findIndex(node => node.id === id);
			start(index);
			await waitFor(`${id} to be ready`, ready(index), 60_000);
		},
		async stop() {
			for (const child of processes.values()) ended.add(child);
			for (const child of processes.values()) if (child.exitCode === null) child.kill("SIGTERM");
			await sleep(2000);
			for (const child of processes.values()) if (child.exitCode === null) child.kill("SIGKILL");
			await pools.orders.end();
			await pools.payments.end();
			await databases.drop();
			if (typeof options.rabbitmqUrl === "string") await deleteUnusedQueues(options.rabbitmqUrl, [`MOL-${namespace}.`]);
		}
	};
}

export interface Answer {
	status: number;
	body: any;
	attempts: number;
}

/** One HTTP attempt of a client: when it started, how long it took, and its status (0: no answer). */
export interface Attempt {
	at: number;
	ms: number;
	status: number;
}

/**
 * A client: retries with the same Idempotency-Key until it gets an answer that is not the server's
 * fault (or `patienceMs` passes); `onAttempt` hears of every attempt.
 */
export async function callUntilAnswered(
	port: number,
	method: string,
	urlPath: string,
	user: string,
	body: unknown,
	key: string,
	patienceMs = 180_000,
	onAttempt?: (attempt: Attempt) => void
): Promise<Answer> {
	const deadline = Date.now() + patienceMs;
	for (let attempt = 1; ; attempt++) {
		const at = Date.now();
		let status = 0;
		try {
			const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
				method,
				headers: { "X-User-Id": user, "Content-Type": "application/json", "Idempotency-Key": key },
				body: JSON.stringify(body),
				signal: AbortSignal.timeout(15_000)
			});
			status = res.status;
			if (res.status < 500 && res.status !== 429 && res.status !== 409) return { status: res.status, body: await res.json(), attempts: attempt };
			if (res.status === 409) {
				const answer = await res.json();
				if (answer?.type !== "IDEMPOTENCY_KEY_IN_USE") return { status: res.status, body: answer, attempts: attempt };
			}
		} catch {
			// connection refused or reset, timeout: retry
		} finally {
			onAttempt?.({ at, ms: Date.now() - at, status });
		}
		if (Date.now() > deadline) return { status: 0, body: null, attempts: attempt };
		await sleep(Math.min(2000, 100 * attempt));
	}
}

/** Accounts with a first top-up each; returns the amounts. */
export async function openFundedAccounts(port: number, users: string[], amount: () => number): Promise<Map<string, number>> {
	const topUps = new Map<string, number>();
	for (let i = 0; i < users.length; i += 20) {
		await Promise.all(
			users.slice(i, i + 20).map(async user => {
				const opened = await callUntilAnswered(port, "POST", "/api/accounts", user, {}, `account-${user}`);
				if (opened.status !== 201 && opened.status !== 409) throw new Error(`Opening ${user}'s account answered ${opened.status}`);
				const value = amount();
				const toppedUp = await callUntilAnswered(port, "POST", "/api/accounts/topup", user, { amount: value }, `topup-${user}`);
				if (toppedUp.status !== 200) throw new Error(`Topping up ${user}'s account answered ${toppedUp.status}`);
				topUps.set(user, value);
			})
		);
	}
	return topUps;
}

const count = async (pool: Pool, sql: string) => Number((await pool.query(sql)).rows[0].n);

/** Waits until every order and every cancel has ended and every outbox event is confirmed; returns whether it came. */
export async function awaitQuiescence(pools: FaultCluster["pools"], timeoutMs: number): Promise<boolean> {
	return waitFor(
		"quiescence",
		async () =>
			(await count(pools.orders, "SELECT count(*) AS n FROM orders WHERE status = 'NEW'")) === 0 &&
			(await count(pools.orders, "SELECT count(*) AS n FROM orders WHERE cancel_requested_at IS NOT NULL AND cancel_outcome IS NULL")) === 0 &&
			(await count(pools.orders, "SELECT count(*) AS n FROM outbox_events WHERE confirmed_at IS NULL")) === 0 &&
			(await count(pools.payments, "SELECT count(*) AS n FROM outbox_events WHERE confirmed_at IS NULL")) === 0,
		timeoutMs
	).catch(() => false);
}

export interface PlacedOrder {
	key: string;
	answer: Answer;
}

export interface Outcome {
	/** Acknowledged orders missing or still NEW. */
	lost: number;
	ordersNotAcknowledgedButCreated: number;
	doubleEffects: {
		paymentsPerOrderAboveOne: number;
		statusDisagreesWithPayment: number;
		ordersPerKeyAboveOne: number;
		/** Orders with more than one REFUND movement. */
		refundsPerOrderAboveOne: number;
		/** REFUND movements of an order that was never paid (no PAYMENT movement, or no PAID decision refunded), or of another amount. */
		refundsWithoutPayment: number;
		/** Orders whose refundedAt disagrees with payments' refund (one without the other). */
		refundDisagreesWithOrder: number;
	};
	/** balance ≠ top-ups − payments + refunds, or the journal's PAYMENT movements ≠ the PAID decisions. */
	unbalancedLedgers: number;
	/** Accounts whose statement (the sum of its movements, or its newest balanceAfter) is not its balance. */
	statementsNotSummingToBalance: number;
	negativeBalances: number;
	finished: number;
	/** Status CANCELLED, refused or cancelled by the owner. */
	cancelled: number;
	/** Status REFUNDED. */
	refunded: number;
	cancels: {
		/** Orders whose owner asked to cancel them. */
		requested: number;
		/** Of those, without payments' answer applied: a cancel that never ended. */
		unended: number;
		/** Payments' answers: voided before the payment, refunded, nothing to refund. */
		voided: number;
		refundedAfterPayment: number;
		nothingToRefund: number;
		/** REFUND movements, and their sum in minor units. */
		refundMovements: number;
		refundedMinor: number;
	};
	/** Outbox events parked as dead, in both databases. */
	dead: number;
}

/** What the databases say of the orders placed: the suites' checks. */
export async function examineOutcome(pools: FaultCluster["pools"], placed: PlacedOrder[]): Promise<Outcome> {
	const acknowledged = placed.filter(o => o.answer.status === 201);
	const ordersRows = (await pools.orders.query("SELECT id, user_id, status, cancel_reason, amount_minor, cancel_requested_at, cancel_outcome, refunded_at FROM orders")).rows;
	const payments = (await pools.payments.query("SELECT order_id, outcome, reason, amount_minor, refunded_at FROM payment_transactions")).rows;
	const paymentByOrder = new Map(payments.map(p => [p.order_id, p]));
	const keysPerOrder = (await pools.orders.query("SELECT count(*) AS n FROM idempotency_keys GROUP BY user_id, operation, key HAVING count(*) > 1")).rowCount ?? 0;
	// pg returns BIGINT (and sums of it) as strings: compared as BigInt.
	const ledgers = (
		await pools.payments.query(`
			SELECT a.user_id, a.balance_minor::bigint AS balance,
				coalesce((SELECT sum(amount_minor) FROM topups t WHERE t.user_id = a.user_id), 0)::bigint AS topups,
				coalesce((SELECT sum(amount_minor) FROM payment_transactions p WHERE p.user_id = a.user_id AND outcome = 'PAID'), 0)::bigint AS paid,
				coalesce((SELECT sum(amount_minor) FROM payment_transactions p WHERE p.user_id = a.user_id AND refunded_at IS NOT NULL), 0)::bigint AS refunded,
				(SELECT count(*) FROM payment_transactions p WHERE p.user_id = a.user_id AND outcome = 'PAID')::bigint AS paid_decisions,
				(SELECT count(*) FROM account_movements m WHERE m.user_id = a.user_id AND kind = 'PAYMENT')::bigint AS payment_movements,
				coalesce((SELECT sum(amount_minor) FROM account_movements m WHERE m.user_id = a.user_id), 0)::bigint AS statement_sum,
				(SELECT balance_after_minor FROM account_movements m WHERE m.user_id = a.user_id ORDER BY id DESC LIMIT 1)::bigint AS newest_balance_after
			FROM accounts a`)
	).rows;
	const refunds = (
		await pools.payments.query(`
			SELECT r.order_id, count(*) OVER (PARTITION BY r.order_id) AS per_order, r.amount_minor::bigint AS amount,
				(SELECT -m.amount_minor FROM account_movements m WHERE m.order_id = r.order_id AND m.kind = 'PAYMENT')::bigint AS paid
			FROM account_movements r WHERE r.kind = 'REFUND'`)
	).rows;
	const refundedByPayments = new Set(payments.filter(p => p.refunded_at !== null).map(p => p.order_id));
	const cancelled = ordersRows.filter(o => o.cancel_requested_at !== null);
	const ids = new Set(ordersRows.map(o => o.id));
	return {
		lost: ordersRows.filter(o => o.status === "NEW").length + acknowledged.filter(o => !ids.has(o.answer.body.id)).length,
		ordersNotAcknowledgedButCreated: ordersRows.length - new Set(acknowledged.map(o => o.answer.body.id)).size,
		doubleEffects: {
			paymentsPerOrderAboveOne: payments.length - paymentByOrder.size,
			statusDisagreesWithPayment: ordersRows.filter(o => {
				const payment = paymentByOrder.get(o.id);
				if (payment && payment.amount_minor !== o.amount_minor) return true;
				const paidAndKept = payment?.outcome === "PAID" && payment.refunded_at === null;
				const paidAndRefunded = payment?.outcome === "PAID" && payment.refunded_at !== null;
				if (o.status === "FINISHED") return !paidAndKept;
				if (o.status === "REFUNDED") return !paidAndRefunded;
				if (o.status === "CANCELLED" && o.cancel_reason === "CANCELLED_BY_USER") {
					// Voided before it was decided, or taken meanwhile and given back; or refused anyway (no money).
					return !(payment?.outcome === "REFUSED" || paidAndRefunded);
				}
				if (o.status === "CANCELLED") return payment?.outcome !== "REFUSED" || payment.reason !== o.cancel_reason;
				return false;
			}).length,
			ordersPerKeyAboveOne: keysPerOrder + (ordersRows.length - new Set(acknowledged.map(o => o.key)).size),
			refundsPerOrderAboveOne: refunds.filter(r => Number(r.per_order) > 1).length,
			refundsWithoutPayment: refunds.filter(r => r.paid === null || BigInt(r.paid) !== BigInt(r.amount) || !refundedByPayments.has(r.order_id)).length,
			refundDisagreesWithOrder: ordersRows.filter(o => (o.refunded_at !== null) !== refundedByPayments.has(o.id)).length + [...refundedByPayments].filter(id => !ids.has(id)).length
		},
		unbalancedLedgers: ledgers.filter(l => BigInt(l.balance) !== BigInt(l.topups) - BigInt(l.paid) + BigInt(l.refunded) || BigInt(l.paid_decisions) !== BigInt(l.payment_movements)).length,
		statementsNotSummingToBalance: ledgers.filter(l => BigInt(l.statement_sum) !== BigInt(l.balance) || (l.newest_balance_after !== null && BigInt(l.newest_balance_after) !== BigInt(l.balance)))
			.length,
		negativeBalances: ledgers.filter(l => BigInt(l.balance) < 0n).length,
		finished: ordersRows.filter(o => o.status === "FINISHED").length,
		cancelled: ordersRows.filter(o => o.status === "CANCELLED").length,
		refunded: ordersRows.filter(o => o.status === "REFUNDED").length,
		cancels: {
			requested: cancelled.length,
			unended: cancelled.filter(o => o.cancel_outcome === null).length,
			voided: cancelled.filter(o => o.cancel_outcome === "VOIDED").length,
			refundedAfterPayment: cancelled.filter(o => o.cancel_outcome === "REFUNDED").length,
			nothingToRefund: cancelled.filter(o => o.cancel_outcome === "NOTHING_TO_REFUND").length,
			refundMovements: refunds.length,
			refundedMinor: refunds.reduce((sum, r) => sum + Number(r.amount), 0)
		},
		dead:
			(await count(pools.orders, "SELECT count(*) AS n FROM outbox_events WHERE dead_at IS NOT NULL")) +
			(await count(pools.payments, "SELECT count(*) AS n FROM outbox_events WHERE dead_at IS NOT NULL"))
	};
}

/**
 * The checks every fault suite makes: every order acknowledged, none lost, parked or applied twice,
 * every ledger balanced and every statement summing to its balance; every cancel ended, no refund
 * twice or without its payment.
 */
export function expectNothingLost(outcome: Outcome, placed: PlacedOrder[]): void {
	expect(placed.filter(o => o.answer.status !== 201)).toEqual([]);
	expect(outcome.lost).toBe(0);
	expect(outcome.dead).toBe(0);
	expect(outcome.ordersNotAcknowledgedButCreated).toBe(0);
	expect(outcome.doubleEffects).toEqual({
		paymentsPerOrderAboveOne: 0,
		statusDisagreesWithPayment: 0,
		ordersPerKeyAboveOne: 0,
		refundsPerOrderAboveOne: 0,
		refundsWithoutPayment: 0,
		refundDisagreesWithOrder: 0
	});
	expect(outcome.unbalancedLedgers).toBe(0);
	expect(outcome.statementsNotSummingToBalance).toBe(0);
	expect(outcome.negativeBalances).toBe(0);
	expect(outcome.cancels.unended).toBe(0);
}

/** Prints the error lines of the processes (the last ones), for a failed test. */
export function lastErrorLines(output: string[]): string {
	return output
		.join("")
		.split("\n")
		.filter(line => /"level":"(error|fatal)"/.test(line))
		.slice(-20)
		.join("\n")
		.slice(0, 20_000);
}
