import { useCallback, useMemo, useState } from "react";
import { createApiClient, errorMessage, isForbidden, type ApiClient, type ReplayResult } from "../api";
import type { LiveStatus } from "../live";
import { useMe } from "../hooks/useMe";
import { useOperatorData } from "../hooks/useOperatorData";
import { ORDERS_PATH } from "../paths";
import { Alert } from "./Alert";
import { AppHeader } from "./AppHeader";
import { ConfirmDialog } from "./ConfirmDialog";
import { JourneyFinder } from "./JourneyFinder";
import { ServiceOpsCard, type ReplayNote, type ReplayRequest } from "./ServiceOpsCard";
import { SessionBar } from "./SessionBar";

interface OpsPageProps {
	userId: string;
	onSwitchUser(): void;
}

/**
 * The operator page (/ops): each service's outbox, its dead events to replay, and any order's
 * journey. The server decides who is an operator; anyone else, or anyone an admin route refuses
 * (403), gets a short "not available" and none of it.
 */
export function OpsPage({ userId, onSwitchUser }: OpsPageProps) {
	const api = useMemo(() => createApiClient(userId), [userId]);
	const me = useMe(api);
	const [refused, setRefused] = useState(false);
	const refuse = useCallback(() => setRefused(true), []);

	if (me.state.kind === "ready" && me.state.me.operator && !refused) {
		return <OperatorConsole api={api} userId={userId} onSwitchUser={onSwitchUser} onForbidden={refuse} />;
	}
	return (
		<div className="page">
			<OpsHeader userId={userId} onSwitchUser={onSwitchUser} />
			<main className="ops">
				{me.state.kind === "loading" && <p className="muted">Loading…</p>}
				{me.state.kind === "failed" && (
					<section className="card">
						<Alert>{me.state.message}</Alert>
						<button type="button" className="button" onClick={() => void me.reload()}>
							Retry
						</button>
					</section>
				)}
				{me.state.kind === "ready" && (
					<section className="card" data-testid="ops-not-available">
						<h2>Operator page</h2>
						<p>This page is for operators only, and not available to you.</p>
					</section>
				)}
			</main>
		</div>
	);
}

function OpsHeader({ userId, onSwitchUser, liveStatus }: OpsPageProps & { liveStatus?: LiveStatus }) {
	return (
		<AppHeader>
			<a className="app-header__link" href={ORDERS_PATH}>
				Your orders
			</a>
			<SessionBar userId={userId} live={liveStatus && { status: liveStatus, subject: "Outbox figures" }} onSwitchUser={onSwitchUser} />
		</AppHeader>
	);
}

function plural(count: number, noun: string): string {
	return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function replayedText(request: ReplayRequest, { service, replayed }: ReplayResult): string {
	if (replayed.length > 0) return `Replayed ${plural(replayed.length, "event")} of ${service}.`;
	return request.ids ? "Nothing replayed: the event was no longer dead." : `Nothing replayed: ${service} had no dead events left.`;
}

interface OperatorConsoleProps extends OpsPageProps {
	api: ApiClient;
	onForbidden(): void;
}

function OperatorConsole({ api, userId, onSwitchUser, onForbidden }: OperatorConsoleProps) {
	const { overview, deadEvents, error, status, refresh } = useOperatorData(api, onForbidden);
	const [confirming, setConfirming] = useState<ReplayRequest | null>(null);
	const [notes, setNotes] = useState<Record<string, ReplayNote>>({});
	const cancelReplay = useCallback(() => setConfirming(null), []);

	async function replay(request: ReplayRequest): Promise<void> {
		setConfirming(null);
		const note = (next: ReplayNote) => setNotes(previous => ({ ...previous, [request.service]: next }));
		note({ text: "Replaying…", failed: false });
		try {
			note({ text: replayedText(request, await api.replayDeadEvents(request.service, request.ids)), failed: false });
		} catch (failure) {
			if (isForbidden(failure)) onForbidden();
			note({ text: errorMessage(failure), failed: true });
		}
		await refresh();
	}

	return (
		<>
			<div className="page" inert={confirming !== null}>
				<OpsHeader userId={userId} onSwitchUser={onSwitchUser} liveStatus={status} />
				<main className="ops">
					<section className="ops__outbox" aria-labelledby="ops-outbox-title">
						<h2 id="ops-outbox-title">Outbox by service</h2>
						{error && (
							<div className="stack">
								<Alert>{error}</Alert>
								<button type="button" className="button" onClick={() => void refresh()}>
									Retry
								</button>
							</div>
						)}
						{!overview && !error && <p className="muted">Loading…</p>}
						{overview && (
							<div className="ops__services">
								{overview.services.map(ops => (
									<ServiceOpsCard
										key={ops.service}
										ops={ops}
										bucketSeconds={overview.bucketSeconds}
										deadEvents={deadEvents.filter(event => event.service === ops.service)}
										note={notes[ops.service]}
										onReplay={setConfirming}
									/>
								))}
							</div>
						)}
					</section>
					<JourneyFinder api={api} onForbidden={onForbidden} />
				</main>
			</div>
			{confirming && (
				<ConfirmDialog
					title={confirming.ids ? "Replay this dead event?" : `Replay all dead events of ${confirming.service}?`}
					question={confirming.question}
					confirmLabel={confirming.ids ? "Replay" : "Replay all"}
					onConfirm={() => void replay(confirming)}
					onCancel={cancelReplay}
				/>
			)}
		</>
	);
}
