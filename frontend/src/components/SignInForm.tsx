import { useRef, useState, type FormEvent } from "react";
import { checkUserId } from "../userId";
import { TextField } from "./TextField";

/** Asks who the person is; there is no password, the API trusts X-User-Id. */
export function SignInForm({ onSignIn }: { onSignIn(userId: string): void }) {
	const [input, setInput] = useState("");
	const [error, setError] = useState<string | null>(null);
	const inputRef = useRef<HTMLInputElement>(null);

	function handleSubmit(event: FormEvent<HTMLFormElement>): void {
		event.preventDefault();
		const check = checkUserId(input);
		if (!check.ok) {
			setError(check.message);
			inputRef.current?.focus();
			return;
		}
		onSignIn(check.userId);
	}

	return (
		<main className="sign-in">
			<form className="card sign-in__form" onSubmit={handleSubmit} noValidate aria-labelledby="sign-in-title">
				<h2 id="sign-in-title">Who are you?</h2>
				<TextField
					ref={inputRef}
					label="User ID"
					hint="1-64 letters, digits or . _ : @ -"
					name="userId"
					autoFocus
					autoComplete="username"
					autoCapitalize="none"
					autoCorrect="off"
					spellCheck={false}
					value={input}
					error={error}
					onChange={event => {
						setInput(event.target.value);
						setError(null);
					}}
				/>
				<button type="submit" className="button button--primary">
					Continue
				</button>
			</form>
		</main>
	);
}
