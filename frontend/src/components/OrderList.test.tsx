import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Order } from "../api";
import type { OrdersState } from "../hooks/useOrders";
import { makeOrder } from "../test/fakeServer";
import { OrderList } from "./OrderList";

function renderList(state: Partial<OrdersState>) {
	const onShowDetails = vi.fn<(order: Order) => void>();
	const onRetry = vi.fn();
	render(<OrderList state={{ orders: [], loaded: true, error: null, ...state }} onRetry={onRetry} onShowDetails={onShowDetails} />);
	return { onShowDetails, onRetry };
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
