import { useCallback, useEffect, useReducer } from "react";
import { errorMessage, type ApiClient, type Order } from "../api";
import { mergeFetchedOrders, upsertOrder } from "../orders";

export interface OrdersState {
	/** Newest first. */
	orders: Order[];
	/** Whether a list has come from the server yet. */
	loaded: boolean;
	error: string | null;
}

type OrdersAction = { type: "fetched"; orders: Order[] } | { type: "changed"; order: Order } | { type: "failed"; message: string };

function ordersReducer(state: OrdersState, action: OrdersAction): OrdersState {
	switch (action.type) {
		case "fetched":
			return { orders: mergeFetchedOrders(state.orders, action.orders), loaded: true, error: null };
		case "changed":
			return { ...state, orders: upsertOrder(state.orders, action.order) };
		case "failed":
			return { ...state, error: action.message };
	}
}

export interface OrdersModel {
	state: OrdersState;
	reload(): Promise<void>;
	/** Takes a list fetched elsewhere (live updates). */
	receiveList(orders: Order[]): void;
	/** Takes one new or changed order. */
	receiveOrder(order: Order): void;
}

/** The user's orders, loaded on mount. */
export function useOrders(api: ApiClient): OrdersModel {
	const [state, dispatch] = useReducer(ordersReducer, { orders: [], loaded: false, error: null });

	const reload = useCallback(async () => {
		try {
			dispatch({ type: "fetched", orders: await api.listOrders() });
		} catch (error) {
			dispatch({ type: "failed", message: errorMessage(error) });
		}
	}, [api]);

	const receiveList = useCallback((orders: Order[]) => dispatch({ type: "fetched", orders }), []);
	const receiveOrder = useCallback((order: Order) => dispatch({ type: "changed", order }), []);

	useEffect(() => {
		void reload();
	}, [reload]);

	return { state, reload, receiveList, receiveOrder };
}
