import { useCallback, useState } from "react";
import { errorMessage, isForbidden, type ReplayResult } from "../api";
import { useDeadEventsQuery, useMeQuery, useOnForbidden, useOutboxQuery, usePollingStatus } from "../hooks/queries";
import type { LiveStatus } from "../live";
import { ORDERS_PATH } from "../paths";
import { ApiSession, useApi } from "../session";
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
export function OpsPage(props: OpsPageProps) {
	return (
		<ApiSession userId={props.userId}>
			<OpsPageContent {...props} />
		</ApiSession>
	);
}

function OpsPageContent({ userId, onSwitchUser }: OpsPageProps) {
	const me = useMeQuery();
	const [refused, setRefused] = useState(false);
	const refuse = useCallback(() => setRefused(true), []);

	if (me.data?.operator && !refused) {
		return <OperatorConsole userId={userId} onSwitchUser={onSwitchUser} onForbidden={refuse} />;
	}
	return (
		<div className="page">
			<OpsHeader userId={userId} onSwitchUser={onSwitchUser} />
			<main className="ops">
				{me.isPending && <p className="muted">Loading…</p>}
				{me.isError && (
					<section className="card">
						<Alert>{errorMessage(me.error)}</Alert>
						<button type="button" className="button" onClick={() => void me.refetch()}>
							Retry
						</button>
					</section>
				)}
				{me.isSuccess && (
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
	onForbidden(): void;
}

function OperatorConsole({ userId, onSwitchUser, onForbidden }: OperatorConsoleProps) {
	const api = useApi();
	const outbox = useOutboxQuery();
	const deadEvents = useDeadEventsQuery();
	const status = usePollingStatus([outbox, deadEvents]);
	const failure = outbox.error ?? deadEvents.error;
	const error = failure && errorMessage(failure);
	const overview = outbox.data;
	// A read in flight is dropped for a new one: it may predate what just changed (a replay).
	const refresh = () => Promise.all([outbox.refetch(), deadEvents.refetch()]);
	const [confirming, setConfirming] = useState<ReplayRequest | null>(null);
	const [notes, setNotes] = useState<Record<string, ReplayNote>>({});
	const cancelReplay = useCallback(() => setConfirming(null), []);
	useOnForbidden(failure, onForbidden);

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
										deadEvents={(deadEvents.data ?? []).filter(event => event.service === ops.service)}
										note={notes[ops.service]}
										onReplay={setConfirming}
									/>
								))}
							</div>
						)}
					</section>
					<JourneyFinder onForbidden={onForbidden} />
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
