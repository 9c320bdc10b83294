import { useState } from "react";
import { AppHeader } from "./components/AppHeader";
import { Dashboard } from "./components/Dashboard";
import { OpsPage } from "./components/OpsPage";
import { SignInForm } from "./components/SignInForm";
import { isOpsPath } from "./paths";
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
	// The gateway serves the app at /ops too; a link between the pages is a full load.
	const Page = isOpsPath(window.location.pathname) ? OpsPage : Dashboard;
	return (
		<Page
			key={userId}
			userId={userId}
			onSwitchUser={() => {
				forgetUserId();
				setUserId(null);
			}}
		/>
	);
}
