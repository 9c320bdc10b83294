import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { errorMessage, type Order } from "../api";
import { isAwaitingOutcome, mergeFetchedOrders, upsertOrder } from "../orders";
import { useApi } from "../session";
import { queryKeys } from "./queries";

export interface OrdersState {
	/** Newest first. */
	orders: Order[];
	/** Whether a list has come from the server yet. */
	loaded: boolean;
	error: string | null;
}

export interface OrdersModel {
	state: OrdersState;
	reload(): Promise<void>;
	/** Takes a list fetched elsewhere (live updates). */
	receiveList(orders: Order[]): void;
	/** Takes one new or changed order. */
	receiveOrder(order: Order): void;
	/** Whether an order on screen still awaits its outcome: its payment's result, or its refund. */
	hasOrdersAwaitingOutcome(): boolean;
}

/** The user's orders, read on mount; pushed and re-read lists merge in, none undoing a newer one. */
export function useOrders(): OrdersModel {
	const api = useApi();
	const queryClient = useQueryClient();
	const current = useCallback(() => queryClient.getQueryData<Order[]>(queryKeys.orders) ?? [], [queryClient]);
	const { data, error, refetch } = useQuery({
		queryKey: queryKeys.orders,
		queryFn: async () => {
			const fetched = await api.listOrders();
			// Merged with the cache as the answer arrives, not as it was asked: what came meanwhile stays.
			return mergeFetchedOrders(current(), fetched);
		}
	});

	const reload = useCallback(async () => void (await refetch()), [refetch]);
	const receiveList = useCallback((orders: Order[]) => queryClient.setQueryData(queryKeys.orders, mergeFetchedOrders(current(), orders)), [queryClient, current]);
	const receiveOrder = useCallback((order: Order) => queryClient.setQueryData(queryKeys.orders, upsertOrder(current(), order)), [queryClient, current]);
	const hasOrdersAwaitingOutcome = useCallback(() => current().some(isAwaitingOutcome), [current]);

	return { state: { orders: data ?? [], loaded: data !== undefined, error: error && errorMessage(error) }, reload, receiveList, receiveOrder, hasOrdersAwaitingOutcome };
}
