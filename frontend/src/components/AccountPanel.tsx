import { ApiError, ErrorType, NO_ACCOUNT_MESSAGE, type ApiClient } from "../api";
import type { AccountModel } from "../hooks/useAccount";
import { useSubmission } from "../hooks/useSubmission";
import { formatMoney } from "../money";
import { Alert } from "./Alert";
import { TopUpForm } from "./TopUpForm";

interface AccountPanelProps {
	api: ApiClient;
	account: AccountModel;
}

/** Balance and top-up, or the way to open an account. */
export function AccountPanel({ api, account }: AccountPanelProps) {
	const { state } = account;
	return (
		<section className="card" aria-labelledby="account-title">
			<h2 id="account-title">Account</h2>
			{state.kind === "loading" && <p className="muted">Loading…</p>}
			{state.kind === "missing" && <CreateAccount api={api} account={account} />}
			{state.kind === "failed" && (
				<>
					<Alert>{state.message}</Alert>
					<button type="button" className="button" onClick={() => void account.reload()}>
						Retry
					</button>
				</>
			)}
			{state.kind === "ready" && (
				<>
					<p className="balance">
						<span className="balance__label">Balance</span>
						<strong className="balance__amount" data-testid="balance">
							{formatMoney(state.balance)}
						</strong>
					</p>
					{state.refreshError && <Alert>{state.refreshError}</Alert>}
					<TopUpForm api={api} onToppedUp={account.show} />
				</>
			)}
		</section>
	);
}

function CreateAccount({ api, account }: AccountPanelProps) {
	const submission = useSubmission();

	async function create(): Promise<void> {
		const created = await submission.run(async () => {
			try {
				return await api.createAccount();
			} catch (error) {
				// Opened meanwhile (another tab): nothing to report, just show it.
				if (error instanceof ApiError && error.type === ErrorType.accountExists) {
					await account.reload();
					return undefined;
				}
				throw error;
			}
		});
		if (created !== undefined) await account.show(created);
	}

	return (
		<>
			<Alert>{NO_ACCOUNT_MESSAGE}</Alert>
			{submission.error && <Alert>{submission.error}</Alert>}
			<button type="button" className="button button--primary" disabled={submission.pending} onClick={() => void create()}>
				Create account
			</button>
		</>
	);
}
