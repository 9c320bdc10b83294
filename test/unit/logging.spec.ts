import { describe, expect, it } from "vitest";
import { eventLogFields, formatJsonLine, loggerOptions } from "../../platform/logging";
import { loadConfiguration } from "../../platform/config";

const printArgs = (args: unknown[]) => args.map(arg => (typeof arg === "object" ? JSON.stringify(arg) : arg));
const format = (args: unknown[]) => JSON.parse(formatJsonLine("error", args, { nodeID: "n1", svc: "orders" }, { printArgs })[0]);

describe("JSON log lines", () => {
	it("turns a leading object into fields and keeps the message", () => {
		expect(format([{ orderId: "o1", eventId: "e1" }, "Order ended."])).toMatchObject({ level: "error", nodeID: "n1", svc: "orders", orderId: "o1", eventId: "e1", message: "Order ended." });
	});

	it("keeps an error's message and stack, also when the error comes first", () => {
		const err = Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" });
		for (const line of [format([err]), format(["Failed:", err])]) {
			expect(line.error).toMatchObject({ name: "Error", message: "connection refused", code: "ECONNREFUSED" });
			expect(line.error.stack).toContain("connection refused");
		}
	});

	it("is chosen by LOG_FORMAT, json by default in production", () => {
		const formatter = (env: NodeJS.ProcessEnv) => (loggerOptions(loadConfiguration(env).logging) as unknown as { options: { formatter: unknown } }).options.formatter;
		expect(formatter({ NODE_ENV: "production" })).toBe(formatJsonLine);
		expect(formatter({ LOG_FORMAT: "json" })).toBe(formatJsonLine);
		expect(formatter({})).toBe("short");
	});

	it("names the order an event is about", () => {
		expect(eventLogFields("e1", "payment.requested", { orderId: "o1" })).toEqual({ eventId: "e1", event: "payment.requested", orderId: "o1" });
		expect(eventLogFields("e2", "outbox.confirmed", null)).toEqual({ eventId: "e2", event: "outbox.confirmed" });
		expect(eventLogFields("e3", "payment.processed", { orderId: "o3" }, "trace-3")).toEqual({ eventId: "e3", event: "payment.processed", orderId: "o3", requestId: "trace-3" });
		expect(eventLogFields("e4", "payment.processed", null, null)).toEqual({ eventId: "e4", event: "payment.processed" });
	});
});
