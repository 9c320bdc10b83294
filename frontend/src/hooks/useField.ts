import { useRef, useState, type ChangeEvent } from "react";

/**
 * One form field's state: its text, its error (cleared as soon as the person types) and a ref to
 * focus it. `props` spreads onto a TextField.
 */
export function useField() {
	const [value, setValue] = useState("");
	const [error, setError] = useState<string | null>(null);
	const ref = useRef<HTMLInputElement>(null);
	return {
		value,
		setValue,
		setError,
		focus: () => ref.current?.focus(),
		props: {
			ref,
			value,
			error,
			onChange: (event: ChangeEvent<HTMLInputElement>) => {
				setValue(event.target.value);
				setError(null);
			}
		}
	};
}
