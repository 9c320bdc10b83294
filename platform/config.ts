/** A positive integer from the environment; anything else stops the start with a clear message. */
export function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not "${raw}".`);
	return value;
}

/** One of `allowed` from the environment; anything else stops the start with a clear message. */
export function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
	const raw = env[name];
	if (raw === undefined || raw === "") return fallback;
	if (!allowed.includes(raw as T)) throw new Error(`${name} must be one of ${allowed.join(", ")}, not "${raw}".`);
	return raw as T;
}
