/**
 * The front end in a real browser (Debian's Chromium driven by playwright-core) against the real
 * system: gateway serving the built app, orders, payments, Postgres. Screenshots of the main
 * states go to test-results/screenshots/ on every run.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { authenticatorFor } from "../support/configuration";
import { JOURNEY_STEPS as ALL_JOURNEY_STEPS } from "../../services/orders/order-journey";

/** The steps of a paid order: all but a cancel's (issue 18). */
const JOURNEY_STEPS = ALL_JOURNEY_STEPS.filter(step => step !== "cancelRequested" && step !== "refunded");
import { PROJECT_ROOT } from "../../platform/paths";
import { breakHandler, openAccount, placeOrder as placeOrderByApi, startSystem, TEST_OUTBOX, waitFor, waitForOrderEnd, type TestSystem } from "../support/system";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = path.join(PROJECT_ROOT, "test-results/screenshots");
/**
 * The operator page's picture in the README (issue 16), taken by the run that sets
 * UPDATE_DOCS_SCREENSHOTS=1: written on every run, a tracked file would change with each `npm test`.
 */
const OPS_SCREENSHOT = path.join(PROJECT_ROOT, "docs/ops-screenshot.png");
/** The one operator (ADMIN_USER_IDS) of the system under test. */
const OPERATOR = "ops-olga";

let system: TestSystem;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	if (!existsSync(CHROMIUM)) {
		throw new Error(`No Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH.`);
	}
	if (!existsSync(path.join(PROJECT_ROOT, "frontend/dist/index.html"))) {
		throw new Error("The front end is not built: run `npm run build` first (npm test does).");
	}
	mkdirSync(SCREENSHOTS, { recursive: true });
	system = await startSystem({
		// An event its consumer fails to apply is parked after three failures (a second or so), so the
		// operator page's test has a dead event to replay without waiting out the default ten.
		outbox: { ...TEST_OUTBOX, parking: { maxFailures: 3, minAgeMs: 0 } },
		api: { authenticator: authenticatorFor({ ADMIN_USER_IDS: OPERATOR }) }
	});
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		// The machine has no network: keep Chromium from trying to reach Google's services.
		args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
	});
});

afterAll(async () => {
	for (const context of contexts) await context.close();
	await browser?.close();
	await system?.stop();
});

/** On a failure, each open page's screenshot and state, to see what the person would have seen. */
function explainFailures(): void {
	onTestFailed(async ({ task }) => {
		for (const [index, page] of contexts.flatMap(context => context.pages()).entries()) {
			await shot(page, `failure-${task.name.slice(0, 40).replace(/\W+/g, "-")}-${index}`).catch(() => undefined);
			const state = await page
				.evaluate(() => ({
					visibility: document.visibilityState,
					live: document.querySelector("[data-testid=live-status]")?.textContent,
					alerts: [...document.querySelectorAll("[role=alert]")].map(a => a.textContent)
				}))
				.catch(err => String(err));
			console.error(`page ${index}:`, JSON.stringify(state));
		}
	});
}

async function openAs(user: string, viewport = { width: 1200, height: 900 }): Promise<Page> {
	explainFailures();
	const context = await browser.newContext({ viewport });
	contexts.push(context);
	const page = await context.newPage();
	await page.goto(system.baseUrl);
	await page.getByLabel("User ID").fill(user);
	await page.getByRole("button", { name: "Continue" }).click();
	await expect.poll(() => page.getByTestId("current-user").textContent()).toContain(user);
	return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const balanceText = (page: Page) => page.getByTestId("balance").textContent();
const rows = (page: Page) => page.getByTestId("order-row");

async function placeOrder(page: Page, amount: string, description: string) {
	await page.getByLabel("Order amount").fill(amount);
	await page.getByLabel("Description").fill(description);
	await page.getByRole("button", { name: "Place order" }).click();
}

const statementItems = (page: Page) => page.getByRole("region", { name: "Statement" }).getByTestId("movement");

/** "+1,000.00", "−30.00" as shown, back to numbers. */
const shownAmount = (text: string | null | undefined) => Number(text?.replace("\u2212", "-").replace(/[+,]/g, ""));

/** The statement's movements as the page shows them, newest first. */
async function shownMovements(page: Page) {
	const items = await statementItems(page).evaluateAll(elements =>
		elements.map(element => ({
			kind: (element as HTMLElement).dataset.kind,
			text: element.textContent,
			amount: element.querySelector("[data-testid=movement-amount]")?.textContent,
			balanceAfter: element.querySelector("[data-testid=movement-balance]")?.textContent
		}))
	);
	return items.map(item => ({ ...item, amount: shownAmount(item.amount), balanceAfter: shownAmount(item.balanceAfter) }));
}

describe("the front end in Chromium", () => {
	it("creates an account, tops up, and an order turns FINISHED without a reload", async () => {
		const user = `browser-${Date.now()}`;
		const page = await openAs(user);
		await page.getByRole("button", { name: "Create account" }).click();
		await expect.poll(() => balanceText(page)).toMatch(/0\.00/);
		await shot(page, "1-account-created");

		await page.getByLabel("Top-up amount").fill("1000");
		await page.getByRole("button", { name: "Top up" }).click();
		await expect.poll(() => balanceText(page)).toMatch(/1,000\.00/);

		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await placeOrder(page, "100", "A book");
		const row = rows(page).first();
		await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("FINISHED");
		await expect.poll(() => balanceText(page)).toMatch(/900\.00/);
		expect(await row.textContent()).toContain("A book");
		await shot(page, "2-order-finished");

		// The user is remembered across a reload.
		await page.reload();
		await expect.poll(() => page.getByTestId("current-user").textContent()).toContain(user);
		await expect.poll(() => rows(page).count()).toBe(1);
	});

	it("shows an order over the balance as CANCELLED with the reason", async () => {
		const page = await openAs(`poor-${Date.now()}`);
		await page.getByRole("button", { name: "Create account" }).click();
		await page.getByLabel("Top-up amount").fill("5");
		await page.getByRole("button", { name: "Top up" }).click();
		await expect.poll(() => balanceText(page)).toMatch(/5\.00/);
		await placeOrder(page, "50", "Too expensive");
		const row = rows(page).first();
		await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("CANCELLED");
		expect((await row.textContent())?.toLowerCase()).toContain("insufficient funds");
		expect(await balanceText(page)).toMatch(/5\.00/);
		await shot(page, "3-order-cancelled");
	});

	it("explains the no-account state and invalid amounts", async () => {
		const page = await openAs(`invalid-${Date.now()}`);
		await page.getByRole("alert").filter({ hasText: "no account yet" }).waitFor();
		await shot(page, "4-no-account");
		await page.getByRole("button", { name: "Create account" }).click();
		await page.getByLabel("Top-up amount").fill("1.005");
		await page.getByRole("button", { name: "Top up" }).click();
		await page
			.getByRole("alert")
			.filter({ hasText: /decimal/i })
			.waitFor();
		expect(await balanceText(page)).toMatch(/0\.00/);
		await shot(page, "5-invalid-amount");
	});

	it("cancels a paid order after confirming, sees it REFUNDED with the money back, and reads it all in the statement (issue 18)", async () => {
		const page = await openAs(`refund-${Date.now()}`);
		await page.getByRole("button", { name: "Create account" }).click();
		await page.getByLabel("Top-up amount").fill("100");
		await page.getByRole("button", { name: "Top up" }).click();
		await expect.poll(() => balanceText(page)).toMatch(/100\.00/);
		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await placeOrder(page, "30", "Returned book");
		const row = rows(page).first();
		await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("FINISHED");
		await expect.poll(() => balanceText(page)).toMatch(/70\.00/);

		await row.getByRole("button", { name: /^Cancel order/ }).click();
		const dialog = page.getByRole("alertdialog", { name: "Cancel this order?" });
		expect(await dialog.textContent()).toContain("Its amount 30.00 will be refunded to your account.");
		await shot(page, "13-cancel-confirmation");
		await dialog.getByRole("button", { name: "Cancel order" }).click();
		await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("REFUNDED");
		expect(await row.textContent()).toContain("Refunded");
		expect(await row.getByRole("button", { name: /^Cancel order/ }).count()).toBe(0);
		await expect.poll(() => balanceText(page)).toMatch(/100\.00/);

		await expect.poll(async () => (await shownMovements(page)).map(movement => movement.kind)).toEqual(["REFUND", "PAYMENT", "TOPUP"]);
		const movements = await shownMovements(page);
		expect(movements.map(movement => movement.amount)).toEqual([30, -30, 100]);
		// Each balance is the one before plus the movement, and the newest is the balance shown.
		expect(movements.map(movement => movement.balanceAfter)).toEqual([100, 70, 100]);
		for (const [index, movement] of movements.slice(0, -1).entries()) expect(movement.balanceAfter).toBe(movements[index + 1].balanceAfter + movement.amount);
		expect(shownAmount(await balanceText(page))).toBe(movements[0].balanceAfter);
		expect(movements[0].text).toContain("Refund for order Returned book");
		expect(movements[1].text).toContain("Payment for order Returned book");
		await shot(page, "14-statement");

		// The refund's order, opened from the statement, says when its money came back.
		await statementItems(page).first().getByRole("button", { name: "Returned book" }).click();
		const details = page.getByRole("dialog", { name: "Order details" });
		await expect.poll(() => details.locator("dt", { hasText: "Refunded" }).count()).toBe(1);
	});

	it("keeps two users' orders apart", async () => {
		const stamp = Date.now();
		const alice = await openAs(`alice-${stamp}`);
		const bob = await openAs(`bob-${stamp}`, { width: 375, height: 800 });
		await placeOrder(alice, "1", "Alice's secret");
		await expect.poll(() => rows(alice).count()).toBe(1);
		await bob.reload();
		await expect.poll(() => bob.getByText("No orders yet").count()).toBe(1);
		expect(await bob.content()).not.toContain("Alice's secret");
		await shot(bob, "6-phone-other-user");
	});
});

describe("Content-Security-Policy in Chromium (issue 15)", () => {
	it("runs the app and Swagger UI under their policy without a single violation, and refuses to be framed", async () => {
		const context = await browser.newContext();
		contexts.push(context);
		const page = await context.newPage();
		const violations: string[] = [];
		page.on("console", message => {
			if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
		});
		await page.goto(`${system.baseUrl}/docs`);
		await page.locator(".swagger-ui .info .title").waitFor();
		await expect.poll(() => page.locator(".opblock").count()).toBeGreaterThan(0);
		await shot(page, "7-swagger-ui");
		await page.goto(system.baseUrl);
		await page.getByLabel("User ID").waitFor();
		// Another site framing the order form: the browser must refuse to render it.
		await page.setContent(`<iframe src="${system.baseUrl}/"></iframe>`);
		await expect.poll(() => violations.some(v => /frame-ancestors|X-Frame-Options|Refused to (display|frame)/i.test(v))).toBe(true);
		expect(violations.filter(v => !/frame-ancestors|X-Frame-Options|Refused to (display|frame)/i.test(v))).toEqual([]);
	});
});

describe("the operator page in Chromium (issue 16)", () => {
	const stamp = `${Date.now()}-${randomBytes(2).toString("hex")}`;

	/**
	 * A dead event made as a real one is: payments' handler fails for this user's orders (a trigger
	 * raising in its transaction, as a bug would), so orders' `payment.requested` is re-emitted, fails
	 * again and is parked as dead. Returns the order and a way to fix the "bug".
	 */
	async function orderStuckOnDeadRequest(user: string) {
		const broken = await breakHandler(system, "payments", "INSERT ON payment_transactions", `NEW.user_id = '${user}'`, "payments cannot store this payment (a bug)");
		const orderId = await placeOrderByApi(system, user, 25, "Stuck book");
		const [{ request_event_id: eventId }] = await system.sql("orders", "SELECT request_event_id FROM orders WHERE id = $1", [orderId]);
		await waitFor("the payment request to be parked as dead", async () => {
			const [row] = await system.sql("orders", "SELECT dead_at FROM outbox_events WHERE id = $1", [eventId]);
			return row?.dead_at ?? null;
		});
		return { orderId, fix: () => broken.fixed() };
	}

	const serviceCard = (page: Page, service: string) => page.locator(`[data-testid=ops-service][data-service=${service}]`);
	const journeySteps = (page: Page) => page.getByRole("list", { name: "Journey" }).getByRole("listitem");

	async function showJourney(page: Page, orderId: string) {
		await page.getByLabel("Order ID").fill(orderId);
		await page.getByRole("button", { name: "Show journey" }).click();
	}

	it("lets an operator replay a dead event after confirming, and watch its order end", async () => {
		const user = `stuck-${stamp}`;
		await openAccount(system, user, 100);
		const stuck = await orderStuckOnDeadRequest(user);
		const page = await openAs(OPERATOR, { width: 1280, height: 900 });
		await page.getByRole("link", { name: "Operator page" }).click();
		await page.getByRole("heading", { name: "Outbox by service" }).waitFor();
		expect(new URL(page.url()).pathname).toBe("/ops");

		const orders = serviceCard(page, "orders");
		const dead = orders.getByTestId("dead-event").filter({ hasText: stuck.orderId });
		await dead.waitFor();
		expect(await dead.textContent()).toContain("payments cannot store this payment (a bug)");
		expect(Number(await orders.getByTestId("dead-count").textContent())).toBeGreaterThanOrEqual(1);
		// Its two re-emits before it was parked show in the chart.
		await expect.poll(async () => Number(await orders.getByTestId("reemitted-total").textContent())).toBeGreaterThanOrEqual(2);

		await showJourney(page, stuck.orderId);
		const waiting = page.getByTestId("journey-pending");
		await waiting.waitFor();
		expect(await waiting.textContent()).toMatch(/Waiting for payments to receive the request.*payments cannot store this payment/);
		await shot(page, "8-ops-dead-event");
		if (process.env.UPDATE_DOCS_SCREENSHOTS === "1") await page.screenshot({ path: OPS_SCREENSHOT, fullPage: true });

		await stuck.fix();
		await dead.getByRole("button", { name: /^Replay/ }).click();
		const dialog = page.getByRole("alertdialog", { name: "Replay this dead event?" });
		await dialog.getByRole("button", { name: "Replay" }).click();
		await expect.poll(() => orders.getByTestId("replay-result").textContent()).toBe("Replayed 1 event of orders.");
		await expect.poll(() => dead.count()).toBe(0);
		// The journey follows the order to its end.
		await expect.poll(() => page.getByTestId("journey-order").textContent(), { timeout: 15_000 }).toContain("Finished");
		await expect.poll(() => waiting.count()).toBe(0);
		await shot(page, "9-ops-replayed");
	});

	it("gives a non-operator no link, no page, and 403 from the operator API", async () => {
		const user = `plain-${stamp}`;
		const page = await openAs(user);
		await page.getByRole("alert").filter({ hasText: "no account yet" }).waitFor();
		await page.goto(`${system.baseUrl}/ops`);
		await page.getByTestId("ops-not-available").waitFor();
		expect(await page.getByRole("heading", { name: "Outbox by service" }).count()).toBe(0);
		expect(await page.getByLabel("Order ID").count()).toBe(0);
		await shot(page, "10-ops-not-available");

		await page.getByRole("link", { name: "Your orders" }).click();
		await page.getByRole("alert").filter({ hasText: "no account yet" }).waitFor();
		expect(await page.getByRole("link", { name: "Operator page" }).count()).toBe(0);

		// The API itself, asked from the page as this user: 403 before any handler.
		const answers = await page.evaluate(async caller => {
			const paths = ["/api/admin/outbox", "/api/admin/dead-events"];
			return Promise.all(paths.map(async url => (await fetch(url, { headers: { "X-User-Id": caller } })).status));
		}, user);
		expect(answers).toEqual([403, 403]);
		const replay = await system.request("POST", "/api/admin/dead-events/replay", { user, body: { service: "orders" } });
		expect(replay.status).toBe(403);
		expect(replay.body).toMatchObject({ type: "FORBIDDEN" });
	});

	it("shows every hop of a finished order, in the owner's order details and on the operator page", async () => {
		const user = `journey-${stamp}`;
		await openAccount(system, user, 100);
		const page = await openAs(user);
		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await placeOrder(page, "10", "Followed book");
		const row = rows(page).first();
		await expect.poll(() => row.getAttribute("data-status"), { timeout: 10_000 }).toBe("FINISHED");
		const orderId = (await row.getAttribute("data-order-id"))!;
		// The result's confirmation, the last hop, may land just after the status push.
		await waitFor("every hop of the order", async () => {
			const { body } = await system.request("GET", `/api/orders/${orderId}/journey`, { user });
			return body.hops?.length === JOURNEY_STEPS.length;
		});

		await row.getByRole("button", { name: /^Details/ }).click();
		const dialog = page.getByRole("dialog", { name: "Order details" });
		await expect.poll(() => journeySteps(page).count()).toBe(JOURNEY_STEPS.length);
		expect((await journeySteps(page).evaluateAll(hops => hops.map(hop => (hop as HTMLElement).dataset.step))).sort()).toEqual([...JOURNEY_STEPS].sort());
		expect(await dialog.textContent()).toContain("Payment decided — PAID");
		await shot(page, "11-order-journey");

		const operator = await openAs(OPERATOR);
		await operator.goto(`${system.baseUrl}/ops`);
		await showJourney(operator, orderId);
		await expect.poll(() => journeySteps(operator).count()).toBe(JOURNEY_STEPS.length);
		const hops = await journeySteps(operator).evaluateAll(items => items.map(item => ({ step: (item as HTMLElement).dataset.step, text: item.textContent })));
		expect(hops.map(hop => hop.step).sort()).toEqual([...JOURNEY_STEPS].sort());
		expect(hops[0].text).toContain("Order placed");
		// Every hop but the first says which service and how long after the one before.
		for (const hop of hops.slice(1)) expect(hop.text).toMatch(/(orders|payments).*after \+\d/);
		expect(await operator.getByTestId("journey-order").textContent()).toContain(user);
		await shot(operator, "12-ops-journey");
	});
});

describe("accessibility in Chromium (axe-core)", () => {
	/** Every axe-core rule (WCAG 2.x A and AA, and its best practices) on the page as it is now. */
	async function expectNoViolations(page: Page): Promise<void> {
		const { violations } = await new AxeBuilder({ page }).analyze();
		const found = violations.map(violation => `${violation.id}: ${violation.help} at ${violation.nodes.map(node => node.target.join(" ")).join(", ")}`);
		expect(found).toEqual([]);
	}

	it("finds nothing on the sign-in page", async () => {
		explainFailures();
		const context = await browser.newContext();
		contexts.push(context);
		const page = await context.newPage();
		await page.goto(system.baseUrl);
		await page.getByLabel("User ID").waitFor();
		await expectNoViolations(page);
	});

	it("finds nothing on the dashboard with orders, nor in an order's details", async () => {
		const user = `a11y-${Date.now()}`;
		await openAccount(system, user, 100);
		await placeOrderByApi(system, user, 10, "Paid book");
		await placeOrderByApi(system, user, 500, "Refused car");
		const page = await openAs(user);
		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await expect.poll(() => page.locator("[data-testid=order-row][data-status=NEW]").count(), { timeout: 10_000 }).toBe(0);
		await expect.poll(() => rows(page).count()).toBe(2);
		await expectNoViolations(page);

		await rows(page)
			.first()
			.getByRole("button", { name: /^Details/ })
			.click();
		await page.getByRole("list", { name: "Journey" }).waitFor();
		await expectNoViolations(page);
	});

	it("finds nothing in the statement, on a refunded order, nor in the cancel confirmation (issue 18)", async () => {
		const user = `a11y-refund-${Date.now()}`;
		await openAccount(system, user, 100);
		const refunded = await placeOrderByApi(system, user, 10, "Refunded book");
		await waitForOrderEnd(system, user, refunded);
		expect((await system.request("POST", `/api/orders/${refunded}/cancel`, { user, body: {} })).status).toBe(202);
		await waitFor("the refund", async () => (await system.request("GET", `/api/orders/${refunded}`, { user })).body.status === "REFUNDED");
		await waitForOrderEnd(system, user, await placeOrderByApi(system, user, 20, "Kept book"));
		const page = await openAs(user);
		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await expect.poll(() => statementItems(page).count()).toBe(4);
		await expect.poll(() => page.locator("[data-testid=order-row][data-status=REFUNDED]").count()).toBe(1);
		await expectNoViolations(page);

		await rows(page)
			.filter({ hasText: "Kept book" })
			.getByRole("button", { name: /^Cancel order/ })
			.click();
		await page.getByRole("alertdialog", { name: "Cancel this order?" }).waitFor();
		await expectNoViolations(page);
		await page.getByRole("button", { name: "Keep order" }).click();
		expect(await page.getByRole("alertdialog").count()).toBe(0);
	});

	it("finds nothing on the operator page", async () => {
		const page = await openAs(OPERATOR);
		await page.goto(`${system.baseUrl}/ops`);
		await expect.poll(() => page.getByTestId("ops-service").count()).toBe(2);
		await page.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
		await expectNoViolations(page);
	});
});
