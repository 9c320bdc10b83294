/**
 * Migrations on a live database. A database migrated before migrations were numbered per owner
 * keeps its schema: the records are renamed and nothing is applied again. A migration that needs a lock a long transaction holds gives up
 * after the migration lock timeout (5 s), applying nothing, instead of queueing every statement of
 * the running service behind it; once the lock is free it applies.
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runMigrations, type Migration } from "../../platform/migrate";
import { ordersMigrations } from "../../services/orders/migrations";
import { paymentsMigrations } from "../../services/payments/migrations";
import { createTestDatabases, type TestDatabases } from "../support/system";
import { creditAccount, debitAccount, insertAccount, insertPayment, refundPayment } from "../../services/payments/payments-sql";
import { classifyFailure, FAILURE_KINDS } from "../../mixins/failure-classification";

let databases: TestDatabases;

beforeAll(async () => {
	databases = await createTestDatabases(randomBytes(4).toString("hex"));
});

afterAll(async () => {
	await databases?.drop();
});

const createTable: Migration = { name: "0001_create_things", up: "CREATE TABLE things (id int PRIMARY KEY)" };
const alterTable: Migration = { name: "0002_alter_things", up: "ALTER TABLE things ADD COLUMN note text" };

it("gives up on a lock held by a long transaction, applies nothing, and applies once it is free", async () => {
	await runMigrations(databases.orders, [createTable], () => {});
	const holder = new Client({ connectionString: databases.orders });
	await holder.connect();
	try {
		await holder.query("BEGIN");
		await holder.query("SELECT * FROM things"); // a reader: its lock conflicts with ALTER TABLE
		const started = performance.now();
		await expect(runMigrations(databases.orders, [createTable, alterTable], () => {})).rejects.toMatchObject({ cause: { code: "55P03" } }); // umzug wraps the lock timeout
		expect(performance.now() - started).toBeLessThan(8000);
		const applied = await holder.query("SELECT name FROM schema_migrations ORDER BY name");
		expect(applied.rows.map(row => row.name)).toEqual(["0001_create_things"]);
		await holder.query("COMMIT");
		expect(await runMigrations(databases.orders, [createTable, alterTable], () => {})).toEqual(["0002_alter_things"]);
	} finally {
		await holder.end();
	}
}, 20_000);

it("renames the records of a database migrated under the former single numbering, and applies nothing again", async () => {
	const { payments: url } = databases;
	// What a database of the earlier releases recorded: one numbering for the shared and the service's migrations.
	const former = ordersMigrations
		.filter(migration => migration.formerly)
		.map(migration => ({ name: migration.formerly!, up: migration.up }))
		.sort((a, b) => a.name.localeCompare(b.name));
	expect(former.map(migration => migration.name)).toEqual([
		"0001_create_messaging_tables",
		"0002_create_orders",
		"0003_dead_events_and_retention",
		"0004_notify_due_outbox_events",
		"0005_outbox_failure_accounting",
		"0006_order_reconciliation",
		"0007_outbox_trace_context"
	]);
	await runMigrations(url, former, () => {});
	// Only what came after the renumbering is applied.
	expect(await runMigrations(url, ordersMigrations, () => {})).toEqual(["orders/0003_order_cancellation"]);
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		const { rows } = await client.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
		expect(rows.map(row => row.name)).toEqual(ordersMigrations.map(migration => migration.name).sort());
	} finally {
		await client.end();
	}
});

it("gives existing accounts a statement that sums to their balance: rebuilt where the old records add up, else one opening movement (issue 18)", async () => {
	const fresh = await createTestDatabases(randomBytes(4).toString("hex"));
	const client = new Client({ connectionString: fresh.payments });
	await client.connect();
	try {
		const before = paymentsMigrations.slice(
			0,
			paymentsMigrations.findIndex(migration => migration.name === "payments/0003_account_movements")
		);
		await runMigrations(fresh.payments, before, () => {});
		const order = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
		await client.query(`
			INSERT INTO accounts (user_id, balance_minor) VALUES ('consistent', 12000), ('by-hand', 7000), ('empty', 0), ('spent', 0);
			INSERT INTO topups (user_id, amount_minor, created_at) VALUES
				('consistent', 10000, '2026-01-01T10:00:00Z'), ('consistent', 5000, '2026-01-01T12:00:00Z'),
				('by-hand', 10000, '2026-01-01T10:00:00Z'), ('spent', 1000, '2026-01-01T10:00:00Z');
			INSERT INTO payment_transactions (order_id, user_id, amount_minor, outcome, reason, created_at) VALUES
				('${order(1)}', 'consistent', 3000, 'PAID', NULL, '2026-01-01T11:00:00Z'),
				('${order(2)}', 'consistent', 90000, 'REFUSED', 'INSUFFICIENT_FUNDS', '2026-01-01T11:30:00Z'),
				('${order(3)}', 'spent', 1000, 'PAID', NULL, '2026-01-01T11:00:00Z');
		`);
		expect(await runMigrations(fresh.payments, paymentsMigrations, () => {})).toEqual(["payments/0003_account_movements", "payments/0004_journal_guard"]);
		const { rows } = await client.query("SELECT user_id, kind, amount_minor::int AS amount, balance_after_minor::int AS after, order_id FROM account_movements ORDER BY user_id, id");
		expect(rows).toEqual([
			{ user_id: "by-hand", kind: "OPENING", amount: 7000, after: 7000, order_id: null },
			{ user_id: "consistent", kind: "TOPUP", amount: 10000, after: 10000, order_id: null },
			{ user_id: "consistent", kind: "PAYMENT", amount: -3000, after: 7000, order_id: order(1) },
			{ user_id: "consistent", kind: "TOPUP", amount: 5000, after: 12000, order_id: null },
			{ user_id: "spent", kind: "TOPUP", amount: 1000, after: 1000, order_id: null },
			{ user_id: "spent", kind: "PAYMENT", amount: -1000, after: 0, order_id: order(3) }
		]);
		const { rows: sums } = await client.query(
			"SELECT a.user_id FROM accounts a WHERE a.balance_minor <> COALESCE((SELECT sum(amount_minor) FROM account_movements m WHERE m.user_id = a.user_id), 0)"
		);
		expect(sums).toEqual([]);
	} finally {
		await client.end();
		await fresh.drop();
	}
});

it("refuses a balance changed without its movement, as a version of payments from before the journal would write it during a rolling deploy, and any change to a movement (issue 18)", async () => {
	const fresh = await createTestDatabases(randomBytes(4).toString("hex"));
	await runMigrations(fresh.payments, paymentsMigrations, () => {});
	const client = new Client({ connectionString: fresh.payments });
	await client.connect();
	const inTransaction = async (statements: () => Promise<unknown>) => {
		await client.query("BEGIN");
		try {
			await statements();
			await client.query("COMMIT");
		} catch (err) {
			await client.query("ROLLBACK");
			throw err;
		}
	};
	const order = "00000000-0000-4000-8000-000000000001";
	try {
		await client.query(insertAccount("journaled"));
		await client.query(creditAccount("journaled", 10000));
		// The old top-up and the old payment: the balance and the old ledger, no movement.
		const oldTopUp = inTransaction(async () => {
			await client.query("UPDATE accounts SET balance_minor = balance_minor + 500 WHERE user_id = 'journaled'");
			await client.query("INSERT INTO topups (user_id, amount_minor) VALUES ('journaled', 500)");
		});
		await expect(oldTopUp).rejects.toMatchObject({ code: "23000" });
		const oldPayment = inTransaction(async () => {
			await client.query("UPDATE accounts SET balance_minor = balance_minor - 3000 WHERE user_id = 'journaled'");
			await client.query(insertPayment(order, "journaled", 3000, "PAID", null, null));
		});
		const refused = await oldPayment.catch((err: unknown) => err);
		expect(refused).toMatchObject({ code: "23000" });
		// Not an outage: an event it fails is retried and counted, as any failure, until a new instance applies it.
		expect(classifyFailure(refused)).toBe(FAILURE_KINDS.FAILURE);
		// The new statements pass: each writes its movement with the change.
		await inTransaction(async () => {
			await client.query(debitAccount("journaled", 3000, order));
			await client.query(insertPayment(order, "journaled", 3000, "PAID", null, null));
		});
		await inTransaction(() => client.query(refundPayment(order)));
		const { rows } = await client.query(
			"SELECT a.balance_minor::int AS balance, (SELECT sum(amount_minor)::int FROM account_movements m WHERE m.user_id = a.user_id) AS journaled FROM accounts a"
		);
		expect(rows).toEqual([{ balance: 10000, journaled: 10000 }]);
		for (const change of ["UPDATE account_movements SET amount_minor = 1", "DELETE FROM account_movements", "TRUNCATE account_movements"]) {
			await expect(client.query(change)).rejects.toMatchObject({ code: "23000" });
		}
		expect((await client.query("SELECT count(*)::int AS n FROM account_movements")).rows).toEqual([{ n: 3 }]);
	} finally {
		await client.end();
		await fresh.drop();
	}
});
