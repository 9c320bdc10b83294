/**
 * The front end in a real browser (Debian's Chromium driven by playwright-core) against the real
 * system: gateway serving the built app, orders, payments, Postgres. Screenshots of the main
 * states go to test-results/screenshots/ on every run.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { PROJECT_ROOT } from "../../lib/paths";
import { startSystem, type TestSystem } from "../support/system";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = path.join(PROJECT_ROOT, "test-results/screenshots");

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
	system = await startSystem();
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
				.evaluate(() => ({ visibility: document.visibilityState, live: document.querySelector("[data-testid=live-status]")?.textContent, alerts: [...document.querySelectorAll("[role=alert]")].map(a => a.textContent) }))
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
		await page.getByRole("alert").filter({ hasText: /decimal/i }).waitFor();
		expect(await balanceText(page)).toMatch(/0\.00/);
		await shot(page, "5-invalid-amount");
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
