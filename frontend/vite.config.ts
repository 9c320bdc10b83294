import react from "@vitejs/plugin-react";
import { defineConfig, type ProxyOptions } from "vite";

// The REST gateway in development; API_PROXY_TARGET points elsewhere (another port, a mock).
const GATEWAY = process.env.API_PROXY_TARGET ?? "http://localhost:3000";

/**
 * Two fixes to the dev proxy for the /api/events stream. It sends the response headers only with
 * the first body chunk, so a stream would look stalled until the first event or heartbeat. And
 * when the gateway drops a response midway it leaves the browser's open, so a stream cut by a
 * gateway restart would hang instead of reconnecting.
 */
const passEventStreamsThrough: ProxyOptions["configure"] = proxy => {
	proxy.on("proxyRes", (proxyRes, _req, res) => {
		proxyRes.on("close", () => {
			if (!res.writableEnded) res.destroy();
		});
		if (proxyRes.headers["content-type"]?.startsWith("text/event-stream")) {
			// The proxy copies status and headers onto `res` right after this event, in the same tick.
			process.nextTick(() => res.flushHeaders());
		}
	});
};

const gateway: ProxyOptions = { target: GATEWAY, configure: passEventStreamsThrough };

export default defineConfig({
	plugins: [react()],
	build: { outDir: "dist" },
	// `vite preview` uses the same proxy.
	server: { proxy: { "/api": gateway, "/health": gateway, "/ready": gateway } }
});
