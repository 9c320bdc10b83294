/** What every view of a signed-in user shares: the API client in their name, and the cache of what it read. */
import { QueryClientProvider } from "@tanstack/react-query";
import { createContext, useContext, useState, type ReactNode } from "react";
import { createApiClient, type ApiClient } from "./api";
import { createQueryClient } from "./hooks/queries";

const ApiContext = createContext<ApiClient | null>(null);

/** Mounted once per user (switching user starts afresh, with an empty cache). */
export function ApiSession({ userId, children }: { userId: string; children: ReactNode }) {
	const [session] = useState(() => ({ api: createApiClient(userId), queryClient: createQueryClient() }));
	return (
		<QueryClientProvider client={session.queryClient}>
			<ApiContext value={session.api}>{children}</ApiContext>
		</QueryClientProvider>
	);
}

export function useApi(): ApiClient {
	const api = useContext(ApiContext);
	if (api === null) throw new Error("useApi needs an ApiSession around it.");
	return api;
}
