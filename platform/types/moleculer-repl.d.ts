/** The part of moleculer-repl's internals the REPL commands reuse; the package types only its entry point. */
declare module "moleculer-repl/src/utils" {
	/**
	 * What the REPL's `call` command does to `--key value` options before they become params:
	 * `key[]` made an array, "true"/"false" made booleans, nested objects converted alike.
	 */
	export function convertArgs(options: Record<string, unknown>): Record<string, unknown>;
}
