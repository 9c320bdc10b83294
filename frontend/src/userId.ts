/** Who the person says they are: the API's X-User-Id, remembered in this browser. */

const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,64}$/;
const STORAGE_KEY = "orders-payments.user-id";

export type UserIdCheck = { ok: true; userId: string } | { ok: false; message: string };

export function checkUserId(input: string): UserIdCheck {
	const userId = input.trim();
	if (userId === "") return { ok: false, message: "Enter your user ID." };
	if (userId.length > 64) return { ok: false, message: "A user ID has at most 64 characters." };
	if (!USER_ID_PATTERN.test(userId)) {
		return { ok: false, message: "A user ID may only contain letters, digits and the characters . _ : @ -" };
	}
	return { ok: true, userId };
}

// Storage can be unavailable (disabled, or a full quota); the app then simply forgets on reload.

export function loadUserId(): string | null {
	try {
		const stored = localStorage.getItem(STORAGE_KEY);
		return stored !== null && USER_ID_PATTERN.test(stored) ? stored : null;
	} catch {
		return null;
	}
}

export function saveUserId(userId: string): void {
	try {
		localStorage.setItem(STORAGE_KEY, userId);
	} catch {
		// see above
	}
}

export function forgetUserId(): void {
	try {
		localStorage.removeItem(STORAGE_KEY);
	} catch {
		// see above
	}
}
