/**
 * Versioned schema migrations with umzug, run by each service at start-up against its own
 * database. Never `sync()`: the schema is exactly what these files say.
 *
 * Each migration runs in its own transaction together with the row that records it, so a crash
 * leaves it either fully applied and recorded or not at all. A session advisory lock makes
 * concurrently starting instances of one service apply each migration once.
 */
import { Client } from "pg";
import { Umzug, type UmzugStorage } from "umzug";

export interface Migration {
	/** Its owner and its number among the owner's, e.g. `orders/0001_create_orders`, `messaging/0003_…`. */
	name: string;
	/**
	 * The name a database that applied it before migrations were numbered per owner recorded (one
	 * numbering for all, e.g. `0002_create_orders`): such a record is renamed, never applied again.
	 */
	formerly?: string;
	/** SQL run in one transaction. */
	up: string;
}

const MIGRATIONS_LOCK_KEY = 727_001; // arbitrary, constant per database
const MIGRATION_LOCK_TIMEOUT_MS = 5000;

/** Records are written by the migration's own transaction (below), so logging is a no-op. */
class MigrationTableStorage implements UmzugStorage<Client> {
	async logMigration(): Promise<void> {}
	async unlogMigration(): Promise<void> {
		throw new Error("Down migrations are not supported: write a new migration instead.");
	}
	async executed({ context: client }: { context: Client }): Promise<string[]> {
		const { rows } = await client.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
		return rows.map(row => row.name);
	}
}

/** Applies the pending migrations; returns the names applied. */
export async function runMigrations(url: string, migrations: readonly Migration[], log: (msg: string) => void): Promise<string[]> {
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATIONS_LOCK_KEY]);
		// A migration's lock on a busy table queues behind long transactions, and every statement of
		// the running service would queue behind it: give up instead (the start fails and is retried).
		await client.query(`SET lock_timeout = ${MIGRATION_LOCK_TIMEOUT_MS}`);
		await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
		for (const { name, formerly } of migrations) {
			if (formerly) await client.query("UPDATE schema_migrations SET name = $1::text WHERE name = $2::text", [name, formerly]);
		}
		const umzug = new Umzug<Client>({
			context: client,
			storage: new MigrationTableStorage(),
			logger: undefined,
			migrations: migrations.map(migration => ({
				name: migration.name,
				up: async ({ context }: { context: Client }) => {
					await context.query("BEGIN");
					try {
						await context.query(migration.up);
						await context.query("INSERT INTO schema_migrations (name) VALUES ($1::text)", [migration.name]);
						await context.query("COMMIT");
					} catch (err) {
						await context.query("ROLLBACK");
						throw err;
					}
				}
			}))
		});
		const applied = await umzug.up();
		for (const { name } of applied) log(`Applied migration ${name}`);
		return applied.map(m => m.name);
	} finally {
		await client.end(); // ends the session, which releases the advisory lock
	}
}
