/** Rendering the dashboard against the fake server, and finding things in it. */
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Order } from "../api";
import { Dashboard } from "../components/Dashboard";

export function renderDashboard() {
	render(<Dashboard userId="alice" onSwitchUser={() => undefined} />);
	return userEvent.setup();
}

/** An order change as the live stream sends it. */
export function orderEvent(order: Order): string {
	return `event: order\ndata: ${JSON.stringify(order)}\n\n`;
}

export function rowOf(id: string): HTMLElement {
	const row = screen.getAllByTestId("order-row").find(element => element.dataset.orderId === id);
	if (!row) throw new Error(`No row for order ${id}`);
	return row;
}
