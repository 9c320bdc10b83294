import { useCallback, useState } from "react";
import { useAccount } from "../hooks/useAccount";
import { useLiveUpdates } from "../hooks/useLiveUpdates";
import { useMeQuery } from "../hooks/queries";
import { useOrders } from "../hooks/useOrders";
import { OPS_PATH } from "../paths";
import { ApiSession, useApi } from "../session";
import { AccountPanel } from "./AccountPanel";
import { AppHeader } from "./AppHeader";
import { OrderAnnouncer } from "./OrderAnnouncer";
import { OrderDetails } from "./OrderDetails";
import { OrderForm } from "./OrderForm";
import { OrderList } from "./OrderList";
import { SessionBar } from "./SessionBar";

interface DashboardProps {
	userId: string;
	onSwitchUser(): void;
}

/** Everything a signed-in user sees; mounted once per user, so switching starts afresh. */
export function Dashboard(props: DashboardProps) {
	return (
		<ApiSession userId={props.userId}>
			<DashboardPage {...props} />
		</ApiSession>
	);
}

function DashboardPage({ userId, onSwitchUser }: DashboardProps) {
	const api = useApi();
	const account = useAccount();
	const orders = useOrders();
	// Only operators get the link to their page; anyone else, or a failure to ask, gets none.
	const me = useMeQuery();
	const [detailsOrderId, setDetailsOrderId] = useState<string | null>(null);
	const liveStatus = useLiveUpdates(userId, {
		onOrder: orders.receiveOrder,
		onOrders: orders.receiveList,
		onBalanceStale: () => void account.reload(),
		hasNewOrders: orders.hasNewOrders
	});
	const closeDetails = useCallback(() => setDetailsOrderId(null), []);

	return (
		<>
			<div className="page" inert={detailsOrderId !== null}>
				<AppHeader>
					{me.data?.operator && (
						<a className="app-header__link" href={OPS_PATH}>
							Operator page
						</a>
					)}
					<SessionBar userId={userId} live={{ status: liveStatus }} onSwitchUser={onSwitchUser} />
				</AppHeader>
				<main className="dashboard">
					<AccountPanel api={api} account={account} />
					<div className="dashboard__orders">
						<OrderForm api={api} onPlaced={orders.receiveOrder} />
						<OrderList state={orders.state} onRetry={() => void orders.reload()} onShowDetails={order => setDetailsOrderId(order.id)} />
					</div>
				</main>
			</div>
			{/* Outside the page, which is inert (so silent) while the details dialog is open. */}
			<OrderAnnouncer orders={orders.state.orders} />
			{detailsOrderId !== null && <OrderDetails orderId={detailsOrderId} listedOrder={orders.state.orders.find(order => order.id === detailsOrderId)} onClose={closeDetails} />}
		</>
	);
}
