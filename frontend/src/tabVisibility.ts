/**
 * Follows whether the tab is shown: calls `hidden` or `shown` for the state it is in now, then at
 * each change. Live views stop their requests while hidden: browsers allow only six HTTP/1.1
 * connections per host, and a few background tabs each holding one would block every request.
 * Returns the function that stops following.
 */
export function followTabVisibility(handlers: { shown(): void; hidden(): void }): () => void {
	let wasHidden: boolean | undefined;
	function follow(): void {
		const hidden = document.visibilityState === "hidden";
		if (hidden === wasHidden) return;
		wasHidden = hidden;
		if (hidden) handlers.hidden();
		else handlers.shown();
	}
	document.addEventListener("visibilitychange", follow);
	follow();
	return () => document.removeEventListener("visibilitychange", follow);
}
