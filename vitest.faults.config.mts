import { defineConfig } from "vitest/config";

// `npm run test:faults`: the fault suites alone (they stop and start the machine's RabbitMQ, and
// broker-cluster.spec.ts runs three RabbitMQ nodes of its own beside it), one file at a time.
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
