/**
 * Issue 14: only what the event itself causes may count towards parking it. Each class of
 * infrastructure error is an outage, also when a driver or Sequelize wraps it; a bug or a data
 * error is a failure.
 */
import { Errors } from "moleculer";
import { ConnectionAcquireTimeoutError, ConnectionRefusedError, HostNotFoundError } from "sequelize";
import { describe, expect, it } from "vitest";
import { FAILURE_KINDS, classifyFailure, isOutage } from "../../mixins/failure-classification";

const pgError = (code: string, message = "pg error") => Object.assign(new Error(message), { code, severity: "ERROR" });
const networkError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: "connect" });

describe("failure classification", () => {
	it.each([
		["08006 connection_failure", "08006"],
		["08001 sqlclient_unable_to_establish_sqlconnection", "08001"],
		["08P01 protocol_violation", "08P01"],
		["40001 serialization_failure", "40001"],
		["40P01 deadlock_detected", "40P01"],
		["53300 too_many_connections", "53300"],
		["53100 disk_full", "53100"],
		["53200 out_of_memory", "53200"],
		["57014 query_canceled (statement_timeout)", "57014"],
		["57P01 admin_shutdown", "57P01"],
		["57P02 crash_shutdown", "57P02"],
		["57P03 cannot_connect_now", "57P03"],
		["55P03 lock_not_available (lock_timeout)", "55P03"],
		["28P01 invalid_password", "28P01"],
		["3D000 invalid_catalog_name", "3D000"],
		["25006 read_only_sql_transaction (a demoted primary)", "25006"]
	])("a Postgres error of %s is an outage", (_name, code) => {
		expect(classifyFailure(pgError(code))).toBe(FAILURE_KINDS.OUTAGE);
	});

	it.each(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"])("the driver's %s is an outage", code => {
		expect(isOutage(networkError(code))).toBe(true);
	});

	it("pg's messages for a dead connection are outages", () => {
		for (const message of [
			"Connection terminated unexpectedly",
			"Connection terminated due to connection timeout",
			"Client has encountered a connection error and is not queryable",
			"timeout exceeded when trying to connect",
			"pool is draining and cannot accept work"
		]) {
			expect(isOutage(new Error(message)), message).toBe(true);
		}
	});

	it("Sequelize's connection errors are outages, with or without their cause", () => {
		expect(isOutage(new ConnectionRefusedError(networkError("ECONNREFUSED")))).toBe(true);
		expect(isOutage(new HostNotFoundError(networkError("ENOTFOUND")))).toBe(true);
		expect(isOutage(new ConnectionAcquireTimeoutError(new Error("Operation timeout")))).toBe(true);
	});

	it("an outage wrapped as a cause is still an outage", () => {
		expect(isOutage(new Error("applying failed", { cause: pgError("57P01") }))).toBe(true);
		expect(isOutage(Object.assign(new Error("wrapped"), { parent: pgError("40P01") }))).toBe(true);
	});

	it("Moleculer's retryable errors (timeouts, no instance) are outages, client errors are not", () => {
		expect(isOutage(new Errors.RequestTimeoutError({ action: "payments.x", nodeID: "n1" }))).toBe(true);
		expect(isOutage(new Errors.ServiceNotAvailableError({ action: "payments.x" }))).toBe(true);
		expect(isOutage(new Errors.MoleculerClientError("bad", 422, "BAD"))).toBe(false);
		expect(isOutage(new Errors.MoleculerServerError("a bug thrown as a server error", 500, "BUG"))).toBe(false);
	});

	it.each([
		["a bug", new TypeError("Cannot read properties of undefined (reading 'x')")],
		["a unique violation", pgError("23505")],
		["a check violation", pgError("23514")],
		["an invalid value", pgError("22P02")],
		["a missing column (a migration not applied)", pgError("42703")],
		["a thrown string", "boom"],
		["null", null]
	])("%s is a failure, not an outage", (_name, err) => {
		expect(classifyFailure(err)).toBe(FAILURE_KINDS.FAILURE);
	});

	it("does not loop on an error that is its own cause", () => {
		const err = new Error("self") as Error & { cause?: unknown };
		err.cause = err;
		expect(isOutage(err)).toBe(false);
	});
});
