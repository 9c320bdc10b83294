import { useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { ApiError, ErrorType, errorMessage, type Account } from "../api";
import { queryKeys, useAccountQuery } from "./queries";

export type AccountState = { kind: "loading" } | { kind: "missing" } | { kind: "ready"; balance: number; refreshError?: string } | { kind: "failed"; message: string };

export interface AccountModel {
	state: AccountState;
	/** Reads the balance again (a read in flight is dropped: it may predate what made the balance stale). */
	reload(): Promise<void>;
	/** Shows an account the server just returned (created, topped up). */
	show(account: Account): Promise<void>;
}

/**
 * The user's account and balance, read on mount. Whatever changes the balance changes the
 * statement, which explains it: both reload and show mark every page of it stale.
 */
export function useAccount(): AccountModel {
	const queryClient = useQueryClient();
	const { data, error } = useAccountQuery();

	const reload = useCallback(async () => {
		// A read in flight, even the first, may predate what made the balance stale: it gives way to a new one.
		await queryClient.cancelQueries({ queryKey: queryKeys.account });
		await Promise.all([queryClient.refetchQueries({ queryKey: queryKeys.account }), queryClient.invalidateQueries({ queryKey: queryKeys.statements })]);
	}, [queryClient]);

	const show = useCallback(
		async (account: Account) => {
			// A read still on its way predates this answer: dropped, it cannot undo it.
			await queryClient.cancelQueries({ queryKey: queryKeys.account });
			queryClient.setQueryData(queryKeys.account, account);
			await queryClient.invalidateQueries({ queryKey: queryKeys.statements });
		},
		[queryClient]
	);

	return { state: accountState(data, error), reload, show };
}

function accountState(account: Account | undefined, error: Error | null): AccountState {
	if (error instanceof ApiError && error.type === ErrorType.accountNotFound) return { kind: "missing" };
	// A failed refresh keeps the balance last seen on screen, with the error under it.
	if (account !== undefined) return { kind: "ready", balance: account.balance, ...(error && { refreshError: errorMessage(error) }) };
	return error ? { kind: "failed", message: errorMessage(error) } : { kind: "loading" };
}
