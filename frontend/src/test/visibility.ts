import { vi } from "vitest";

/** Shows or hides the tab, as switching tabs or minimising the window does (restored after each test). */
export function setVisibility(state: DocumentVisibilityState): void {
	vi.spyOn(document, "visibilityState", "get").mockReturnValue(state);
	// Bubbling to window, as browsers fire it: TanStack Query listens there.
	document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
}
