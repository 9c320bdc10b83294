/**
 * The cancel/refund saga and the statement (issue 18) attacked from outside, as a client can, on
 * the real system: each test is a finding of the hostile review, failing before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAccount, placeOrder, startSystem, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

/** The most an account holds (the CHECK on accounts.balance_minor), in currency units; a top-up is at most MAX_AMOUNT. */
const BALANCE_LIMIT = 1_000_000_000_000;
const MAX_TOP_UP = 1_000_000_000;

describe("the saga attacked by its clients", () => {
	let system: TestSystem;
	let userSeq = 0;
	const newUser = () => `hostile-saga-${++userSeq}-${Date.now()}`;

	beforeAll(async () => {
		system = await startSystem({ api: { rateLimitPerMinute: 0 } });
	});

	afterAll(async () => {
		await system?.stop();
	});

	const statementOf = async (user: string) => (await system.request("GET", "/api/accounts/statement?limit=200", { user })).body;

	it("refunds a cancelled order even when the account was topped up to its limit after paying it: the limit keeps room for the refund", async () => {
		// Found: the refund's credit broke the balance's CHECK, failed on every delivery and was parked;
		// the order stayed FINISHED with cancelRequestedAt, its money never back.
		const user = newUser();
		await openAccount(system, user, MAX_TOP_UP);
		// 999 more top-ups, 27 at a time.
		for (let round = 0; round < 37; round++) {
			const answers = await Promise.all(Array.from({ length: 27 }, () => system.request("POST", "/api/accounts/topup", { user, body: { amount: MAX_TOP_UP } })));
			expect(answers.map(answer => answer.status)).toEqual(Array(27).fill(200));
		}
		expect((await system.request("GET", "/api/accounts/balance", { user })).body.balance).toBe(BALANCE_LIMIT);
		const id = await placeOrder(system, user, MAX_TOP_UP);
		expect((await waitForOrderEnd(system, user, id)).status).toBe("FINISHED");

		// The payment may still come back: topping the account up to its limit now leaves no room for it.
		const topUp = await system.request("POST", "/api/accounts/topup", { user, body: { amount: 1 } });
		expect(topUp.status).toBe(422);
		expect(topUp.body.type).toBe("BALANCE_LIMIT_EXCEEDED");

		expect((await system.request("POST", `/api/orders/${id}/cancel`, { user })).status).toBe(202);
		const refunded = await waitFor("the refund", async () => {
			const { body } = await system.request("GET", `/api/orders/${id}`, { user });
			return body.status === "REFUNDED" ? body : null;
		});
		expect(refunded.refundedAt).toBeDefined();
		const statement = await statementOf(user);
		expect(statement.balance).toBe(BALANCE_LIMIT);
		expect(statement.movements[0]).toMatchObject({ kind: "REFUND", amount: MAX_TOP_UP, balanceAfter: BALANCE_LIMIT, orderId: id });
	});

	it("refuses a body or query field that repeats the path's order id, and changes no order", async () => {
		// Found: moleculer-web let the path's id silently win over `{"id": <another order>}` in a
		// cancel's body (or `?id=` on a GET): a request the API says is refused (unknown field) changed state.
		const user = newUser();
		await openAccount(system, user, 10);
		const [target, other] = [await placeOrder(system, user, 1), await placeOrder(system, user, 1)];
		await waitForOrderEnd(system, user, target);
		await waitForOrderEnd(system, user, other);
		const cancel = await system.request("POST", `/api/orders/${target}/cancel`, { user, body: { id: other } });
		expect(cancel.status).toBe(400);
		expect(cancel.body.type).toBe("PATH_PARAMETER_REPEATED");
		for (const path of [`/api/orders/${target}?id=${other}`, `/api/orders/${target}/journey?id=${other}`]) {
			const answer = await system.request("GET", path, { user });
			expect(answer.status, path).toBe(400);
			expect(answer.body.type, path).toBe("PATH_PARAMETER_REPEATED");
		}
		for (const id of [target, other]) {
			const order = (await system.request("GET", `/api/orders/${id}`, { user })).body;
			expect(order.status).toBe("FINISHED");
			expect(order.cancelRequestedAt).toBeUndefined();
		}
	});
});
