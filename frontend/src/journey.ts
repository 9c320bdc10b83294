/** An order's journey in words: what each step is, done or awaited, and how long things took. */
import type { Journey, JourneyStep } from "./api";

const STEP_TEXT: Record<JourneyStep, { done: string; awaited: string }> = {
	created: { done: "Order placed", awaited: "the order to be placed" },
	requestEmitted: { done: "Payment request sent", awaited: "the payment request to be sent" },
	requestReceived: { done: "Payments received the request", awaited: "payments to receive the request" },
	paymentDecided: { done: "Payment decided", awaited: "payments to decide" },
	requestConfirmed: { done: "Payments confirmed the request", awaited: "payments to confirm the request" },
	resultEmitted: { done: "Payment result sent", awaited: "the payment result to be sent" },
	resultApplied: { done: "Order updated with the result", awaited: "orders to apply the result" },
	resultConfirmed: { done: "Orders confirmed the result", awaited: "orders to confirm the result" },
	pushed: { done: "Status pushed to the browser", awaited: "the status push" },
	cancelRequested: { done: "Cancel requested", awaited: "the cancel request" },
	refunded: { done: "Money refunded", awaited: "the refund" }
};

/** "Payment request sent"; a step newer than this UI is shown by its name. */
export function stepText(step: JourneyStep): string {
	return STEP_TEXT[step]?.done ?? step;
}

/** "Waiting for payments to confirm the request". */
export function waitingText(step: JourneyStep): string {
	return `Waiting for ${STEP_TEXT[step]?.awaited ?? step}`;
}

/** "85 ms", "1.2 s", "2 min 5 s", "3 h 20 min". */
export function formatDuration(ms: number): string {
	if (ms < 1_000) return `${Math.round(ms)} ms`;
	if (ms < 9_950) return `${(ms / 1_000).toFixed(1)} s`;
	const wholeSeconds = Math.round(ms / 1_000);
	if (wholeSeconds < 60) return `${wholeSeconds} s`;
	if (wholeSeconds < 3_600) return `${Math.floor(wholeSeconds / 60)} min ${wholeSeconds % 60} s`;
	return `${Math.floor(wholeSeconds / 3_600)} h ${Math.floor((wholeSeconds % 3_600) / 60)} min`;
}

const timeOfDayFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3 });

/** "08:40:01.123": hops are milliseconds apart. */
export function formatTimeOfDay(iso: string): string {
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? iso : timeOfDayFormat.format(date);
}

/** How long after its order ends a journey may still gain hops (the result's confirmation). */
const SETTLING_MS = 60_000;

/** Whether the journey may still change: the order is NEW, or ended moments ago and its result is not confirmed yet. */
export function isSettling(journey: Journey, now = Date.now()): boolean {
	if (journey.order.status === "NEW") return true;
	const confirmed = journey.hops.some(hop => hop.step === "resultConfirmed");
	return !confirmed && now - Date.parse(journey.order.updatedAt) < SETTLING_MS;
}
