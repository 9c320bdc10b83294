import type { LiveStatus } from "../live";
import { LiveIndicator } from "./LiveIndicator";

interface SessionBarProps {
	userId: string;
	/** Whether what the page shows is kept current; subject: what is (default: order updates). */
	live?: { status: LiveStatus; subject?: string };
	onSwitchUser(): void;
}

/** Who is signed in, whether updates are live, and the way out. */
export function SessionBar({ userId, live, onSwitchUser }: SessionBarProps) {
	return (
		<>
			{live && <LiveIndicator status={live.status} subject={live.subject} />}
			<p className="session__user">
				<span className="visually-hidden">Signed in as </span>
				<span data-testid="current-user">{userId}</span>
			</p>
			<button type="button" className="button button--quiet" onClick={onSwitchUser}>
				Switch user
			</button>
		</>
	);
}
