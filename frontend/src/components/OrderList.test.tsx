import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Order } from "../api";
import type { CancelState } from "../hooks/useOrderCancel";
import type { OrdersState } from "../hooks/useOrders";
import { makeOrder } from "../test/fakeServer";
import { OrderList } from "./OrderList";

const noCancel: CancelState = { orderId: null, pending: false, error: null, confirmation: "" };

function renderList(state: Partial<OrdersState>, cancel = noCancel) {
	const onShowDetails = vi.fn<(order: Order) => void>();
	const onCancel = vi.fn<(order: Order) => void>();
	const onRetry = vi.fn();
	render(<OrderList state={{ orders: [], loaded: true, error: null, ...state }} cancel={cancel} onRetry={onRetry} onShowDetails={onShowDetails} onCancel={onCancel} />);
	return { onShowDetails, onCancel, onRetry };
}

const orders = [
	makeOrder({ id: "o3", amount: 1500, description: "Laptop", status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" }),
	makeOrder({ id: "o2", amount: 7.5, description: "Coffee", status: "FINISHED" }),
	makeOrder({ id: "o1", amount: 20, description: "Book", status: "NEW" }),
	makeOrder({ id: "o0", amount: 1, description: "Gum", status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND" })
];

describe("OrderList", () => {
	it("shows the orders in the order given, each with amount, description, status and reason", () => {
		renderList({ orders });
		const rows = screen.getAllByTestId("order-row");
		expect(rows.map(row => row.dataset.orderId)).toEqual(["o3", "o2", "o1", "o0"]);
		expect(rows.map(row => row.dataset.status)).toEqual(["CANCELLED", "FINISHED", "NEW", "CANCELLED"]);
		expect(rows[0]).toHaveTextContent("1,500.00");
		expect(rows[0]).toHaveTextContent("Laptop");
		expect(rows[0]).toHaveTextContent("Cancelled — insufficient funds");
		expect(rows[1]).toHaveTextContent("7.50");
		expect(rows[1]).toHaveTextContent("Finished");
		expect(rows[2]).toHaveTextContent("New");
		expect(rows[3]).toHaveTextContent("Cancelled — no account");
		expect(within(rows[0]).getByRole("time")).toHaveAttribute("datetime", orders[0].createdAt);
	});

	it("opens an order's details from its row", async () => {
		const { onShowDetails } = renderList({ orders });
		const coffee = screen.getAllByTestId("order-row")[1];
		await userEvent.click(within(coffee).getByRole("button", { name: /^Details/ }));
		expect(onShowDetails).toHaveBeenCalledExactlyOnceWith(orders[1]);
	});

	it("offers to cancel NEW and FINISHED orders only, and says when a refund is requested (issue 18)", async () => {
		const cancelRequestedAt = "2025-01-01T10:00:05.000Z";
		const all = [
			...orders,
			makeOrder({ id: "r1", description: "Lamp", status: "FINISHED", cancelRequestedAt }),
			makeOrder({ id: "r2", description: "Chair", status: "REFUNDED", cancelRequestedAt, refundedAt: cancelRequestedAt }),
			makeOrder({ id: "c1", description: "Pen", status: "CANCELLED", cancelReason: "CANCELLED_BY_USER", cancelRequestedAt })
		];
		const { onCancel } = renderList({ orders: all });
		const cancellable = screen.getAllByTestId("order-row").filter(row => within(row).queryByRole("button", { name: /^Cancel order/ }));
		expect(cancellable.map(row => row.dataset.orderId)).toEqual(["o2", "o1"]);
		const rowOf = (id: string) => screen.getAllByTestId("order-row").find(row => row.dataset.orderId === id)!;
		expect(rowOf("r1")).toHaveTextContent("Refund requested");
		expect(rowOf("o2")).not.toHaveTextContent("Refund requested");
		expect(rowOf("r2")).toHaveTextContent("Refunded");
		expect(rowOf("c1")).toHaveTextContent("Cancelled — at your request");

		await userEvent.click(within(rowOf("o2")).getByRole("button", { name: "Cancel order: Coffee" }));
		expect(onCancel).toHaveBeenCalledExactlyOnceWith(orders[1]);
	});

	it("shows a cancel's failure in its order's row, and what a cancel did under the list", () => {
		renderList({ orders }, { orderId: "o1", pending: false, error: "This order is CANCELLED: there is nothing left to cancel.", confirmation: "“Coffee” cancelled." });
		const book = screen.getAllByTestId("order-row")[2];
		expect(within(book).getByRole("alert")).toHaveTextContent("nothing left to cancel");
		expect(screen.getAllByRole("alert")).toHaveLength(1);
		expect(screen.getByTestId("cancel-result")).toHaveTextContent("“Coffee” cancelled.");
	});

	it("does not cancel twice while a cancel is on its way, nor take the focus from its button", async () => {
		const { onCancel } = renderList({ orders }, { ...noCancel, orderId: "o1", pending: true });
		const button = within(screen.getAllByTestId("order-row")[2]).getByRole("button", { name: /^Cancelling…/ });
		expect(button).toHaveAttribute("aria-disabled", "true");
		expect(button).toBeEnabled();
		await userEvent.click(button);
		expect(onCancel).not.toHaveBeenCalled();
	});

	it("says when there are no orders yet", () => {
		renderList({ orders: [] });
		expect(screen.getByText("No orders yet.")).toBeInTheDocument();
		expect(screen.queryByTestId("order-row")).not.toBeInTheDocument();
	});

	it("says it is loading before the first list arrives", () => {
		renderList({ loaded: false });
		expect(screen.getByText("Loading…")).toBeInTheDocument();
		expect(screen.queryByText("No orders yet.")).not.toBeInTheDocument();
	});

	it("shows a failure with a way to retry", async () => {
		const { onRetry } = renderList({ loaded: false, error: "The server is down." });
		expect(screen.getByRole("alert")).toHaveTextContent("The server is down.");
		expect(screen.queryByText("Loading…")).not.toBeInTheDocument();
		await userEvent.click(screen.getByRole("button", { name: "Retry" }));
		expect(onRetry).toHaveBeenCalledTimes(1);
	});
});
