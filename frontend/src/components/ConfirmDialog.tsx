import { useRef } from "react";
import { Dialog } from "./Dialog";

interface ConfirmDialogProps {
	title: string;
	question: string;
	confirmLabel: string;
	/** The button that changes nothing; "Cancel" unless that would be ambiguous (cancelling an order). */
	dismissLabel?: string;
	onConfirm(): void;
	onCancel(): void;
}

/** Asks before doing something that acts on the system; Cancel has the focus, so Enter changes nothing. */
export function ConfirmDialog({ title, question, confirmLabel, dismissLabel = "Cancel", onConfirm, onCancel }: ConfirmDialogProps) {
	const cancelButton = useRef<HTMLButtonElement>(null);
	return (
		<Dialog role="alertdialog" title={title} description={question} initialFocus={cancelButton} onClose={onCancel}>
			<div className="dialog__actions">
				<button type="button" className="button button--primary" onClick={onConfirm}>
					{confirmLabel}
				</button>
				<button ref={cancelButton} type="button" className="button" onClick={onCancel}>
					{dismissLabel}
				</button>
			</div>
		</Dialog>
	);
}
