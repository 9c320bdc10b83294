import { describe, expect, it, vi } from "vitest";
import type { LiveStatus } from "./live";
import { startPolling } from "./polling";
import { deferred } from "./test/fakeServer";
import { setVisibility } from "./test/visibility";

describe("startPolling", () => {
	it("never runs two polls at once: a tick during a slow one is skipped", async () => {
		vi.useFakeTimers();
		const answers = [deferred<boolean>()];
		const poll = vi.fn(() => answers[answers.length - 1].promise);
		const poller = startPolling({ intervalMs: 1_000, poll, onStatusChange: () => undefined });
		await vi.advanceTimersByTimeAsync(5_000);
		expect(poll).toHaveBeenCalledTimes(1);
		answers.push(deferred<boolean>());
		answers[0].resolve(true);
		await vi.advanceTimersByTimeAsync(1_000);
		expect(poll).toHaveBeenCalledTimes(2);
		poller.stop();
	});

	it("polls once more after the poll in flight when asked to poll now, since that answer may predate a change", async () => {
		const first = deferred<boolean>();
		const poll = vi.fn().mockReturnValueOnce(first.promise).mockResolvedValue(true);
		const poller = startPolling({ intervalMs: 60_000, poll, onStatusChange: () => undefined });
		const done = poller.pollNow();
		first.resolve(true);
		await done;
		expect(poll).toHaveBeenCalledTimes(2);
		poller.stop();
	});

	it("reports live, failing and paused, and says nothing of a poll that ends while hidden", async () => {
		const statuses: LiveStatus[] = [];
		const answer = deferred<boolean>();
		const poll = vi.fn().mockReturnValueOnce(answer.promise).mockResolvedValue(false);
		const poller = startPolling({ intervalMs: 60_000, poll, onStatusChange: status => statuses.push(status) });
		setVisibility("hidden");
		answer.resolve(true);
		await Promise.resolve();
		setVisibility("visible");
		await vi.waitFor(() => expect(statuses).toEqual(["connecting", "paused", "connecting", "reconnecting"]));
		poller.stop();
	});
});
