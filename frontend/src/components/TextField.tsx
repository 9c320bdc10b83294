import { useId, type ComponentPropsWithRef } from "react";

interface TextFieldProps extends Omit<ComponentPropsWithRef<"input">, "id" | "aria-invalid" | "aria-describedby"> {
	label: string;
	/** Shown under the input and announced; marks the input invalid. */
	error?: string | null;
	hint?: string;
}

/** A labelled text input with its hint and error wired up for screen readers. */
export function TextField({ label, error, hint, className, ...inputProps }: TextFieldProps) {
	const id = useId();
	const hintId = `${id}-hint`;
	const errorId = `${id}-error`;
	const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ");
	return (
		<div className={["field", className].filter(Boolean).join(" ")}>
			<label className="field__label" htmlFor={id}>
				{label}
			</label>
			<input id={id} className="field__input" aria-invalid={error ? true : undefined} aria-describedby={describedBy || undefined} {...inputProps} />
			{hint && (
				<p id={hintId} className="field__hint">
					{hint}
				</p>
			)}
			{error && (
				<p id={errorId} className="field__error" role="alert">
					{error}
				</p>
			)}
		</div>
	);
}
