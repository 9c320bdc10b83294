import { defineConfig } from "vitest/config";

// Back-end tests: node environment, real Postgres (embedded unless TEST_DATABASE_URL is set) and
// real RabbitMQ (TEST_TRANSPORTER). The front end, when it comes, keeps its own config.
export default defineConfig({
	test: {
		environment: "node",
		include: ["test/**/*.spec.ts"],
		// The fault suite stops the machine's RabbitMQ for a while: it runs alone (npm run test:faults).
		exclude: ["test/faults/**", "**/node_modules/**"],
		globalSetup: ["test/support/global-setup.ts"],
		testTimeout: 30_000,
		// expect.poll waits 1 s by default: too short for a browser or a cluster on a busy 2-core machine.
		expect: { poll: { timeout: 10_000 } },
		hookTimeout: 120_000,
		// Two cores: two files at a time keeps the brokers and Postgres from starving each other.
		maxWorkers: 2,
		reporters: ["default"]
	}
});
