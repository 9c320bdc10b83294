import { useState, type FormEvent } from "react";
import type { ApiClient, Order } from "../api";
import { useField } from "../hooks/useField";
import { useSubmission } from "../hooks/useSubmission";
import { parseAmount } from "../money";
import { Alert } from "./Alert";
import { TextField } from "./TextField";

const MAX_DESCRIPTION_LENGTH = 500;

interface OrderFormProps {
	api: ApiClient;
	onPlaced(order: Order): void;
}

function checkDescription(input: string): string | null {
	const description = input.trim();
	if (description === "") return "Enter a description.";
	if (description.length > MAX_DESCRIPTION_LENGTH) {
		return `The description can be at most ${MAX_DESCRIPTION_LENGTH} characters (it has ${description.length}).`;
	}
	return null;
}

export function OrderForm({ api, onPlaced }: OrderFormProps) {
	const amountField = useField();
	const descriptionField = useField();
	const [confirmation, setConfirmation] = useState("");
	const submission = useSubmission();

	// Never rejects (submission.run shows a failure as the form's error): the form's event handler drops it.
	async function handleSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
		event.preventDefault();
		setConfirmation("");
		const amount = parseAmount(amountField.value);
		const descriptionProblem = checkDescription(descriptionField.value);
		amountField.setError(amount.ok ? null : amount.message);
		descriptionField.setError(descriptionProblem);
		if (!amount.ok) {
			amountField.focus();
			return;
		}
		if (descriptionProblem !== null) {
			descriptionField.focus();
			return;
		}
		const order = await submission.run(() => api.placeOrder({ amount: amount.amount, description: descriptionField.value.trim() }));
		if (order === undefined) return;
		amountField.setValue("");
		descriptionField.setValue("");
		setConfirmation("Order placed.");
		onPlaced(order);
	}

	return (
		<form className="card stack" onSubmit={event => void handleSubmit(event)} noValidate aria-labelledby="order-form-title" aria-busy={submission.pending}>
			<h2 id="order-form-title">New order</h2>
			<div className="order-form__fields">
				<TextField {...amountField.props} className="order-form__amount" label="Order amount" inputMode="decimal" autoComplete="off" />
				<TextField {...descriptionField.props} className="order-form__description" label="Description" autoComplete="off" />
			</div>
			{submission.error && <Alert>{submission.error}</Alert>}
			<button type="submit" className="button button--primary" disabled={submission.pending}>
				Place order
			</button>
			<p className="confirmation" role="status">
				{confirmation}
			</p>
		</form>
	);
}
