import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { UNAVAILABLE_MESSAGE, createApiClient, type Account } from "../api";
import { deferred, errorResponse, jsonResponse, makeAccount, mockFetch, validationError } from "../test/fakeServer";
import { INVALID_AMOUNTS } from "../test/invalidAmounts";
import { TopUpForm } from "./TopUpForm";

function renderForm() {
	const onToppedUp = vi.fn<(account: Account) => Promise<void>>().mockResolvedValue(undefined);
	render(<TopUpForm api={createApiClient("alice")} onToppedUp={onToppedUp} />);
	return { onToppedUp, user: userEvent.setup() };
}

async function topUp(user: ReturnType<typeof userEvent.setup>, amount: string) {
	const input = screen.getByLabelText("Top-up amount");
	await user.clear(input);
	if (amount) await user.type(input, amount);
	await user.click(screen.getByRole("button", { name: "Top up" }));
}

describe("TopUpForm", () => {
	it.each(INVALID_AMOUNTS)("rejects %j without asking the server: %s", async (amount, message) => {
		const { requests } = mockFetch({});
		const { user, onToppedUp } = renderForm();
		await topUp(user, amount);
		expect(screen.getByRole("alert")).toHaveTextContent(message);
		expect(screen.getByLabelText("Top-up amount")).toHaveAttribute("aria-invalid", "true");
		expect(screen.getByLabelText("Top-up amount")).toHaveFocus();
		expect(requests).toHaveLength(0);
		expect(onToppedUp).not.toHaveBeenCalled();
	});

	it("clears the field's error as soon as it is edited", async () => {
		mockFetch({});
		const { user } = renderForm();
		await topUp(user, "abc");
		await user.type(screen.getByLabelText("Top-up amount"), "1");
		expect(screen.queryByRole("alert")).not.toBeInTheDocument();
	});

	it("tops up, disabling the button while the request runs", async () => {
		const response = deferred<Response>();
		const { requests } = mockFetch({ "POST /api/accounts/topup": () => response.promise });
		const { user, onToppedUp } = renderForm();
		await topUp(user, "250.5");

		const button = screen.getByRole("button", { name: "Top up" });
		expect(button).toBeDisabled();
		await user.click(button);
		expect(requests).toHaveLength(1);
		expect(requests[0].body).toEqual({ amount: 250.5 });
		expect(requests[0].headers.get("Idempotency-Key")).toBeTruthy();

		response.resolve(jsonResponse(makeAccount(1250.5)));
		expect(await screen.findByRole("status")).toHaveTextContent("Added 250.50.");
		expect(button).toBeEnabled();
		expect(screen.getByLabelText("Top-up amount")).toHaveValue("");
		expect(onToppedUp).toHaveBeenCalledExactlyOnceWith(makeAccount(1250.5));
	});

	it("shows the server's validation message", async () => {
		mockFetch({ "POST /api/accounts/topup": () => validationError("amount", "The 'amount' field must be less than or equal to 1000000000.") });
		const { user, onToppedUp } = renderForm();
		await topUp(user, "5");
		expect(await screen.findByRole("alert")).toHaveTextContent("The 'amount' field must be less than or equal to 1000000000.");
		expect(screen.getByLabelText("Top-up amount")).toHaveValue("5");
		expect(onToppedUp).not.toHaveBeenCalled();
	});

	it("says so when the server is unreachable", async () => {
		mockFetch({ "POST /api/accounts/topup": () => Promise.reject(new TypeError("Failed to fetch")) });
		const { user } = renderForm();
		await topUp(user, "5");
		expect(await screen.findByRole("alert", {}, { timeout: 2000 })).toHaveTextContent(UNAVAILABLE_MESSAGE);
	});

	it("takes a comma as the decimal separator", async () => {
		const { requests } = mockFetch({ "POST /api/accounts/topup": () => jsonResponse(makeAccount(12.5)) });
		const { user } = renderForm();
		await topUp(user, "12,50");
		expect(await screen.findByRole("status")).toHaveTextContent("Added 12.50.");
		expect(requests[0].body).toEqual({ amount: 12.5 });
	});

	it("says an unavailable service's top-up may have gone through, and tries again with the same Idempotency-Key", async () => {
		let unavailable = true;
		const { requests } = mockFetch({
			"POST /api/accounts/topup": () => (unavailable ? errorResponse(503, "SERVICE_UNAVAILABLE", "The service is unavailable for the moment; retry shortly.") : jsonResponse(makeAccount(5)))
		});
		const { user, onToppedUp } = renderForm();
		await topUp(user, "5");
		expect(await screen.findByRole("alert")).toHaveTextContent(`${UNAVAILABLE_MESSAGE} Your top-up may have gone through — check your balance before trying again.`);

		unavailable = false;
		await user.click(screen.getByRole("button", { name: "Top up" }));
		expect(await screen.findByRole("status")).toHaveTextContent("Added 5.00.");
		expect(onToppedUp).toHaveBeenCalledTimes(1);
		expect(requests[1].headers.get("Idempotency-Key")).toBe(requests[0].headers.get("Idempotency-Key"));
	});

	it("asks to wait when rate limited", async () => {
		mockFetch({ "POST /api/accounts/topup": () => errorResponse(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded") });
		const { user } = renderForm();
		await topUp(user, "5");
		expect(await screen.findByRole("alert")).toHaveTextContent(/^Too many requests — please wait a moment\.$/);
	});
});
