import type { FormEvent } from "react";
import { useField } from "../hooks/useField";
import { checkUserId } from "../userId";
import { TextField } from "./TextField";

/** Asks who the person is; there is no password, the API trusts X-User-Id. */
export function SignInForm({ onSignIn }: { onSignIn(userId: string): void }) {
	const userId = useField();

	function handleSubmit(event: FormEvent<HTMLFormElement>): void {
		event.preventDefault();
		const check = checkUserId(userId.value);
		if (!check.ok) {
			userId.setError(check.message);
			userId.focus();
			return;
		}
		onSignIn(check.userId);
	}

	return (
		<main className="sign-in">
			<form className="card sign-in__form" onSubmit={handleSubmit} noValidate aria-labelledby="sign-in-title">
				<h2 id="sign-in-title">Who are you?</h2>
				<TextField
					{...userId.props}
					label="User ID"
					hint="1-64 letters, digits or . _ : @ -"
					name="userId"
					// The page asks this one question, with only the site's title before it: typing starts here.
					// eslint-disable-next-line jsx-a11y/no-autofocus
					autoFocus
					autoComplete="username"
					autoCapitalize="none"
					autoCorrect="off"
					spellCheck={false}
				/>
				<button type="submit" className="button button--primary">
					Continue
				</button>
			</form>
		</main>
	);
}
