/**
 * What a run has to undo (processes, databases, queues, data folders), undone in reverse order
 * at the end, also after a failure or Ctrl-C. Each step runs once; a failing step is reported
 * and the others still run. Runs queue behind each other, so that a second caller (the end of
 * the run after a Ctrl-C) waits until the first has finished.
 */
export class Teardown {
	private readonly steps: { label: string; undo: () => Promise<void> }[] = [];
	private running: Promise<void> = Promise.resolve();

	add(label: string, undo: () => Promise<void>): void {
		this.steps.push({ label, undo });
	}

	/** Runs the steps added since `mark` (all by default), newest first. */
	run(mark = 0): Promise<void> {
		this.running = this.running.then(() => this.undoSince(mark));
		return this.running;
	}

	/** A mark for `run(mark)`: undo only what a phase added. */
	get mark(): number {
		return this.steps.length;
	}

	private async undoSince(mark: number): Promise<void> {
		while (this.steps.length > mark) {
			const step = this.steps.pop()!;
			try {
				await step.undo();
			} catch (err) {
				console.error(`bench | cleanup "${step.label}" failed: ${(err as Error).message}`);
			}
		}
	}
}
