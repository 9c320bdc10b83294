import { useRef, useState, type FormEvent } from "react";
import type { ApiClient, Order } from "../api";
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
	const [amountInput, setAmountInput] = useState("");
	const [descriptionInput, setDescriptionInput] = useState("");
	const [amountError, setAmountError] = useState<string | null>(null);
	const [descriptionError, setDescriptionError] = useState<string | null>(null);
	const [confirmation, setConfirmation] = useState("");
	const submission = useSubmission();
	const amountRef = useRef<HTMLInputElement>(null);
	const descriptionRef = useRef<HTMLInputElement>(null);

	async function handleSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
		event.preventDefault();
		setConfirmation("");
		const amount = parseAmount(amountInput);
		const descriptionProblem = checkDescription(descriptionInput);
		setAmountError(amount.ok ? null : amount.message);
		setDescriptionError(descriptionProblem);
		if (!amount.ok) {
			amountRef.current?.focus();
			return;
		}
		if (descriptionProblem !== null) {
			descriptionRef.current?.focus();
			return;
		}
		const order = await submission.run(() => api.placeOrder({ amount: amount.amount, description: descriptionInput.trim() }));
		if (order === undefined) return;
		setAmountInput("");
		setDescriptionInput("");
		setConfirmation("Order placed.");
		onPlaced(order);
	}

	return (
		<form className="card stack" onSubmit={handleSubmit} noValidate aria-labelledby="order-form-title" aria-busy={submission.pending}>
			<h2 id="order-form-title">New order</h2>
			<div className="order-form__fields">
				<TextField
					ref={amountRef}
					className="order-form__amount"
					label="Order amount"
					inputMode="decimal"
					autoComplete="off"
					value={amountInput}
					error={amountError}
					onChange={event => {
						setAmountInput(event.target.value);
						setAmountError(null);
					}}
				/>
				<TextField
					ref={descriptionRef}
					className="order-form__description"
					label="Description"
					autoComplete="off"
					value={descriptionInput}
					error={descriptionError}
					onChange={event => {
						setDescriptionInput(event.target.value);
						setDescriptionError(null);
					}}
				/>
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
