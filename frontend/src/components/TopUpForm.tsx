import { useState, type FormEvent } from "react";
import type { Account, ApiClient } from "../api";
import { useField } from "../hooks/useField";
import { useSubmission } from "../hooks/useSubmission";
import { formatMoney, parseAmount } from "../money";
import { Alert } from "./Alert";
import { TextField } from "./TextField";

interface TopUpFormProps {
	api: ApiClient;
	onToppedUp(account: Account): Promise<void>;
}

export function TopUpForm({ api, onToppedUp }: TopUpFormProps) {
	const amount = useField();
	const [confirmation, setConfirmation] = useState("");
	const submission = useSubmission();

	// Never rejects (submission.run shows a failure as the form's error): the form's event handler drops it.
	async function handleSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
		event.preventDefault();
		setConfirmation("");
		const check = parseAmount(amount.value);
		if (!check.ok) {
			amount.setError(check.message);
			amount.focus();
			return;
		}
		const account = await submission.run(() => api.topUp(check.amount));
		if (account === undefined) return;
		amount.setValue("");
		setConfirmation(`Added ${formatMoney(check.amount)}.`);
		await onToppedUp(account);
	}

	return (
		<form className="stack" onSubmit={event => void handleSubmit(event)} noValidate aria-busy={submission.pending}>
			<TextField {...amount.props} label="Top-up amount" inputMode="decimal" autoComplete="off" />
			{submission.error && <Alert>{submission.error}</Alert>}
			<button type="submit" className="button button--primary" disabled={submission.pending}>
				Top up
			</button>
			<p className="confirmation" role="status">
				{confirmation}
			</p>
		</form>
	);
}
