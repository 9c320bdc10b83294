import type { LiveStatus } from "../live";
import { LiveIndicator } from "./LiveIndicator";

interface SessionBarProps {
	userId: string;
	liveStatus: LiveStatus;
	onSwitchUser(): void;
}

/** Who is signed in, whether updates are live, and the way out. */
export function SessionBar({ userId, liveStatus, onSwitchUser }: SessionBarProps) {
	return (
		<>
			<LiveIndicator status={liveStatus} />
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
