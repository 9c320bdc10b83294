import { describe, expect, it } from "vitest";
import { isAwaitingOutcome, isCancellable, mergeFetchedOrders, orderStatusText, upsertOrder } from "./orders";
import { makeOrder } from "./test/fakeServer";

const at = (minute: number) => `2025-01-01T10:${String(minute).padStart(2, "0")}:00.000Z`;

describe("orderStatusText", () => {
	it.each([
		[makeOrder({ id: "a", status: "NEW" }), "New"],
		[makeOrder({ id: "a", status: "FINISHED" }), "Finished"],
		[makeOrder({ id: "a", status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" }), "Cancelled — insufficient funds"],
		[makeOrder({ id: "a", status: "CANCELLED", cancelReason: "ACCOUNT_NOT_FOUND" }), "Cancelled — no account"],
		[makeOrder({ id: "a", status: "CANCELLED", cancelReason: "CANCELLED_BY_USER" }), "Cancelled — at your request"],
		[makeOrder({ id: "a", status: "CANCELLED" }), "Cancelled"],
		[makeOrder({ id: "a", status: "REFUNDED", refundedAt: "2025-01-01T10:01:00.000Z" }), "Refunded"]
	])("describes %o as %j", (order, text) => {
		expect(orderStatusText(order)).toBe(text);
	});
});

describe("what a cancel can do (issue 18)", () => {
	const cancelRequestedAt = "2025-01-01T10:00:30.000Z";
	it.each([
		[makeOrder({ id: "a", status: "NEW" }), true, true],
		[makeOrder({ id: "a", status: "FINISHED" }), true, false],
		[makeOrder({ id: "a", status: "FINISHED", cancelRequestedAt }), false, true],
		[makeOrder({ id: "a", status: "CANCELLED", cancelReason: "CANCELLED_BY_USER", cancelRequestedAt }), false, false],
		[makeOrder({ id: "a", status: "CANCELLED", cancelReason: "INSUFFICIENT_FUNDS" }), false, false],
		[makeOrder({ id: "a", status: "REFUNDED", cancelRequestedAt, refundedAt: "2025-01-01T10:00:31.000Z" }), false, false]
	])("for %o: cancellable %s, awaiting its outcome %s", (order, cancellable, awaiting) => {
		expect(isCancellable(order)).toBe(cancellable);
		expect(isAwaitingOutcome(order)).toBe(awaiting);
	});
});

describe("upsertOrder", () => {
	const older = makeOrder({ id: "old", createdAt: at(1), updatedAt: at(1) });
	const newer = makeOrder({ id: "new", createdAt: at(5), updatedAt: at(5) });

	it("puts a new order in creation order, newest first", () => {
		const middle = makeOrder({ id: "mid", createdAt: at(3), updatedAt: at(3) });
		const newest = makeOrder({ id: "newest", createdAt: at(9), updatedAt: at(9) });
		const ids = (orders: { id: string }[]) => orders.map(order => order.id);
		expect(ids(upsertOrder([newer, older], middle))).toEqual(["new", "mid", "old"]);
		expect(ids(upsertOrder([newer, older], newest))).toEqual(["newest", "new", "old"]);
		expect(ids(upsertOrder([], newest))).toEqual(["newest"]);
	});

	it("replaces an order with a later version, but not with an earlier one", () => {
		const finished = { ...newer, status: "FINISHED" as const, updatedAt: at(6) };
		expect(upsertOrder([newer, older], finished)).toEqual([finished, older]);
		expect(upsertOrder([finished, older], newer)).toEqual([finished, older]);
	});
});

describe("mergeFetchedOrders", () => {
	it("takes the fetched list as it is", () => {
		const fetched = [makeOrder({ id: "b", createdAt: at(2) }), makeOrder({ id: "a", createdAt: at(1) })];
		expect(mergeFetchedOrders([], fetched)).toEqual(fetched);
	});

	it("keeps an order placed after the newest fetched one on top", () => {
		const placed = makeOrder({ id: "placed", createdAt: at(9), updatedAt: at(9) });
		const fetched = [makeOrder({ id: "a", createdAt: at(1) })];
		expect(mergeFetchedOrders([placed], fetched).map(order => order.id)).toEqual(["placed", "a"]);
	});

	it("drops a local order the server no longer lists among its newest", () => {
		const dropped = makeOrder({ id: "ancient", createdAt: at(0) });
		const fetched = [makeOrder({ id: "a", createdAt: at(1) })];
		expect(mergeFetchedOrders([dropped], fetched).map(order => order.id)).toEqual(["a"]);
	});

	it("keeps a status change the fetched copy predates", () => {
		const stale = makeOrder({ id: "a", status: "NEW", updatedAt: at(1) });
		const live = { ...stale, status: "FINISHED" as const, updatedAt: at(2) };
		expect(mergeFetchedOrders([live], [stale])).toEqual([live]);
		expect(mergeFetchedOrders([stale], [live])).toEqual([live]);
	});
});
