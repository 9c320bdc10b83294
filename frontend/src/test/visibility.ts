import { vi } from "vitest";

/** Shows or hides the tab, as switching tabs or minimising the window does (restored after each test). */
export function setVisibility(state: DocumentVisibilityState): void {
	vi.spyOn(document, "visibilityState", "get").mockReturnValue(state);
	document.dispatchEvent(new Event("visibilitychange"));
}
