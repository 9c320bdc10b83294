/**
 * Throw-away databases on a Postgres server, for the tests and the benchmark: created under unique
 * names for a run, dropped at the end.
 */
import { Client } from "pg";

export function databaseUrl(adminUrl: string, database: string): string {
	const url = new URL(adminUrl);
	url.pathname = `/${database}`;
	return url.toString();
}

async function withAdmin<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
	const client = new Client({ connectionString: adminUrl });
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

/** Creates the databases (names of the run's own making) and returns their URLs, in the same order. */
export async function createDatabases(adminUrl: string, names: readonly string[]): Promise<string[]> {
	await withAdmin(adminUrl, async client => {
		for (const name of names) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
	});
	return names.map(name => databaseUrl(adminUrl, name));
}

const OBJECT_IN_USE = "55006";

/** Drops the databases; connections still closing get a few seconds before they are forced out. */
export async function dropDatabases(adminUrl: string, names: readonly string[]): Promise<void> {
	await withAdmin(adminUrl, async client => {
		for (const name of names) {
			for (let attempt = 0; ; attempt++) {
				const force = attempt === 30 ? " WITH (FORCE)" : "";
				try {
					await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${force}`);
					break;
				} catch (err) {
					if ((err as { code?: string }).code !== OBJECT_IN_USE || force) throw err;
					await new Promise(resolve => setTimeout(resolve, 200));
				}
			}
		}
	});
}
