/** Cancelling an order from the dashboard (issue 18): the confirmation, the answer, then the refund live. */
import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { UNAVAILABLE_MESSAGE } from "../api";
import { orderEvent, renderDashboard, rowOf } from "../test/dashboard";
import { errorResponse, eventStream, jsonResponse, makeAccount, makeOrder, makeStatement, mockFetch, type RecordedRequest } from "../test/fakeServer";

const cancelRequestedAt = "2025-01-01T10:00:05.000Z";
const refundedAt = "2025-01-01T10:00:06.000Z";
const cancelDialog = () => screen.getByRole("alertdialog", { name: "Cancel this order?" });
const cancelButtonOf = (id: string) => within(rowOf(id)).getByRole("button", { name: /^Cancel order/ });
const cancelRequests = (requests: RecordedRequest[]) => requests.filter(request => request.method === "POST" && request.url.endsWith("/cancel"));

describe("cancelling an order", () => {
	it("refunds a FINISHED order after a confirmation that says so, then shows it REFUNDED live with the money back", async () => {
		const stream = eventStream();
		const book = makeOrder({ id: "o1", amount: 30, description: "A book", status: "FINISHED" });
		let balance = 70;
		const { requests } = mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(balance)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([book]),
			"POST /api/orders/o1/cancel": () => jsonResponse({ ...book, cancelRequestedAt, updatedAt: cancelRequestedAt }, 202)
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		expect(await screen.findByTestId("balance")).toHaveTextContent("70.00");

		await user.click(cancelButtonOf("o1"));
		expect(cancelDialog()).toHaveAccessibleDescription("Cancel “A book”? Its amount 30.00 will be refunded to your account.");
		// Keeping the order is what Enter does.
		expect(within(cancelDialog()).getByRole("button", { name: "Keep order" })).toHaveFocus();
		expect(screen.getByTestId("order-row").closest("[inert]")).not.toBeNull();
		await user.click(within(cancelDialog()).getByRole("button", { name: "Cancel order" }));

		await waitFor(() => expect(rowOf("o1")).toHaveTextContent("Refund requested"));
		expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
		expect(rowOf("o1")).toHaveAttribute("data-status", "FINISHED");
		expect(within(rowOf("o1")).queryByRole("button", { name: /^Cancel/ })).not.toBeInTheDocument();
		// Its button gone, the focus stays in the row rather than falling back to the page's start.
		expect(within(rowOf("o1")).getByRole("button", { name: /^Details/ })).toHaveFocus();
		expect(screen.getByTestId("cancel-result")).toHaveTextContent("Refund of 30.00 for “A book” requested: it comes back to your account shortly.");
		const [cancel] = cancelRequests(requests);
		expect(cancel.body).toEqual({});
		expect(cancel.headers.get("Idempotency-Key")).not.toBeNull();

		balance = 100;
		act(() => stream.send(orderEvent({ ...book, status: "REFUNDED", cancelRequestedAt, refundedAt, updatedAt: refundedAt })));
		await waitFor(() => expect(rowOf("o1")).toHaveAttribute("data-status", "REFUNDED"));
		expect(rowOf("o1")).toHaveTextContent("Refunded");
		expect(rowOf("o1")).not.toHaveTextContent("Refund requested");
		await waitFor(() => expect(screen.getByTestId("balance")).toHaveTextContent("100.00"));
		expect(screen.getByRole("log", { name: "Order status changes" })).toHaveTextContent("Order A book refunded");
		expect(cancelRequests(requests)).toHaveLength(1);
	});

	it("cancels a NEW order, saying money already taken comes back, and shows when it did", async () => {
		const stream = eventStream();
		const tea = makeOrder({ id: "o1", amount: 5, description: "Tea" });
		const cancelled = { ...tea, status: "CANCELLED" as const, cancelReason: "CANCELLED_BY_USER" as const, cancelRequestedAt, updatedAt: cancelRequestedAt };
		mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(10)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([tea]),
			"GET /api/orders/o1": () => jsonResponse(cancelled),
			"GET /api/orders/o1/journey": () => errorResponse(503, "SERVICE_UNAVAILABLE", "down"),
			"POST /api/orders/o1/cancel": () => jsonResponse(cancelled)
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await user.click(cancelButtonOf("o1"));
		expect(cancelDialog()).toHaveAccessibleDescription("Cancel “Tea”? If its payment was already taken, the money comes back to your account.");
		await user.click(within(cancelDialog()).getByRole("button", { name: "Cancel order" }));

		await waitFor(() => expect(rowOf("o1")).toHaveAttribute("data-status", "CANCELLED"));
		expect(rowOf("o1")).toHaveTextContent("Cancelled — at your request");
		expect(screen.getByTestId("cancel-result")).toHaveTextContent("“Tea” cancelled.");

		// Its payment had been taken meanwhile: the refund follows, pushed.
		act(() => stream.send(orderEvent({ ...cancelled, refundedAt, updatedAt: refundedAt })));
		await user.click(within(rowOf("o1")).getByRole("button", { name: /^Details/ }));
		const details = await screen.findByRole("dialog", { name: "Order details" });
		await waitFor(() => expect(within(details).getByText("Refunded")).toBeInTheDocument());
		expect(within(details).getByText("At your request")).toBeInTheDocument();
		expect(within(details).getByText("Cancel requested")).toBeInTheDocument();
		expect(within(details).getByText("Refunded").nextElementSibling?.querySelector("time")).toHaveAttribute("datetime", refundedAt);
	});

	it("changes nothing when the person keeps the order", async () => {
		const book = makeOrder({ id: "o1", description: "A book", status: "FINISHED" });
		const { requests } = mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(1)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([book])
		});
		const user = renderDashboard();
		await user.click(await waitFor(() => cancelButtonOf("o1")));
		await user.click(within(cancelDialog()).getByRole("button", { name: "Keep order" }));
		expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
		expect(cancelButtonOf("o1")).toHaveFocus();

		await user.click(cancelButtonOf("o1"));
		await user.keyboard("{Escape}");
		expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
		expect(cancelRequests(requests)).toHaveLength(0);
	});

	it("asks about the order as it is now: a NEW order paid while the question is open is refunded", async () => {
		const stream = eventStream();
		const tea = makeOrder({ id: "o1", amount: 5, description: "Tea" });
		mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(10)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([tea])
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await user.click(cancelButtonOf("o1"));
		expect(cancelDialog()).toHaveAccessibleDescription(/If its payment was already taken/);

		act(() => stream.send(orderEvent({ ...tea, status: "FINISHED", updatedAt: "2025-01-01T10:00:01.000Z" })));
		await waitFor(() => expect(cancelDialog()).toHaveAccessibleDescription("Cancel “Tea”? Its amount 5.00 will be refunded to your account."));

		// Refused meanwhile instead: nothing is left to cancel, so nothing is asked.
		act(() => stream.send(orderEvent({ ...tea, status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS", updatedAt: "2025-01-01T10:00:02.000Z" })));
		await waitFor(() => expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument());
	});

	it.each([
		[errorResponse(409, "ORDER_NOT_CANCELLABLE", "This order is REFUNDED: there is nothing left to cancel."), "This order is REFUNDED: there is nothing left to cancel."],
		[errorResponse(404, "ORDER_NOT_FOUND", "Order not found"), "Order not found"],
		[errorResponse(503, "SERVICE_UNAVAILABLE", "Service unavailable"), `${UNAVAILABLE_MESSAGE} Your cancel may have gone through — check the order before trying again.`]
	])("shows a refused or failed cancel in its order's row and keeps the order as it was (%#)", async (answer, message) => {
		const book = makeOrder({ id: "o1", description: "A book", status: "FINISHED" });
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(1)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([book]),
			"POST /api/orders/o1/cancel": () => answer
		});
		const user = renderDashboard();
		await user.click(await waitFor(() => cancelButtonOf("o1")));
		await user.click(within(cancelDialog()).getByRole("button", { name: "Cancel order" }));
		expect(await within(rowOf("o1")).findByRole("alert")).toHaveTextContent(message);
		expect(rowOf("o1")).toHaveAttribute("data-status", "FINISHED");
		expect(rowOf("o1")).not.toHaveTextContent("Refund requested");
		expect(cancelButtonOf("o1")).toHaveFocus();
		expect(screen.getByTestId("cancel-result")).toBeEmptyDOMElement();
	});
});
