import { useEffect, useId, useState, type ReactNode, type RefObject } from "react";

interface DialogProps {
	title: string;
	/** "alertdialog" for a question that needs an answer. */
	role?: "dialog" | "alertdialog";
	/** Read out with the title when the dialog opens (a question's details). */
	description?: string;
	/** What gets the focus on opening (a Close or Cancel button). */
	initialFocus: RefObject<HTMLElement | null>;
	onClose(): void;
	children: ReactNode;
}

/**
 * A modal dialog: focus moves in, Escape or a click beside it closes it, and focus goes back to
 * what opened it. The caller makes the page behind it inert.
 */
export function Dialog({ title, role = "dialog", description, initialFocus, onClose, children }: DialogProps) {
	const titleId = useId();
	const descriptionId = useId();
	// The opener is read at the first render: by the time an effect runs again (StrictMode) focus is
	// already in the dialog.
	const [opener] = useState(() => (document.activeElement instanceof HTMLElement ? document.activeElement : null));
	useEffect(() => {
		initialFocus.current?.focus();
		return () => opener?.focus();
	}, [initialFocus, opener]);

	useEffect(() => {
		function closeOnEscape(event: KeyboardEvent): void {
			if (event.key === "Escape") onClose();
		}
		document.addEventListener("keydown", closeOnEscape);
		return () => document.removeEventListener("keydown", closeOnEscape);
	}, [onClose]);

	return (
		// A click beside the dialog is the pointer's way to close it; the keyboard's is Escape (above).
		// eslint-disable-next-line jsx-a11y/click-events-have-key-events, jsx-a11y/no-static-element-interactions
		<div className="dialog-backdrop" onClick={event => event.target === event.currentTarget && onClose()}>
			<div className="dialog card" role={role} aria-modal="true" aria-labelledby={titleId} aria-describedby={description && descriptionId}>
				<h2 id={titleId}>{title}</h2>
				{description && <p id={descriptionId}>{description}</p>}
				{children}
			</div>
		</div>
	);
}
