/** A parameterised statement: `text` with `$1…$n` placeholders, each cast explicitly, and its values. */
export interface SqlQuery {
	/**
	 * Makes it a prepared statement, parsed and planned once per connection instead of at every
	 * execution: given to the statements every order runs. Its text must never vary.
	 */
	name?: string;
	text: string;
	values: unknown[];
}

const SQLSTATE = Object.freeze({
	UNIQUE_VIOLATION: "23505", // unique_violation
	CHECK_VIOLATION: "23514", // check_violation
	LOCK_NOT_AVAILABLE: "55P03", // lock_not_available (lock_timeout)
	DUPLICATE_DATABASE: "42P04" // duplicate_database
});
export { SQLSTATE };

/** The SQLSTATE of a pg error, also when Sequelize wrapped it (`.parent` / `.original`). */
export function sqlStateOf(err: unknown): string | undefined {
	const e = err as { code?: unknown; parent?: { code?: unknown }; original?: { code?: unknown } } | null;
	const code = e?.parent?.code ?? e?.original?.code ?? e?.code;
	return typeof code === "string" ? code : undefined;
}
