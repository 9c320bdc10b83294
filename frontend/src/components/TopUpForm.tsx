import { useRef, useState, type FormEvent } from "react";
import type { Account, ApiClient } from "../api";
import { useSubmission } from "../hooks/useSubmission";
import { formatMoney, parseAmount } from "../money";
import { Alert } from "./Alert";
import { TextField } from "./TextField";

interface TopUpFormProps {
	api: ApiClient;
	onToppedUp(account: Account): void;
}

export function TopUpForm({ api, onToppedUp }: TopUpFormProps) {
	const [amountInput, setAmountInput] = useState("");
	const [amountError, setAmountError] = useState<string | null>(null);
	const [confirmation, setConfirmation] = useState("");
	const submission = useSubmission();
	const amountRef = useRef<HTMLInputElement>(null);

	async function handleSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
		event.preventDefault();
		setConfirmation("");
		const check = parseAmount(amountInput);
		if (!check.ok) {
			setAmountError(check.message);
			amountRef.current?.focus();
			return;
		}
		const account = await submission.run(() => api.topUp(check.amount));
		if (account === undefined) return;
		setAmountInput("");
		setConfirmation(`Added ${formatMoney(check.amount)}.`);
		onToppedUp(account);
	}

	return (
		<form className="stack" onSubmit={handleSubmit} noValidate aria-busy={submission.pending}>
			<TextField
				ref={amountRef}
				label="Top-up amount"
				inputMode="decimal"
				autoComplete="off"
				value={amountInput}
				error={amountError}
				onChange={event => {
					setAmountInput(event.target.value);
					setAmountError(null);
				}}
			/>
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
