/**
 * A job a service runs on a timer (retention, reconciliation): never two runs at once in one
 * process (a tick during a run is skipped), a run asked for by hand waits for the one in flight,
 * and `stop` cancels the timer and waits for the run in flight, so that nothing touches the
 * database once the service has stopped. A failed tick is handed to `onError`, never thrown.
 */
export class PeriodicJob {
	private timer: NodeJS.Timeout | null = null;
	private inFlight: Promise<unknown> | null = null;

	constructor(
		private readonly intervalMs: number,
		private readonly tick: () => Promise<unknown>,
		private readonly onError: (err: unknown) => void
	) {}

	start(): void {
		if (this.timer) return;
		this.timer = setInterval(() => {
			if (!this.inFlight) this.exclusive(this.tick).catch(this.onError);
		}, this.intervalMs);
	}

	/** Runs `work` once the run in flight (if any) is over; ticks are skipped until it is done too. */
	exclusive<T>(work: () => Promise<T>): Promise<T> {
		const run = (this.inFlight ?? Promise.resolve()).then(work);
		const settled = run.then(
			() => undefined,
			() => undefined
		);
		this.inFlight = settled;
		void settled.then(() => {
			if (this.inFlight === settled) this.inFlight = null;
		});
		return run;
	}

	/** Stops the timer and waits for the runs in flight; safe to call twice. */
	async stop(): Promise<void> {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		while (this.inFlight) await this.inFlight;
	}
}
