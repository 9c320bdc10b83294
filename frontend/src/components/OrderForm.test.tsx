import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { UNAVAILABLE_MESSAGE, createApiClient, type Order } from "../api";
import { deferred, errorResponse, jsonResponse, makeOrder, mockFetch, validationError } from "../test/fakeServer";
import { INVALID_AMOUNTS } from "../test/invalidAmounts";
import { OrderForm } from "./OrderForm";

function renderForm() {
	const onPlaced = vi.fn<(order: Order) => void>();
	render(<OrderForm api={createApiClient("alice")} onPlaced={onPlaced} />);
	return { onPlaced, user: userEvent.setup() };
}

async function placeOrder(user: ReturnType<typeof userEvent.setup>, amount: string, description: string) {
	if (amount) await user.type(screen.getByLabelText("Order amount"), amount);
	// Typed as a paste: user.type would take "{" and "[" for key names.
	if (description) {
		await user.click(screen.getByLabelText("Description"));
		await user.paste(description);
	}
	await user.click(screen.getByRole("button", { name: "Place order" }));
}

describe("OrderForm", () => {
	it.each(INVALID_AMOUNTS)("rejects the amount %j without asking the server: %s", async (amount, message) => {
		const { requests } = mockFetch({});
		const { user, onPlaced } = renderForm();
		await placeOrder(user, amount, "A book");
		expect(screen.getByRole("alert")).toHaveTextContent(message);
		expect(screen.getByLabelText("Order amount")).toHaveAttribute("aria-invalid", "true");
		expect(requests).toHaveLength(0);
		expect(onPlaced).not.toHaveBeenCalled();
	});

	it.each([
		["", "Enter a description."],
		["   ", "Enter a description."],
		["x".repeat(501), "The description can be at most 500 characters (it has 501)."]
	])("rejects the description %j", async (description, message) => {
		const { requests } = mockFetch({});
		const { user } = renderForm();
		await placeOrder(user, "10", description);
		expect(screen.getByRole("alert")).toHaveTextContent(message);
		expect(screen.getByLabelText("Description")).toHaveFocus();
		expect(requests).toHaveLength(0);
	});

	it("shows both fields' errors at once", async () => {
		mockFetch({});
		const { user } = renderForm();
		await placeOrder(user, "", "");
		expect(screen.getAllByRole("alert").map(alert => alert.textContent)).toEqual(["Enter an amount.", "Enter a description."]);
	});

	it("places the order with a trimmed description, disabling the button meanwhile", async () => {
		const response = deferred<Response>();
		const { requests } = mockFetch({ "POST /api/orders": () => response.promise });
		const { user, onPlaced } = renderForm();
		await placeOrder(user, "12.50", "  A book  ");

		expect(screen.getByRole("button", { name: "Place order" })).toBeDisabled();
		expect(requests[0].body).toEqual({ amount: 12.5, description: "A book" });
		expect(requests[0].headers.get("Idempotency-Key")).toBeTruthy();

		const order = makeOrder({ id: "o1", amount: 12.5, description: "A book" });
		response.resolve(jsonResponse(order, 201));
		expect(await screen.findByRole("status")).toHaveTextContent("Order placed.");
		expect(screen.getByRole("button", { name: "Place order" })).toBeEnabled();
		expect(onPlaced).toHaveBeenCalledExactlyOnceWith(order);
		expect(screen.getByLabelText("Order amount")).toHaveValue("");
		expect(screen.getByLabelText("Description")).toHaveValue("");
	});

	it("shows the server's validation message and keeps what was typed", async () => {
		mockFetch({ "POST /api/orders": () => validationError("description", "The 'description' field must not contain NUL characters.") });
		const { user, onPlaced } = renderForm();
		await placeOrder(user, "3", "Tea");
		expect(await screen.findByRole("alert")).toHaveTextContent("The 'description' field must not contain NUL characters.");
		expect(screen.getByLabelText("Description")).toHaveValue("Tea");
		expect(onPlaced).not.toHaveBeenCalled();
	});

	it("takes a comma as the decimal separator", async () => {
		const { requests } = mockFetch({ "POST /api/orders": () => jsonResponse(makeOrder({ id: "o1", amount: 12.5 }), 201) });
		const { user } = renderForm();
		await placeOrder(user, "12,50", "A book");
		expect(await screen.findByRole("status")).toHaveTextContent("Order placed.");
		expect(requests[0].body).toEqual({ amount: 12.5, description: "A book" });
	});

	it("says a timed-out order may have been placed, and sends it again with the same Idempotency-Key", async () => {
		let timedOut = true;
		const { requests } = mockFetch({
			"POST /api/orders": () =>
				timedOut
					? errorResponse(504, "REQUEST_TIMEOUT", "Request is timed out when call 'orders.create' action on 'node-1' node.")
					: jsonResponse(makeOrder({ id: "o1", amount: 3, description: "Tea" }), 201)
		});
		const { user, onPlaced } = renderForm();
		await placeOrder(user, "3", "Tea");
		const alert = await screen.findByRole("alert");
		expect(alert).toHaveTextContent(`${UNAVAILABLE_MESSAGE} Your order may have been placed — check your orders before trying again.`);
		expect(alert).not.toHaveTextContent("timed out");
		expect(screen.getByLabelText("Description")).toHaveValue("Tea");

		timedOut = false;
		await user.click(screen.getByRole("button", { name: "Place order" }));
		expect(await screen.findByRole("status")).toHaveTextContent("Order placed.");
		expect(onPlaced).toHaveBeenCalledTimes(1);

		// Placed: the same again is a new order.
		await placeOrder(user, "3", "Tea");
		await screen.findByText("Order placed.");
		const keys = requests.map(request => request.headers.get("Idempotency-Key"));
		expect(keys).toHaveLength(3);
		expect(keys[1]).toBe(keys[0]);
		expect(keys[2]).not.toBe(keys[0]);
	});
});
