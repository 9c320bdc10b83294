/** The gateway's authenticator as the configuration in `env` makes it (tests of authentication). */
import { loadConfiguration } from "../../platform/config";
import { createAuthenticator, type Authenticator } from "../../services/api/authentication";

export function authenticatorFor(env: NodeJS.ProcessEnv): Authenticator {
	return createAuthenticator(loadConfiguration(env).authentication);
}
