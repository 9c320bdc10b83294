import { defineConfig } from "vitest/config";

// `npm run test:faults`: the fault suite alone (it stops and starts the machine's RabbitMQ).
export default defineConfig({
	test: {
		environment: "node",
		include: ["test/faults/**/*.spec.ts"],
		globalSetup: ["test/support/global-setup.ts"],
		testTimeout: 900_000,
		hookTimeout: 120_000,
		maxWorkers: 1
	}
});
