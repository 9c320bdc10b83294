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
import { createTestDatabases, type TestDatabases } from "../support/system";

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
	const former = ordersMigrations.map(migration => ({ name: migration.formerly!, up: migration.up })).sort((a, b) => a.name.localeCompare(b.name));
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
	expect(await runMigrations(url, ordersMigrations, () => {})).toEqual([]);
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		const { rows } = await client.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
		expect(rows.map(row => row.name)).toEqual(ordersMigrations.map(migration => migration.name).sort());
	} finally {
		await client.end();
	}
});
