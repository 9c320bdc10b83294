import { useCallback, useEffect, useState } from "react";
import { errorMessage, type ApiClient, type Me } from "../api";

type MeState = { kind: "loading" } | { kind: "ready"; me: Me } | { kind: "failed"; message: string };

/** Who the server says the caller is (whether an operator), asked on mount. */
export function useMe(api: ApiClient) {
	const [state, setState] = useState<MeState>({ kind: "loading" });
	const reload = useCallback(async () => {
		try {
			setState({ kind: "ready", me: await api.getMe() });
		} catch (error) {
			setState({ kind: "failed", message: errorMessage(error) });
		}
	}, [api]);
	useEffect(() => {
		void reload();
	}, [reload]);
	return { state, reload };
}
