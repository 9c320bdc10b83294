import "@testing-library/jest-dom/vitest";
import { notifyManager } from "@tanstack/react-query";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

// TanStack Query tells components of new data in a timer by default, which tests with fake timers
// would have to advance once more after every answer; a microtask comes with the answer itself.
notifyManager.setScheduler(queueMicrotask);

// Without vitest globals Testing Library cannot register its own cleanup.
afterEach(() => {
	cleanup();
	vi.restoreAllMocks();
	vi.useRealTimers();
	localStorage.clear();
});
