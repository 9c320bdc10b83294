import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { createApiClient, type Order } from "../api";
import { deferred, jsonResponse, makeOrder, mockFetch, validationError } from "../test/fakeServer";
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
	it.each([
		["", "Enter an amount."],
		["abc", "Enter the amount as a number, like 12.50."],
		["0", "The amount must be greater than 0."],
		["-1", "The amount must be greater than 0."],
		["1.005", "The amount can have at most 2 decimal places."],
		["1000000000.01", "The amount can be at most 1,000,000,000.00."]
	])("rejects the amount %j without asking the server: %s", async (amount, message) => {
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
});
