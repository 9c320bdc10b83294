import { useState } from "react";
import { AppHeader } from "./components/AppHeader";
import { Dashboard } from "./components/Dashboard";
import { SignInForm } from "./components/SignInForm";
import { forgetUserId, loadUserId, saveUserId } from "./userId";

export function App() {
	const [userId, setUserId] = useState(loadUserId);

	if (userId === null) {
		return (
			<div className="page">
				<AppHeader />
				<SignInForm
					onSignIn={signedIn => {
						saveUserId(signedIn);
						setUserId(signedIn);
					}}
				/>
			</div>
		);
	}
	return (
		<Dashboard
			key={userId}
			userId={userId}
			onSwitchUser={() => {
				forgetUserId();
				setUserId(null);
			}}
		/>
	);
}
