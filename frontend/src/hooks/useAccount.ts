import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, ErrorType, errorMessage, type Account, type ApiClient } from "../api";

export type AccountState =
	| { kind: "loading" }
	| { kind: "missing" }
	| { kind: "ready"; balance: number; refreshError?: string }
	| { kind: "failed"; message: string };

export interface AccountModel {
	state: AccountState;
	/** Refetches the balance. */
	reload(): Promise<void>;
	/** Shows an account the server just returned (created, topped up). */
	show(account: Account): void;
}

/** The user's account and balance, loaded on mount. */
export function useAccount(api: ApiClient): AccountModel {
	const [state, setState] = useState<AccountState>({ kind: "loading" });
	// Answers can arrive out of order (a refetch, a top-up): none may undo a newer one. Requests are
	// numbered; an answer counts only if nothing issued after it has been shown yet.
	const lastIssued = useRef(0);
	const lastShown = useRef(0);

	const reload = useCallback(async () => {
		const request = ++lastIssued.current;
		let next: (previous: AccountState) => AccountState;
		try {
			const { balance } = await api.getBalance();
			next = () => ({ kind: "ready", balance });
		} catch (error) {
			if (error instanceof ApiError && error.type === ErrorType.accountNotFound) {
				next = () => ({ kind: "missing" });
			} else {
				const message = errorMessage(error);
				// A failed refresh keeps the balance last seen on screen, with the error under it.
				next = previous =>
					previous.kind === "ready" ? { kind: "ready", balance: previous.balance, refreshError: message } : { kind: "failed", message };
			}
		}
		if (request < lastShown.current) return;
		lastShown.current = request;
		setState(next);
	}, [api]);

	const show = useCallback((account: Account) => {
		lastShown.current = ++lastIssued.current;
		setState({ kind: "ready", balance: account.balance });
	}, []);

	useEffect(() => {
		void reload();
	}, [reload]);

	return { state, reload, show };
}
