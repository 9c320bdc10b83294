import { act, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { NO_ACCOUNT_MESSAGE, UNAVAILABLE_MESSAGE } from "../api";
import { orderEvent, renderDashboard, rowOf } from "../test/dashboard";
import { deferred, errorResponse, eventStream, jsonResponse, makeAccount, makeJourney, makeOrder, makeStatement, mockFetch } from "../test/fakeServer";
import { setVisibility } from "../test/visibility";
import { Dashboard } from "./Dashboard";

const announcements = () => screen.getByRole("log", { name: "Order status changes" });

describe("Dashboard", () => {
	it("offers to create an account when there is none, then shows its balance", async () => {
		let created = false;
		const { requests } = mockFetch({
			"GET /api/accounts/balance": () => (created ? jsonResponse(makeAccount(0)) : errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found")),
			"POST /api/accounts": () => {
				created = true;
				return jsonResponse(makeAccount(0), 201);
			},
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		expect(await screen.findByText(NO_ACCOUNT_MESSAGE)).toHaveAttribute("role", "alert");
		expect(screen.queryByLabelText("Top-up amount")).not.toBeInTheDocument();

		await user.click(screen.getByRole("button", { name: "Create account" }));
		expect(await screen.findByTestId("balance")).toHaveTextContent("0.00");
		expect(screen.getByLabelText("Top-up amount")).toBeInTheDocument();
		expect(screen.queryByText(NO_ACCOUNT_MESSAGE)).not.toBeInTheDocument();
		expect(requests.filter(request => request.method === "POST").map(request => request.body)).toEqual([{}]);
	});

	it("shows the account when it turns out to exist already", async () => {
		// Opened in another tab after this one looked.
		let openedElsewhere = false;
		mockFetch({
			"GET /api/accounts/balance": () => (openedElsewhere ? jsonResponse(makeAccount(42)) : errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found")),
			"POST /api/accounts": () => {
				openedElsewhere = true;
				return errorResponse(409, "ACCOUNT_EXISTS", "Account already exists");
			},
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([{ kind: "TOPUP", amount: 42, balanceAfter: 42, at: "2025-01-01T09:30:00.000Z" }])),
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		await user.click(await screen.findByRole("button", { name: "Create account" }));
		expect(await screen.findByTestId("balance")).toHaveTextContent("42.00");
		expect(screen.queryByRole("alert")).not.toBeInTheDocument();
	});

	it("says when the server is unreachable", async () => {
		mockFetch({
			"GET /api/accounts/balance": () => Promise.reject(new TypeError("Failed to fetch")),
			"GET /api/orders": () => Promise.reject(new TypeError("Failed to fetch")),
			"GET /api/events": () => Promise.reject(new TypeError("Failed to fetch"))
		});
		renderDashboard();
		await waitFor(() => expect(screen.getAllByRole("alert").map(alert => alert.textContent)).toEqual([UNAVAILABLE_MESSAGE, UNAVAILABLE_MESSAGE]));
		expect(screen.getByTestId("live-status")).toHaveTextContent("Reconnecting…");
		expect(screen.queryByText("Loading…")).not.toBeInTheDocument();
	});

	it("tops up and shows the new balance", async () => {
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(100)),
			"POST /api/accounts/topup": () => jsonResponse(makeAccount(1100)),
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		expect(await screen.findByTestId("balance")).toHaveTextContent("100.00");
		await user.type(screen.getByLabelText("Top-up amount"), "1000");
		await user.click(screen.getByRole("button", { name: "Top up" }));
		await waitFor(() => expect(screen.getByTestId("balance")).toHaveTextContent("1,100.00"));
	});

	it("does not let a balance answer that was overtaken by a top-up overwrite it", async () => {
		const stream = eventStream();
		const tea = makeOrder({ id: "o1", amount: 30, description: "Tea" });
		const lateBalance = deferred<Response>();
		let balanceRequests = 0;
		mockFetch({
			"GET /api/events": request => stream.respond(request),
			// The read on mount, the refetch on connecting, then the read after the order's payment, which answers only after the top-up.
			"GET /api/accounts/balance": () => (++balanceRequests < 3 ? jsonResponse(makeAccount(100)) : lateBalance.promise),
			"POST /api/accounts/topup": () => jsonResponse(makeAccount(1100)),
			"GET /api/orders": () => jsonResponse([tea])
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		expect(await screen.findByTestId("balance")).toHaveTextContent("100.00");
		act(() => stream.send(orderEvent({ ...tea, status: "FINISHED", updatedAt: "2025-01-01T10:00:01.000Z" })));
		await waitFor(() => expect(balanceRequests).toBe(3));

		await user.type(screen.getByLabelText("Top-up amount"), "1000");
		await user.click(screen.getByRole("button", { name: "Top up" }));
		await waitFor(() => expect(screen.getByTestId("balance")).toHaveTextContent("1,100.00"));

		await act(async () => lateBalance.resolve(jsonResponse(makeAccount(100))));
		expect(screen.getByTestId("balance")).toHaveTextContent("1,100.00");
	});

	it("puts a placed order on top at once, then follows its status live", async () => {
		const stream = eventStream();
		let balance = 100;
		const older = makeOrder({ id: "o1", description: "Older", status: "FINISHED", createdAt: "2025-01-01T09:00:00.000Z" });
		const placed = makeOrder({ id: "o2", amount: 30, description: "Tea", createdAt: "2025-01-01T11:00:00.000Z", updatedAt: "2025-01-01T11:00:00.000Z" });
		mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(balance)),
			"GET /api/orders": () => jsonResponse([older]),
			"POST /api/orders": () => jsonResponse(placed, 201)
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		expect(await screen.findByTestId("balance")).toHaveTextContent("100.00");

		await user.type(screen.getByLabelText("Order amount"), "30");
		await user.type(screen.getByLabelText("Description"), "Tea");
		await user.click(screen.getByRole("button", { name: "Place order" }));
		await waitFor(() => expect(screen.getAllByTestId("order-row").map(row => row.dataset.orderId)).toEqual(["o2", "o1"]));
		expect(rowOf("o2")).toHaveAttribute("data-status", "NEW");
		expect(rowOf("o2")).toHaveTextContent("New");

		balance = 70;
		act(() => stream.send(orderEvent({ ...placed, status: "FINISHED", updatedAt: "2025-01-01T11:00:01.000Z" })));
		await waitFor(() => expect(rowOf("o2")).toHaveAttribute("data-status", "FINISHED"));
		expect(rowOf("o2")).toHaveTextContent("Finished");
		await waitFor(() => expect(screen.getByTestId("balance")).toHaveTextContent("70.00"));
	});

	it("keeps an order placed while the list was on its way", async () => {
		const list = deferred<Response>();
		const older = makeOrder({ id: "o1", description: "Older", status: "FINISHED", createdAt: "2025-01-01T09:00:00.000Z" });
		const placed = makeOrder({ id: "o2", amount: 30, description: "Tea", createdAt: "2025-01-01T11:00:00.000Z", updatedAt: "2025-01-01T11:00:00.000Z" });
		mockFetch({
			// No live stream, so no second read: only the first list, answered after the order is placed.
			"GET /api/events": () => Promise.reject(new TypeError("Failed to fetch")),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(100)),
			"GET /api/orders": () => list.promise,
			"POST /api/orders": () => jsonResponse(placed, 201)
		});
		const user = renderDashboard();
		await user.type(screen.getByLabelText("Order amount"), "30");
		await user.type(screen.getByLabelText("Description"), "Tea");
		await user.click(screen.getByRole("button", { name: "Place order" }));
		await waitFor(() => expect(screen.getAllByTestId("order-row").map(row => row.dataset.orderId)).toEqual(["o2"]));

		await act(async () => list.resolve(jsonResponse([older])));
		await waitFor(() => expect(screen.getAllByTestId("order-row").map(row => row.dataset.orderId)).toEqual(["o2", "o1"]));
	});

	it("shows a live cancellation with its reason", async () => {
		const stream = eventStream();
		const order = makeOrder({ id: "o1", amount: 5000, description: "Car" });
		mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(10)),
			"GET /api/orders": () => jsonResponse([order])
		});
		renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await screen.findAllByTestId("order-row");

		act(() => stream.send(orderEvent({ ...order, status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS", updatedAt: "2025-01-01T10:00:01.000Z" })));
		await waitFor(() => expect(rowOf("o1")).toHaveAttribute("data-status", "CANCELLED"));
		expect(rowOf("o1")).toHaveTextContent("Cancelled — insufficient funds");
	});

	it("shows an order's details from the server, kept current, and closes with Escape or Close", async () => {
		const stream = eventStream();
		const order = makeOrder({ id: "o1", amount: 12.5, description: "A book" });
		const { requests } = mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(100)),
			"GET /api/orders": () => jsonResponse([order]),
			"GET /api/orders/o1": () => jsonResponse(order),
			"GET /api/orders/o1/journey": () => jsonResponse(makeJourney(order))
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		const detailsButton = within(await screen.findByTestId("order-row")).getByRole("button", { name: /^Details/ });
		await user.click(detailsButton);

		const dialog = await screen.findByRole("dialog", { name: "Order details" });
		await within(dialog).findByText("o1");
		expect(requests.some(request => request.url === "/api/orders/o1")).toBe(true);
		expect(dialog).toHaveTextContent("12.50");
		expect(dialog).toHaveTextContent("A book");
		expect(dialog).toHaveTextContent("New");
		expect(within(dialog).getByRole("button", { name: "Close" })).toHaveFocus();

		act(() => stream.send(orderEvent({ ...order, status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND", updatedAt: "2025-01-01T10:00:01.000Z" })));
		await waitFor(() => expect(dialog).toHaveTextContent("Cancelled — no account"));
		expect(within(dialog).getByText("No account")).toBeInTheDocument();

		await user.keyboard("{Escape}");
		expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
		expect(detailsButton).toHaveFocus();

		await user.click(detailsButton);
		await user.click(await screen.findByRole("button", { name: "Close" }));
		expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
	});

	it("shows in the details how the order went through the services, simply, and reads it again when its status changes", async () => {
		const stream = eventStream();
		const order = makeOrder({ id: "o1", description: "A book" });
		const waiting = makeJourney(order, { pending: { step: "requestConfirmed", since: order.createdAt, why: "waiting for payments (attempt 2, last error: x)" } });
		waiting.hops = waiting.hops.slice(0, 2);
		let journey = waiting;
		const { requests } = mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(100)),
			"GET /api/orders": () => jsonResponse([order]),
			"GET /api/orders/o1": () => jsonResponse(order),
			"GET /api/orders/o1/journey": () => jsonResponse(journey)
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await user.click(within(await screen.findByTestId("order-row")).getByRole("button", { name: /^Details/ }));
		const dialog = await screen.findByRole("dialog", { name: "Order details" });

		const steps = await within(dialog).findByRole("list", { name: "Journey" });
		expect(
			within(steps)
				.getAllByRole("listitem")
				.map(hop => hop.textContent?.trim())
		).toEqual(["Order placed", "Payment request sent after +12 ms", "Waiting for payments to confirm the request…"]);
		// The simple form: no services, no times of day, no error texts meant for operators.
		expect(within(steps).queryByRole("time")).not.toBeInTheDocument();

		journey = makeJourney({ ...order, status: "FINISHED" });
		act(() => stream.send(orderEvent({ ...order, status: "FINISHED", updatedAt: "2025-01-01T10:00:01.000Z" })));
		await waitFor(() => expect(within(dialog).getByRole("list", { name: "Journey" }).children).toHaveLength(9));
		expect(dialog).toHaveTextContent("Payment decided — PAID");
		expect(requests.filter(request => request.url === "/api/orders/o1/journey")).toHaveLength(2);
	});

	it("links to the operator page for an operator only", async () => {
		let operator = false;
		mockFetch({
			"GET /api/me": () => jsonResponse({ userId: "alice", operator }),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(1)),
			"GET /api/orders": () => jsonResponse([])
		});
		const { unmount } = render(<Dashboard userId="alice" onSwitchUser={() => undefined} />);
		await screen.findByTestId("balance");
		expect(screen.queryByRole("link", { name: "Operator page" })).not.toBeInTheDocument();
		unmount();

		operator = true;
		render(<Dashboard userId="alice" onSwitchUser={() => undefined} />);
		expect(await screen.findByRole("link", { name: "Operator page" })).toHaveAttribute("href", "/ops");
	});

	it("reports an order the server does not know in the details dialog", async () => {
		const order = makeOrder({ id: "gone" });
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(1)),
			"GET /api/orders": () => jsonResponse([order]),
			"GET /api/orders/gone": () => errorResponse(404, "ORDER_NOT_FOUND", "Order not found")
		});
		const user = renderDashboard();
		await user.click(within(await screen.findByTestId("order-row")).getByRole("button", { name: /^Details/ }));
		expect(await within(screen.getByRole("dialog")).findByRole("alert")).toHaveTextContent("Order not found");
	});

	it("announces a status change politely, but not the orders as first loaded", async () => {
		const stream = eventStream();
		const car = makeOrder({ id: "o2", amount: 5000, description: "Car", createdAt: "2025-01-01T10:05:00.000Z" });
		const older = makeOrder({ id: "o1", description: "Tea", status: "FINISHED" });
		const { requests } = mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(10)),
			"GET /api/orders": () => jsonResponse([car, older]),
			"GET /api/orders/o2": () => jsonResponse(car)
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await waitFor(() => expect(requests.filter(request => request.url.startsWith("/api/orders?"))).toHaveLength(2));
		expect(announcements()).toHaveAttribute("aria-live", "polite");
		expect(announcements()).toBeEmptyDOMElement();

		// Announced even with the details dialog open, which makes the page behind it inert.
		await user.click(within(rowOf("o2")).getByRole("button", { name: /^Details/ }));
		await screen.findByRole("dialog");
		act(() => stream.send(orderEvent({ ...car, status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS", updatedAt: "2025-01-01T10:05:01.000Z" })));
		await waitFor(() => expect(announcements()).toHaveTextContent("Order Car cancelled — insufficient funds"));
		expect(announcements().closest("[inert]")).toBeNull();
		expect(announcements().children).toHaveLength(1);
	});

	it("re-reads an order still NEW every 15 s while live, so it does not stay NEW when its push is lost", async () => {
		vi.useFakeTimers();
		let tea = makeOrder({ id: "o1", amount: 30, description: "Tea" });
		let balance = 100;
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(balance)),
			"GET /api/orders": () => jsonResponse([tea])
		});
		render(<Dashboard userId="alice" onSwitchUser={() => undefined} />);
		await act(() => vi.advanceTimersByTimeAsync(0));
		expect(screen.getByTestId("live-status")).toHaveTextContent("Live");
		expect(rowOf("o1")).toHaveAttribute("data-status", "NEW");

		// Paid, but the push saying so never arrives.
		tea = { ...tea, status: "FINISHED", updatedAt: "2025-01-01T10:00:01.000Z" };
		balance = 70;
		await act(() => vi.advanceTimersByTimeAsync(15_000));
		expect(rowOf("o1")).toHaveAttribute("data-status", "FINISHED");
		expect(screen.getByTestId("balance")).toHaveTextContent("70.00");
		expect(announcements()).toHaveTextContent("Order Tea finished");
	});

	it("closes the live stream while the tab is hidden, and catches up when it is shown again", async () => {
		let tea = makeOrder({ id: "o1", amount: 30, description: "Tea" });
		let balance = 100;
		const { requests } = mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(balance)),
			"GET /api/orders": () => jsonResponse([tea])
		});
		renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		const streams = () => requests.filter(request => request.url === "/api/events");

		act(() => setVisibility("hidden"));
		expect(screen.getByTestId("live-status")).toHaveTextContent("Paused");
		expect(streams()[0].signal?.aborted).toBe(true);

		tea = { ...tea, status: "FINISHED", updatedAt: "2025-01-01T10:00:01.000Z" };
		balance = 70;
		act(() => setVisibility("visible"));
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await waitFor(() => expect(rowOf("o1")).toHaveAttribute("data-status", "FINISHED"));
		await waitFor(() => expect(screen.getByTestId("balance")).toHaveTextContent("70.00"));
		expect(streams()).toHaveLength(2);
		expect(streams()[1].signal?.aborted).toBe(false);
	});
});
