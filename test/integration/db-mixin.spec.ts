/**
 * The database mixin's transactions and statements on real Postgres (the whole system in one
 * process): a failed transaction is never reported as committed, and the statements every order
 * runs are prepared statements of their connection.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENTS } from "../../lib/contracts";
import { recordInboxEvent } from "../../lib/inbox-sql";
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

describe("a named statement", () => {
	it("is prepared on its connection, once, and reused", async () => {
		const statement = recordInboxEvent(randomUUID(), EVENTS.PAYMENT_PROCESSED, "payments");
		const prepared = await orders.withTransaction(async tx => {
			await orders.queryRows(statement, tx);
			await orders.queryRows(recordInboxEvent(randomUUID(), EVENTS.PAYMENT_PROCESSED, "payments"), tx);
			// pg_prepared_statements is the session's own: this connection's.
			return orders.queryRows<{ name: string }>({ text: "SELECT name FROM pg_prepared_statements WHERE name = $1::text", values: [statement.name] }, tx);
		});
		expect(prepared).toEqual([{ name: "inbox.recordInboxEvent" }]);
	});
});
