import { useState } from "react";
import { errorMessage, type Movement, type Order } from "../api";
import { useStatementQuery } from "../hooks/queries";
import { formatMoney, formatSignedMoney } from "../money";
import { formatTimestamp } from "../orders";
import { movementText, pageRangeText } from "../statement";
import { Alert } from "./Alert";

/** Movements a page shows. */
export const STATEMENT_PAGE_SIZE = 10;

interface StatementPanelProps {
	/** The orders on screen, to name a payment's or a refund's order by its description. */
	orders: Order[];
	onShowOrder(orderId: string): void;
}

/**
 * The account's movements, newest first, a page at a time, each with the balance it left. Read
 * again whenever the balance is (see useAccount), so it always explains the balance shown.
 */
export function StatementPanel({ orders, onShowOrder }: StatementPanelProps) {
	const [offset, setOffset] = useState(0);
	const { data: statement, error, isPlaceholderData, refetch } = useStatementQuery(STATEMENT_PAGE_SIZE, offset);
	const descriptions = new Map(orders.map(order => [order.id, order.description]));
	// One page needs no paging; and as movements are only ever added, the buttons never vanish under the focus.
	const paged = statement !== undefined && statement.total > STATEMENT_PAGE_SIZE;
	return (
		<section className="card" aria-labelledby="statement-title" aria-busy={isPlaceholderData} data-testid="statement">
			<h2 id="statement-title">Statement</h2>
			{error && (
				<>
					<Alert>{errorMessage(error)}</Alert>
					<button type="button" className="button" onClick={() => void refetch()}>
						Retry
					</button>
				</>
			)}
			{!statement && !error && <p className="muted">Loading…</p>}
			{statement?.total === 0 && <p className="muted">No movements yet.</p>}
			{statement && statement.movements.length > 0 && (
				<>
					<ol className="statement" aria-label="Movements, newest first">
						{statement.movements.map((movement, index) => (
							<MovementItem key={statement.offset + index} movement={movement} orderDescription={movement.orderId && descriptions.get(movement.orderId)} onShowOrder={onShowOrder} />
						))}
					</ol>
					<div className="statement__paging">
						{paged && <PageButton label="Newer" disabled={statement.offset === 0} onClick={() => setOffset(Math.max(0, statement.offset - STATEMENT_PAGE_SIZE))} />}
						<p className="muted" data-testid="statement-range">
							{pageRangeText(statement.offset, statement.movements.length, statement.total)}
						</p>
						{paged && <PageButton label="Older" disabled={statement.offset + statement.movements.length >= statement.total} onClick={() => setOffset(statement.offset + STATEMENT_PAGE_SIZE)} />}
					</div>
				</>
			)}
		</section>
	);
}

interface MovementItemProps {
	movement: Movement;
	/** Its order's description, when the order is on screen. */
	orderDescription: string | undefined;
	onShowOrder(orderId: string): void;
}

function MovementItem({ movement, orderDescription, onShowOrder }: MovementItemProps) {
	const { orderId } = movement;
	return (
		<li className="movement" data-testid="movement" data-kind={movement.kind}>
			<div className="movement__main">
				<span className="movement__what">
					{movementText(movement)}
					{orderId && (
						<>
							{" "}
							<button type="button" className="link-button" onClick={() => onShowOrder(orderId)}>
								{orderDescription ?? orderId.slice(0, 8)}
							</button>
						</>
					)}
				</span>
				<span className="movement__amount" data-sign={movement.amount < 0 ? "debit" : "credit"} data-testid="movement-amount">
					{formatSignedMoney(movement.amount)}
				</span>
			</div>
			<div className="movement__meta">
				<time dateTime={movement.at}>{formatTimestamp(movement.at)}</time>
				<span>
					Balance after <span data-testid="movement-balance">{formatMoney(movement.balanceAfter)}</span>
				</span>
			</div>
		</li>
	);
}

/** aria-disabled, not disabled, at the first or last page: a disabled button would drop the focus. */
function PageButton({ label, disabled, onClick }: { label: string; disabled: boolean; onClick(): void }) {
	return (
		<button
			type="button"
			className="button button--small"
			aria-disabled={disabled}
			onClick={() => {
				if (!disabled) onClick();
			}}
		>
			{label} <span className="visually-hidden">movements</span>
		</button>
	);
}
