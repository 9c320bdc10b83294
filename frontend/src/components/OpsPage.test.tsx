import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { UNAVAILABLE_MESSAGE, type DeadEvent, type Journey, type ServiceOps } from "../api";
import { OPS_POLL_INTERVAL_MS } from "../hooks/queries";
import { errorResponse, jsonResponse, makeJourney, makeOrder, mockFetch, type RecordedRequest } from "../test/fakeServer";
import { setVisibility } from "../test/visibility";
import { OpsPage } from "./OpsPage";

const OPERATOR = { userId: "olga", operator: true };

function activity(reemitted: number[], reconciled: number[]) {
	const start = Date.parse("2025-01-01T10:00:00.000Z");
	return reemitted.map((count, index) => ({
		at: new Date(start + index * 10_000).toISOString(),
		emitted: 5,
		reemitted: count,
		confirmed: 5,
		dead: 0,
		reconciled: reconciled[index] ?? 0
	}));
}

function makeServiceOps(overrides: Partial<ServiceOps> & Pick<ServiceOps, "service">): ServiceOps {
	return { available: true, pending: 0, oldestPendingAgeSeconds: 0, dead: 0, activity: activity([0, 0, 0], []), ...overrides };
}

const deadPaymentResult: DeadEvent = {
	service: "payments",
	id: "e1",
	eventName: "payment.processed",
	targetGroup: "orders",
	orderId: "o1",
	attempts: 3,
	failures: 10,
	lastError: 'relation "orders" is locked',
	createdAt: "2025-01-01T10:00:00.000Z",
	deadAt: "2025-01-01T10:00:30.000Z"
};

/** An operator's gateway: `dead` is what it lists until a replay revives them. */
function mockOperatorGateway(dead: DeadEvent[] = [deadPaymentResult]) {
	let deadEvents = dead;
	const fake = mockFetch({
		"GET /api/me": () => jsonResponse(OPERATOR),
		"GET /api/admin/outbox": () =>
			jsonResponse({
				bucketSeconds: 10,
				services: [
					makeServiceOps({ service: "orders", pending: 2, oldestPendingAgeSeconds: 1.5, activity: activity([1, 0, 3], [0, 2, 0]) }),
					makeServiceOps({ service: "payments", dead: deadEvents.length, activity: activity([0, 2, 0], []) })
				]
			}),
		"GET /api/admin/dead-events": () => jsonResponse({ events: deadEvents }),
		"POST /api/admin/dead-events/replay": request => {
			const { service, ids } = request.body as { service: string; ids?: string[] };
			const replayed = deadEvents.filter(event => event.service === service && (ids === undefined || ids.includes(event.id))).map(event => event.id);
			deadEvents = deadEvents.filter(event => !replayed.includes(event.id));
			return jsonResponse({ service, replayed });
		}
	});
	return fake;
}

function renderPage() {
	render(<OpsPage userId="olga" onSwitchUser={() => undefined} />);
	return userEvent.setup();
}

const serviceCard = (service: string) => screen.getAllByTestId("ops-service").find(card => card.dataset.service === service)!;
const adminRequests = (requests: RecordedRequest[]) => requests.filter(request => request.url.startsWith("/api/admin/"));

describe("OpsPage", () => {
	it("tells a non-operator it is not available, and asks no admin route", async () => {
		const { requests } = mockFetch({ "GET /api/me": () => jsonResponse({ userId: "olga", operator: false }) });
		renderPage();
		expect(await screen.findByTestId("ops-not-available")).toHaveTextContent("not available to you");
		expect(screen.queryByRole("heading", { name: "Outbox by service" })).not.toBeInTheDocument();
		expect(screen.queryByLabelText("Order ID")).not.toBeInTheDocument();
		expect(adminRequests(requests)).toEqual([]);
		expect(screen.getByRole("link", { name: "Your orders" })).toHaveAttribute("href", "/");
	});

	it("hides everything when an admin route answers 403", async () => {
		mockFetch({
			"GET /api/me": () => jsonResponse(OPERATOR),
			"GET /api/admin/outbox": () => errorResponse(403, "FORBIDDEN", "Operators only"),
			"GET /api/admin/dead-events": () => errorResponse(403, "FORBIDDEN", "Operators only")
		});
		renderPage();
		expect(await screen.findByTestId("ops-not-available")).toBeInTheDocument();
		expect(screen.queryByRole("heading", { name: "Outbox by service" })).not.toBeInTheDocument();
	});

	it("shows each service's backlog, dead events with their errors, and the last minutes' re-emits and reconciled orders", async () => {
		mockOperatorGateway();
		renderPage();
		await waitFor(() => expect(screen.getAllByTestId("ops-service")).toHaveLength(2));
		const orders = within(serviceCard("orders"));
		expect(orders.getByTestId("pending-count")).toHaveTextContent("2");
		expect(orders.getByTestId("oldest-pending")).toHaveTextContent("1.5 s");
		expect(orders.getByTestId("dead-count")).toHaveTextContent("0");
		expect(orders.getByTestId("reemitted-total")).toHaveTextContent("4");
		expect(orders.getByTestId("reconciled-total")).toHaveTextContent("2");
		expect(orders.getByRole("img")).toHaveAccessibleName("orders, last 10 minutes: 4 re-emits and 2 reconciled orders, at most 3 in one 10-second interval.");
		// A bar per non-zero figure: re-emits 1 and 3, reconciled 2.
		expect(serviceCard("orders").querySelectorAll("rect")).toHaveLength(3);
		expect(orders.getByText("None.")).toBeInTheDocument();
		expect(orders.getByRole("button", { name: "Replay all dead events of orders" })).toBeDisabled();

		const payments = within(serviceCard("payments"));
		expect(payments.getByTestId("dead-count")).toHaveTextContent("1");
		expect(payments.getByTestId("oldest-pending")).toHaveTextContent("—");
		const dead = payments.getByTestId("dead-event");
		expect(dead).toHaveTextContent("payment.processed to orders · order o1");
		expect(dead).toHaveTextContent('relation "orders" is locked');
		expect(dead).toHaveTextContent("10 failures in 3 attempts");
		expect(screen.getByTestId("live-status")).toHaveTextContent("Live");
	});

	it("says when a service has no instance up", async () => {
		mockFetch({
			"GET /api/me": () => jsonResponse(OPERATOR),
			"GET /api/admin/outbox": () => jsonResponse({ bucketSeconds: 10, services: [makeServiceOps({ service: "payments", available: false, activity: [] })] }),
			"GET /api/admin/dead-events": () => jsonResponse({ events: [] })
		});
		renderPage();
		expect(await screen.findByRole("alert")).toHaveTextContent("No instance of payments is up: its figures are unknown.");
	});

	it("replays a dead event only after confirmation, shows how many were replayed and refreshes the lists", async () => {
		const { requests } = mockOperatorGateway();
		const user = renderPage();
		const replay = await screen.findByRole("button", { name: "Replay: payment.processed of order o1" });

		await user.click(replay);
		const dialog = screen.getByRole("alertdialog", { name: "Replay this dead event?" });
		expect(dialog).toHaveAccessibleDescription("Send payment.processed of order o1 again? Do it once the cause of its failures is fixed.");
		expect(within(dialog).getByRole("button", { name: "Cancel" })).toHaveFocus();
		await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
		expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
		expect(replay).toHaveFocus();

		await user.click(replay);
		await user.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Replay" }));
		const result = within(serviceCard("payments")).getByTestId("replay-result");
		await waitFor(() => expect(result).toHaveTextContent("Replayed 1 event of payments."));
		expect(result).toHaveAttribute("role", "status");
		await waitFor(() => expect(within(serviceCard("payments")).getByTestId("dead-count")).toHaveTextContent("0"));
		expect(within(serviceCard("payments")).queryByTestId("dead-event")).not.toBeInTheDocument();
		// Its button gone with it, the focus stays in the service's card.
		expect(screen.getByRole("heading", { name: "payments" })).toHaveFocus();
		expect(requests.filter(request => request.method === "POST").map(request => request.body)).toEqual([{ service: "payments", ids: ["e1"] }]);
	});

	it("replays all of a service's dead events after confirmation", async () => {
		const second = { ...deadPaymentResult, id: "e2", orderId: "o2" };
		const { requests } = mockOperatorGateway([deadPaymentResult, second]);
		const user = renderPage();
		await user.click(await screen.findByRole("button", { name: "Replay all dead events of payments" }));
		const dialog = screen.getByRole("alertdialog", { name: "Replay all dead events of payments?" });
		expect(dialog).toHaveAccessibleDescription("Send all 2 dead events of payments again? Do it once the cause of their failures is fixed.");
		await user.click(within(dialog).getByRole("button", { name: "Replay all" }));
		await waitFor(() => expect(within(serviceCard("payments")).getByTestId("replay-result")).toHaveTextContent("Replayed 2 events of payments."));
		expect(requests.filter(request => request.method === "POST").map(request => request.body)).toEqual([{ service: "payments" }]);
		await waitFor(() => expect(screen.queryAllByTestId("dead-event")).toHaveLength(0));
	});

	it("says when the event was no longer dead, and shows a failed replay as an error", async () => {
		let unavailable = false;
		mockFetch({
			"GET /api/me": () => jsonResponse(OPERATOR),
			"GET /api/admin/outbox": () => jsonResponse({ bucketSeconds: 10, services: [makeServiceOps({ service: "payments", dead: 1 })] }),
			"GET /api/admin/dead-events": () => jsonResponse({ events: [deadPaymentResult] }),
			"POST /api/admin/dead-events/replay": () => (unavailable ? errorResponse(503, "SERVICE_UNAVAILABLE", "Unavailable") : jsonResponse({ service: "payments", replayed: [] }))
		});
		const user = renderPage();
		const replayOnce = async () => {
			await user.click(await screen.findByRole("button", { name: /^Replay: / }));
			await user.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Replay" }));
		};
		await replayOnce();
		await waitFor(() => expect(screen.getByTestId("replay-result")).toHaveTextContent("Nothing replayed: the event was no longer dead."));

		unavailable = true;
		await replayOnce();
		expect(await within(serviceCard("payments")).findByRole("alert")).toHaveTextContent(UNAVAILABLE_MESSAGE);
		expect(screen.getByTestId("replay-result")).toBeEmptyDOMElement();
	});

	it("shows a 503 as a message with Retry, not a crash, and recovers", async () => {
		let unavailable = true;
		mockFetch({
			"GET /api/me": () => jsonResponse(OPERATOR),
			"GET /api/admin/outbox": () =>
				unavailable
					? errorResponse(503, "SERVICE_UNAVAILABLE", "The service is unavailable for the moment; retry shortly.")
					: jsonResponse({ bucketSeconds: 10, services: [makeServiceOps({ service: "orders" })] }),
			"GET /api/admin/dead-events": () => jsonResponse({ events: [] })
		});
		const user = renderPage();
		expect(await screen.findByRole("alert")).toHaveTextContent(UNAVAILABLE_MESSAGE);
		await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("Reconnecting…"));
		expect(screen.getByLabelText("Order ID")).toBeInTheDocument();

		unavailable = false;
		await user.click(screen.getByRole("button", { name: "Retry" }));
		await waitFor(() => expect(screen.getAllByTestId("ops-service")).toHaveLength(1));
		expect(screen.queryByRole("alert")).not.toBeInTheDocument();
		expect(screen.getByTestId("live-status")).toHaveTextContent("Live");
	});

	it("shows a 503 from /api/me with Retry", async () => {
		let unavailable = true;
		mockFetch({
			"GET /api/me": () => (unavailable ? errorResponse(503, "SERVICE_UNAVAILABLE", "Unavailable") : jsonResponse({ userId: "olga", operator: false }))
		});
		const user = renderPage();
		expect(await screen.findByRole("alert")).toHaveTextContent(UNAVAILABLE_MESSAGE);
		unavailable = false;
		await user.click(screen.getByRole("button", { name: "Retry" }));
		expect(await screen.findByTestId("ops-not-available")).toBeInTheDocument();
	});

	it("reads the figures again every few seconds, and not while the tab is hidden", async () => {
		vi.useFakeTimers();
		const { requests } = mockOperatorGateway();
		render(<OpsPage userId="olga" onSwitchUser={() => undefined} />);
		const outboxReads = () => requests.filter(request => request.url === "/api/admin/outbox").length;
		await act(() => vi.advanceTimersByTimeAsync(0));
		expect(outboxReads()).toBe(1);
		await act(() => vi.advanceTimersByTimeAsync(OPS_POLL_INTERVAL_MS));
		expect(outboxReads()).toBe(2);

		act(() => setVisibility("hidden"));
		expect(screen.getByTestId("live-status")).toHaveTextContent("Paused");
		await act(() => vi.advanceTimersByTimeAsync(OPS_POLL_INTERVAL_MS * 5));
		expect(outboxReads()).toBe(2);

		// Shown again: read at once, then on the interval.
		act(() => setVisibility("visible"));
		await act(() => vi.advanceTimersByTimeAsync(0));
		expect(outboxReads()).toBe(3);
		expect(screen.getByTestId("live-status")).toHaveTextContent("Live");
	});
});

describe("OpsPage: find an order", () => {
	function mockJourneys(journeys: Record<string, () => Journey | Response>) {
		const routes = Object.fromEntries(
			Object.entries(journeys).map(([id, answer]) => [
				`GET /api/admin/orders/${id}/journey`,
				() => {
					const journey = answer();
					return journey instanceof Response ? journey : jsonResponse(journey);
				}
			])
		);
		return mockFetch({
			"GET /api/me": () => jsonResponse(OPERATOR),
			"GET /api/admin/outbox": () => jsonResponse({ bucketSeconds: 10, services: [] }),
			"GET /api/admin/dead-events": () => jsonResponse({ events: [] }),
			...routes
		});
	}

	async function find(user: ReturnType<typeof userEvent.setup>, id: string) {
		const input = await screen.findByLabelText("Order ID");
		await user.clear(input);
		if (id) await user.type(input, id);
		await user.click(screen.getByRole("button", { name: "Show journey" }));
	}

	it("shows a finished order's journey: each hop in words, its service, its time and how long it took", async () => {
		const order = makeOrder({ id: "o1", userId: "bob", status: "FINISHED", updatedAt: "2025-01-01T10:00:01.540Z" });
		mockJourneys({ o1: () => makeJourney(order) });
		const user = renderPage();
		await find(user, " o1 ");

		const journey = await screen.findByRole("list", { name: "Journey" });
		const hops = within(journey).getAllByRole("listitem");
		expect(hops.map(hop => hop.dataset.step)).toEqual([
			"created",
			"requestEmitted",
			"requestReceived",
			"paymentDecided",
			"requestConfirmed",
			"resultEmitted",
			"resultApplied",
			"pushed",
			"resultConfirmed"
		]);
		expect(hops[0]).toHaveTextContent("Order placed");
		expect(hops[0]).not.toHaveTextContent("after");
		expect(hops[2]).toHaveTextContent("Payments received the request");
		expect(hops[2]).toHaveTextContent("payments");
		expect(hops[2]).toHaveTextContent("after +8 ms");
		expect(within(hops[2]).getByRole("time")).toHaveAttribute("datetime", "2025-01-01T10:00:00.020Z");
		expect(hops[3]).toHaveTextContent("Payment decided — PAID");
		expect(hops[6]).toHaveTextContent("Order updated with the result — emitted 2 times");
		expect(hops[6]).toHaveTextContent("after +1.5 s");
		const details = screen.getByTestId("journey-order");
		expect(details).toHaveTextContent("Finished");
		expect(details).toHaveTextContent("bob");
		expect(details).toHaveTextContent("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(screen.queryByTestId("journey-pending")).not.toBeInTheDocument();
	});

	it("shows what an order still NEW waits for and why, and follows it until it ends", async () => {
		const order = makeOrder({ id: "o1", createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
		const waiting = makeJourney(order);
		waiting.hops = waiting.hops.slice(0, 2);
		waiting.pending = { step: "requestConfirmed", since: order.createdAt, why: "waiting for payments (attempt 4, last error: boom)" };
		let current: Journey = waiting;
		mockJourneys({ o1: () => current });
		const user = renderPage();
		await find(user, "o1");

		const pending = await screen.findByTestId("journey-pending");
		expect(pending).toHaveTextContent("Waiting for payments to confirm the request…");
		expect(pending).toHaveTextContent("waiting for payments (attempt 4, last error: boom)");
		expect(screen.getByTestId("journey-order")).toHaveTextContent("New");

		current = makeJourney({ ...order, status: "FINISHED", updatedAt: new Date().toISOString() });
		await waitFor(() => expect(screen.getByTestId("journey-order")).toHaveTextContent("Finished"), { timeout: 4_000 });
		expect(screen.queryByTestId("journey-pending")).not.toBeInTheDocument();
		expect(within(screen.getByRole("list", { name: "Journey" })).getAllByRole("listitem")).toHaveLength(9);
	});

	it("says when no order has the id, and asks for one when the field is empty", async () => {
		const { requests } = mockJourneys({ nope: () => errorResponse(404, "ORDER_NOT_FOUND", "Order not found") });
		const user = renderPage();
		await find(user, "");
		expect(screen.getByRole("alert")).toHaveTextContent("Enter an order ID.");
		expect(screen.getByLabelText("Order ID")).toHaveFocus();

		await find(user, "nope");
		expect(await screen.findByRole("alert")).toHaveTextContent("No order has this ID.");
		expect(requests.filter(request => request.url.endsWith("/journey"))).toHaveLength(1);
	});

	it("reads a journey once per Retry, then follows it while it may change", async () => {
		const order = makeOrder({ id: "o2", createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
		let answer: () => Journey | Response = () => errorResponse(503, "SERVICE_UNAVAILABLE", "Temporarily unavailable");
		const { requests } = mockJourneys({ o2: () => answer() });
		const reads = () => requests.filter(request => request.url.endsWith("/journey")).length;
		const user = renderPage();
		await find(user, "o2");
		await screen.findByRole("button", { name: "Retry" });
		expect(reads()).toBe(1);

		const waiting = makeJourney(order);
		waiting.hops = waiting.hops.slice(0, 2);
		waiting.pending = { step: "requestConfirmed", since: order.createdAt, why: "waiting for payments (attempt 2)" };
		answer = () => waiting;
		await user.click(screen.getByRole("button", { name: "Retry" }));
		await screen.findByTestId("journey-pending");
		expect(reads()).toBe(2);
	});
});
