import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App } from "./App";
import { errorResponse, jsonResponse, makeAccount, mockFetch, type RecordedRequest } from "./test/fakeServer";

const STORAGE_KEY = "orders-payments.user-id";

function mockGateway() {
	return mockFetch({
		"GET /api/accounts/balance": () => jsonResponse(makeAccount(900)),
		"GET /api/orders": () => jsonResponse([])
	});
}

async function signIn(userId: string) {
	const user = userEvent.setup();
	const input = screen.getByLabelText("User ID");
	await user.clear(input);
	if (userId) await user.type(input, userId);
	await user.click(screen.getByRole("button", { name: "Continue" }));
	return user;
}

describe("App sign-in", () => {
	beforeEach(() => {
		localStorage.clear();
	});

	it.each([
		["", "Enter your user ID."],
		["bad id!", "A user ID may only contain letters, digits and the characters . _ : @ -"],
		["a".repeat(65), "A user ID has at most 64 characters."]
	])("refuses the user ID %j: %s", async (userId, message) => {
		const { requests } = mockGateway();
		render(<App />);
		await signIn(userId);
		expect(screen.getByRole("alert")).toHaveTextContent(message);
		expect(screen.getByLabelText("User ID")).toHaveAttribute("aria-invalid", "true");
		expect(screen.queryByTestId("current-user")).not.toBeInTheDocument();
		expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
		expect(requests).toHaveLength(0);
	});

	it("signs in, remembers the user and sends their ID with every request", async () => {
		const { requests } = mockGateway();
		render(<App />);
		await signIn("alice.b:1@x-y_z");
		expect(screen.getByTestId("current-user")).toHaveTextContent("alice.b:1@x-y_z");
		expect(localStorage.getItem(STORAGE_KEY)).toBe("alice.b:1@x-y_z");
		expect(await screen.findByTestId("balance")).toHaveTextContent("900.00");
		expect(requests.map((request: RecordedRequest) => request.headers.get("X-User-Id"))).toEqual(requests.map(() => "alice.b:1@x-y_z"));
	});

	it("starts signed in as the remembered user", async () => {
		localStorage.setItem(STORAGE_KEY, "bob");
		mockGateway();
		render(<App />);
		expect(screen.getByTestId("current-user")).toHaveTextContent("bob");
		expect(screen.queryByLabelText("User ID")).not.toBeInTheDocument();
		expect(await screen.findByTestId("balance")).toBeInTheDocument();
	});

	it("ignores a remembered value that is not a valid user ID", () => {
		localStorage.setItem(STORAGE_KEY, "not valid");
		mockGateway();
		render(<App />);
		expect(screen.getByLabelText("User ID")).toBeInTheDocument();
	});

	it("switches user: forgets the user, stops their updates and asks again", async () => {
		localStorage.setItem(STORAGE_KEY, "bob");
		const { requests } = mockGateway();
		render(<App />);
		await screen.findByTestId("balance");
		await userEvent.click(screen.getByRole("button", { name: "Switch user" }));

		expect(screen.getByLabelText("User ID")).toHaveValue("");
		expect(screen.queryByTestId("current-user")).not.toBeInTheDocument();
		expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
		const events = requests.filter(request => request.url === "/api/events");
		expect(events.length).toBeGreaterThan(0);
		expect(events.every(request => request.signal?.aborted)).toBe(true);

		await signIn("carol");
		expect(screen.getByTestId("current-user")).toHaveTextContent("carol");
		await waitFor(() => expect(requests.at(-1)?.headers.get("X-User-Id")).toBe("carol"));
	});
});

describe("App at /ops", () => {
	beforeEach(() => {
		window.history.pushState({}, "", "/ops");
	});
	afterEach(() => {
		window.history.pushState({}, "", "/");
	});

	it("asks who the person is, then shows the operator page instead of their orders", async () => {
		const { requests } = mockFetch({
			"GET /api/me": () => jsonResponse({ userId: "olga", operator: true }),
			"GET /api/admin/outbox": () => jsonResponse({ bucketSeconds: 10, services: [] }),
			"GET /api/admin/dead-events": () => jsonResponse({ events: [] })
		});
		render(<App />);
		await signIn("olga");
		expect(await screen.findByRole("heading", { name: "Outbox by service" })).toBeInTheDocument();
		expect(screen.queryByTestId("balance")).not.toBeInTheDocument();
		expect(requests.some(request => request.url.startsWith("/api/orders"))).toBe(false);
	});

	it("shows a non-operator only that the page is not available", async () => {
		localStorage.setItem(STORAGE_KEY, "bob");
		mockFetch({
			"GET /api/me": () => jsonResponse({ userId: "bob", operator: false }),
			"GET /api/admin/outbox": () => errorResponse(403, "FORBIDDEN", "Operators only")
		});
		render(<App />);
		expect(await screen.findByTestId("ops-not-available")).toBeInTheDocument();
		expect(screen.queryByRole("heading", { name: "Outbox by service" })).not.toBeInTheDocument();
	});
});
