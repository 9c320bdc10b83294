/**
 * Migrations on a live database: a migration that needs a lock a long transaction holds gives up
 * after the migration lock timeout (5 s), applying nothing, instead of queueing every statement of
 * the running service behind it; once the lock is free it applies.
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runMigrations, type Migration } from "../../lib/migrate";
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
