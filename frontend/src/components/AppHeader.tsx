import type { ReactNode } from "react";

/** The page's banner; once signed in it also holds the user's controls. */
export function AppHeader({ children }: { children?: ReactNode }) {
	return (
		<header className="app-header">
			<h1 className="app-header__title">Orders &amp; Payments</h1>
			{children && <div className="app-header__session">{children}</div>}
		</header>
	);
}
