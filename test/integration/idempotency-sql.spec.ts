/**
 * The bounded wait for a concurrent request's Idempotency-Key (issue 14), on a real Postgres: the
 * transaction waits at most the short timeout for the key's lock, then goes on with the lock
 * timeout it had before, read from the session (a pooler in front may have dropped the
 * connection's own settings), not assumed.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { lockIdempotencyKey, restoreLockTimeout, setLockTimeout } from "../../mixins/idempotency-sql";
import { createTestDatabases, type TestDatabases } from "../support/system";

let databases: TestDatabases;
let pool: Pool;

beforeAll(async () => {
	databases = await createTestDatabases(randomBytes(4).toString("hex"));
	pool = new Pool({ connectionString: databases.orders, max: 2, lock_timeout: 7000 });
});

afterAll(async () => {
	await pool?.end();
	await databases?.drop();
});

it("waits for a held key only briefly, and restores the transaction's lock timeout after", async () => {
	const holder = await pool.connect();
	const waiter = await pool.connect();
	try {
		const lock = lockIdempotencyKey("u", "orders.create", "k");
		await holder.query("BEGIN");
		await holder.query(lock.text, lock.values);

		await waiter.query("BEGIN");
		const bounded = setLockTimeout(300);
		const { rows } = await waiter.query<{ previous: string }>(bounded.text, bounded.values);
		expect(rows[0].previous).toBe("7s");
		const started = performance.now();
		await expect(waiter.query(lock.text, lock.values)).rejects.toMatchObject({ code: "55P03" });
		expect(performance.now() - started).toBeLessThan(2000);
		await waiter.query("ROLLBACK");

		await holder.query("COMMIT");
		await waiter.query("BEGIN");
		const again = await waiter.query<{ previous: string }>(bounded.text, bounded.values);
		await waiter.query(lock.text, lock.values);
		const restore = restoreLockTimeout(again.rows[0].previous);
		await waiter.query(restore.text, restore.values);
		expect((await waiter.query("SELECT current_setting('lock_timeout') AS value")).rows[0].value).toBe("7s");
		await waiter.query("COMMIT");
	} finally {
		holder.release();
		waiter.release();
	}
});
