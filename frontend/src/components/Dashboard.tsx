import { useCallback, useState } from "react";
import { useAccount } from "../hooks/useAccount";
import { useLiveUpdates } from "../hooks/useLiveUpdates";
import { useMeQuery } from "../hooks/queries";
import { cancelQuestion, useOrderCancel } from "../hooks/useOrderCancel";
import { useOrders } from "../hooks/useOrders";
import { OPS_PATH } from "../paths";
import { ApiSession, useApi } from "../session";
import { AccountPanel } from "./AccountPanel";
import { AppHeader } from "./AppHeader";
import { ConfirmDialog } from "./ConfirmDialog";
import { OrderAnnouncer } from "./OrderAnnouncer";
import { OrderDetails } from "./OrderDetails";
import { OrderForm } from "./OrderForm";
import { OrderList } from "./OrderList";
import { SessionBar } from "./SessionBar";
import { StatementPanel } from "./StatementPanel";

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
		hasOrdersAwaitingOutcome: orders.hasOrdersAwaitingOutcome
	});
	const closeDetails = useCallback(() => setDetailsOrderId(null), []);
	const cancel = useOrderCancel(api, orders.state.orders, cancelled => {
		orders.receiveOrder(cancelled);
		// Paid and given back before the cancel answered: the balance moved twice meanwhile.
		if (cancelled.refundedAt !== undefined) void account.reload();
	});

	return (
		<>
			<div className="page" inert={detailsOrderId !== null || cancel.confirming !== undefined}>
				<AppHeader>
					{me.data?.operator && (
						<a className="app-header__link" href={OPS_PATH}>
							Operator page
						</a>
					)}
					<SessionBar userId={userId} live={{ status: liveStatus }} onSwitchUser={onSwitchUser} />
				</AppHeader>
				<main className="dashboard">
					<div className="dashboard__column">
						<AccountPanel api={api} account={account} />
						{account.state.kind === "ready" && <StatementPanel orders={orders.state.orders} onShowOrder={setDetailsOrderId} />}
					</div>
					<div className="dashboard__column">
						<OrderForm api={api} onPlaced={orders.receiveOrder} />
						<OrderList state={orders.state} cancel={cancel} onRetry={() => void orders.reload()} onShowDetails={order => setDetailsOrderId(order.id)} onCancel={cancel.ask} />
					</div>
				</main>
			</div>
			{/* Outside the page, which is inert (so silent) while the details dialog is open. */}
			<OrderAnnouncer orders={orders.state.orders} />
			{detailsOrderId !== null && <OrderDetails orderId={detailsOrderId} listedOrder={orders.state.orders.find(order => order.id === detailsOrderId)} onClose={closeDetails} />}
			{cancel.confirming && (
				<ConfirmDialog
					title="Cancel this order?"
					question={cancelQuestion(cancel.confirming)}
					confirmLabel="Cancel order"
					dismissLabel="Keep order"
					onConfirm={() => void cancel.confirm()}
					onCancel={cancel.dismiss}
				/>
			)}
		</>
	);
}
