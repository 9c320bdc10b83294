/** The statement beside the account (issue 18): movements newest first, paging, and kept in step with the balance. */
import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Movement } from "../api";
import { orderEvent, renderDashboard } from "../test/dashboard";
import { deferred, errorResponse, eventStream, jsonResponse, makeAccount, makeJourney, makeOrder, makeStatement, mockFetch, type RecordedRequest } from "../test/fakeServer";

const book = makeOrder({ id: "0b5e7a1c-2d3f-4a5b-8c9d-0e1f2a3b4c5d", amount: 30, description: "A book", status: "REFUNDED" });
const forgotten = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
const at = (second: number) => `2025-01-01T10:00:${String(second).padStart(2, "0")}.000Z`;

/** Newest first: a top-up of 100, a payment for the book, its refund, a payment for an order not on screen. */
const movements: Movement[] = [
	{ kind: "PAYMENT", amount: -20, balanceAfter: 80, at: at(4), orderId: forgotten },
	{ kind: "REFUND", amount: 30, balanceAfter: 100, at: at(3), orderId: book.id },
	{ kind: "PAYMENT", amount: -30, balanceAfter: 70, at: at(2), orderId: book.id },
	{ kind: "TOPUP", amount: 100, balanceAfter: 100, at: at(1) }
];

const statementRequests = (requests: RecordedRequest[]) => requests.filter(request => request.url.startsWith("/api/accounts/statement"));
const items = () => within(screen.getByRole("list", { name: "Movements, newest first" })).getAllByRole("listitem");

describe("the statement", () => {
	it("lists the movements newest first, each with what it was, its signed amount, the balance after it and its time", async () => {
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(80)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement(movements)),
			"GET /api/orders": () => jsonResponse([book])
		});
		renderDashboard();
		const statement = await screen.findByRole("region", { name: "Statement" });
		await waitFor(() => expect(items()).toHaveLength(4));
		expect(items().map(item => item.dataset.kind)).toEqual(["PAYMENT", "REFUND", "PAYMENT", "TOPUP"]);
		expect(items().map(item => within(item).getByTestId("movement-amount").textContent)).toEqual(["\u221220.00", "+30.00", "\u221230.00", "+100.00"]);
		expect(items().map(item => within(item).getByTestId("movement-balance").textContent)).toEqual(["80.00", "100.00", "70.00", "100.00"]);
		expect(items()[1]).toHaveTextContent("Refund for order A book");
		expect(items()[2]).toHaveTextContent("Payment for order A book");
		expect(items()[3]).toHaveTextContent(/^Top-up/);
		// An order not on screen is named by the start of its id.
		expect(items()[0]).toHaveTextContent("Payment for order 9f8e7d6c");
		expect(within(items()[3]).getByRole("time")).toHaveAttribute("datetime", at(1));
		expect(within(statement).getByTestId("statement-range")).toHaveTextContent("Movements 1–4 of 4");
		// A single page needs no paging.
		expect(within(statement).queryByRole("button", { name: /movements$/ })).not.toBeInTheDocument();
	});

	it("opens a movement's order", async () => {
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(80)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement(movements)),
			"GET /api/orders": () => jsonResponse([book]),
			[`GET /api/orders/${book.id}`]: () => jsonResponse(book),
			[`GET /api/orders/${book.id}/journey`]: () => jsonResponse(makeJourney(book))
		});
		const user = renderDashboard();
		await waitFor(() => expect(items()).toHaveLength(4));
		await user.click(within(items()[1]).getByRole("button", { name: "A book" }));
		const details = await screen.findByRole("dialog", { name: "Order details" });
		await within(details).findByText(book.id);
	});

	it("pages through older and newer movements", async () => {
		const page = (offset: number) =>
			Array.from({ length: offset === 20 ? 3 : 10 }, (_, index): Movement => ({ kind: "TOPUP", amount: 1, balanceAfter: 23 - offset - index, at: at(59 - offset - index) }));
		const { requests } = mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(23)),
			"GET /api/accounts/statement": request => {
				const offset = Number(new URL(request.url, "http://x").searchParams.get("offset"));
				return jsonResponse(makeStatement(page(offset), { offset, total: 23 }));
			},
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		const range = await screen.findByTestId("statement-range");
		const newer = screen.getByRole("button", { name: "Newer movements" });
		const older = screen.getByRole("button", { name: "Older movements" });
		expect(range).toHaveTextContent("Movements 1–10 of 23");
		expect(newer).toHaveAttribute("aria-disabled", "true");

		await user.click(older);
		await waitFor(() => expect(range).toHaveTextContent("Movements 11–20 of 23"));
		await user.click(older);
		await waitFor(() => expect(range).toHaveTextContent("Movements 21–23 of 23"));
		expect(items()).toHaveLength(3);
		expect(older).toHaveAttribute("aria-disabled", "true");
		await user.click(older);
		await user.click(newer);
		await waitFor(() => expect(range).toHaveTextContent("Movements 11–20 of 23"));
		// Nothing past the last page; a page seen before is read again (newer movements shift the pages).
		expect(statementRequests(requests).map(request => request.url)).toEqual([
			"/api/accounts/statement?limit=10&offset=0",
			"/api/accounts/statement?limit=10&offset=10",
			"/api/accounts/statement?limit=10&offset=20",
			"/api/accounts/statement?limit=10&offset=10"
		]);
	});

	it("says when there are no movements yet, and is not shown without an account", async () => {
		let opened = false;
		mockFetch({
			"GET /api/accounts/balance": () => (opened ? jsonResponse(makeAccount(0)) : errorResponse(404, "ACCOUNT_NOT_FOUND", "Account not found")),
			"POST /api/accounts": () => {
				opened = true;
				return jsonResponse(makeAccount(0), 201);
			},
			"GET /api/accounts/statement": () => jsonResponse(makeStatement([])),
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		const create = await screen.findByRole("button", { name: "Create account" });
		expect(screen.queryByRole("region", { name: "Statement" })).not.toBeInTheDocument();
		await user.click(create);
		const statement = await screen.findByRole("region", { name: "Statement" });
		expect(await within(statement).findByText("No movements yet.")).toBeInTheDocument();
		expect(within(statement).queryByRole("list")).not.toBeInTheDocument();
	});

	it("says it is loading, then shows a failure with a way to retry", async () => {
		const firstAnswer = deferred<Response>();
		let up = false;
		mockFetch({
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(80)),
			"GET /api/accounts/statement": () => (up ? jsonResponse(makeStatement(movements)) : firstAnswer.promise),
			"GET /api/orders": () => jsonResponse([book])
		});
		const user = renderDashboard();
		const statement = await screen.findByRole("region", { name: "Statement" });
		expect(within(statement).getByText("Loading…")).toBeInTheDocument();
		await act(async () => firstAnswer.resolve(errorResponse(503, "SERVICE_UNAVAILABLE", "down")));
		expect(await within(statement).findByRole("alert")).toHaveTextContent("The service is temporarily unavailable.");
		up = true;
		await user.click(within(statement).getByRole("button", { name: "Retry" }));
		await waitFor(() => expect(items()).toHaveLength(4));
		expect(within(statement).queryByRole("alert")).not.toBeInTheDocument();
	});

	it("is read again whenever the balance changes: a top-up, a payment, a refund", async () => {
		const stream = eventStream();
		const tea = makeOrder({ id: "o1", amount: 30, description: "Tea", status: "FINISHED" });
		let shown: Movement[] = [{ kind: "TOPUP", amount: 100, balanceAfter: 100, at: at(1) }];
		const { requests } = mockFetch({
			"GET /api/events": request => stream.respond(request),
			"GET /api/accounts/balance": () => jsonResponse(makeAccount(shown[0].balanceAfter)),
			"GET /api/accounts/statement": () => jsonResponse(makeStatement(shown)),
			"POST /api/accounts/topup": () => {
				shown = [{ kind: "TOPUP", amount: 50, balanceAfter: 150, at: at(2) }, ...shown];
				return jsonResponse(makeAccount(150));
			},
			"GET /api/orders": () => jsonResponse([])
		});
		const user = renderDashboard();
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Live"));
		await waitFor(() => expect(items()).toHaveLength(1));
		const readsBefore = () => statementRequests(requests).length;

		let reads = readsBefore();
		await user.type(screen.getByLabelText("Top-up amount"), "50");
		await user.click(screen.getByRole("button", { name: "Top up" }));
		await waitFor(() => expect(items()).toHaveLength(2));
		expect(readsBefore()).toBe(reads + 1);

		reads = readsBefore();
		shown = [{ kind: "PAYMENT", amount: -30, balanceAfter: 120, at: at(3), orderId: "o1" }, ...shown];
		act(() => stream.send(orderEvent(tea)));
		await waitFor(() => expect(items()).toHaveLength(3));
		expect(items()[0]).toHaveTextContent("Payment for order Tea");

		shown = [{ kind: "REFUND", amount: 30, balanceAfter: 150, at: at(4), orderId: "o1" }, ...shown];
		act(() => stream.send(orderEvent({ ...tea, status: "REFUNDED", cancelRequestedAt: at(4), refundedAt: at(4), updatedAt: at(4) })));
		await waitFor(() => expect(items()).toHaveLength(4));
		expect(items()[0]).toHaveTextContent("Refund for order Tea");
		expect(screen.getByTestId("balance")).toHaveTextContent("150.00");
		expect(readsBefore()).toBe(reads + 2);
	});
});
