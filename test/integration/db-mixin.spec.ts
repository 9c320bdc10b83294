/**
 * The database mixin's transactions and statements on real Postgres (the whole system in one
 * process): a failed transaction is never reported as committed, a connection that died is not
 * handed out again, a failing after-commit callback does not fail the committed work, and the
 * statements every order runs are prepared statements of their connection.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAYMENT_EVENTS } from "../../services/payments/contracts";
import { recordInboxEvent } from "../../mixins/inbox-sql";
import type { DbMethods } from "../../mixins/db.mixin";
import { startSystem, type TestSystem } from "../support/system";

let system: TestSystem;
let orders: DbMethods;

beforeAll(async () => {
	system = await startSystem();
	orders = system.brokers.orders.getLocalService("orders") as unknown as DbMethods;
});

afterAll(async () => {
	await system?.stop();
});

describe("a transaction whose statement failed", () => {
	it("is reported as failed even when the work caught the error, and runs no after-commit callback", async () => {
		let committed = false;
		const attempt = orders.withTransaction(async tx => {
			tx.afterCommit(() => (committed = true));
			await orders.queryRows({ text: "SELECT 1 / 0", values: [] }, tx).catch(() => undefined);
			return "done";
		});
		await expect(attempt).rejects.toThrow(/rolled back/);
		expect(committed).toBe(false);
		// Its connection went back to the pool outside any transaction.
		const [row] = await orders.withTransaction(tx => orders.queryRows<{ ok: number }>({ text: "SELECT 1 AS ok", values: [] }, tx));
		expect(row.ok).toBe(1);
	});
});

describe("a transaction whose connection died", () => {
	it("fails, and the pool hands out live connections afterwards, never the dead one", async () => {
		let deadPid = 0;
		const attempt = orders.withTransaction(async tx => {
			const [{ pid }] = await orders.queryRows<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid", values: [] }, tx);
			deadPid = pid;
			// The server ends this very session: the work fails, and so does its ROLLBACK.
			await orders.queryRows({ text: "SELECT pg_terminate_backend(pg_backend_pid())", values: [] }, tx);
		});
		await expect(attempt).rejects.toThrow();
		const pids = await Promise.all(
			Array.from({ length: 3 }, () => orders.withTransaction(async tx => (await orders.queryRows<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid", values: [] }, tx))[0].pid))
		);
		expect(pids).not.toContain(deadPid);
	});
});

describe("an after-commit callback that throws", () => {
	it("leaves the committed transaction's result to its caller, and the others run", async () => {
		let second = false;
		const result = await orders.withTransaction(async tx => {
			tx.afterCommit(() => {
				throw new Error("a callback's own failure");
			});
			tx.afterCommit(() => (second = true));
			return "committed";
		});
		expect(result).toBe("committed");
		expect(second).toBe(true);
	});
});

describe("a named statement", () => {
	it("is prepared on its connection, once, and reused", async () => {
		const statement = recordInboxEvent(randomUUID(), PAYMENT_EVENTS.PAYMENT_PROCESSED, "payments");
		const prepared = await orders.withTransaction(async tx => {
			await orders.queryRows(statement, tx);
			await orders.queryRows(recordInboxEvent(randomUUID(), PAYMENT_EVENTS.PAYMENT_PROCESSED, "payments"), tx);
			// pg_prepared_statements is the session's own: this connection's.
			return orders.queryRows<{ name: string }>({ text: "SELECT name FROM pg_prepared_statements WHERE name = $1::text", values: [statement.name] }, tx);
		});
		expect(prepared).toEqual([{ name: "inbox.recordInboxEvent" }]);
	});
});

describe("readiness", () => {
	const ready = async () => (await system.request("GET", "/ready")).status;

	it("is lost when the database lacks the service's last migration or its table (issue 15, second attack)", async () => {
		expect(await ready()).toBe(200);
		const [last] = await system.sql<{ name: string }>("orders", "DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations) RETURNING name");
		try {
			expect(await system.brokers.orders.call("orders.readiness")).toEqual({ ready: false });
			expect(await ready()).toBe(503);
		} finally {
			await system.sql("orders", "INSERT INTO schema_migrations (name) VALUES ($1)", [last.name]);
		}
		await system.sql("orders", "ALTER TABLE schema_migrations RENAME TO schema_migrations_away");
		try {
			await expect(system.brokers.orders.call("orders.readiness")).rejects.toThrow(/schema_migrations/);
			expect(await ready()).toBe(503);
		} finally {
			await system.sql("orders", "ALTER TABLE schema_migrations_away RENAME TO schema_migrations");
		}
		expect(await ready()).toBe(200);
	});
});
