import type { ReactNode } from "react";

/** An error message, announced as soon as it appears. */
export function Alert({ children }: { children: ReactNode }) {
	return (
		<p className="alert" role="alert">
			{children}
		</p>
	);
}
