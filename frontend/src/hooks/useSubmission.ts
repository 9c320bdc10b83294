import { useCallback, useRef, useState } from "react";
import { errorMessage } from "../api";

export interface Submission {
	pending: boolean;
	/** The last failure's message, until the next attempt. */
	error: string | null;
	/** Runs the action unless one is already running; resolves to its result, or undefined on failure. */
	run<T>(action: () => Promise<T>): Promise<T | undefined>;
}

/** State of a form's submission to the server. */
export function useSubmission(): Submission {
	const [pending, setPending] = useState(false);
	const [error, setError] = useState<string | null>(null);
	// The state updates only on the next render; this also stops a second submit in between.
	const running = useRef(false);

	const run = useCallback(async <T>(action: () => Promise<T>): Promise<T | undefined> => {
		if (running.current) return undefined;
		running.current = true;
		setPending(true);
		setError(null);
		try {
			return await action();
		} catch (failure) {
			setError(errorMessage(failure));
			return undefined;
		} finally {
			running.current = false;
			setPending(false);
		}
	}, []);

	return { pending, error, run };
}
