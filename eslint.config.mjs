// ESLint for the server (moleculer.config.ts, services, mixins, platform, tools, test) and the front
// end (frontend/src), with typescript-eslint reading the types: each file is checked against the
// tsconfig that builds it. `npm run lint` fails on a warning too.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import jsxA11y from "eslint-plugin-jsx-a11y";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
	{ ignores: ["dist/", "frontend/dist/", "coverage/", "test-results/", ".data/"] },
	js.configs.recommended,
	tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: {
			parserOptions: {
				// The vitest configurations at the top level belong to no tsconfig.
				projectService: { allowDefaultProject: ["*.mts"] },
				tsconfigRootDir: import.meta.dirname
			}
		},
		rules: {
			// As tsc's noUnusedParameters: a name `_x` holds a place (a callback's parameter, a loop's variable).
			"@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
			// `async` without `await` is how this code returns a promise where one is expected (a
			// Moleculer lifecycle handler, umzug's storage, a test's stub or waitFor predicate), with a
			// throw turned into a rejection; a forgotten await is no-floating-promises' to find.
			"@typescript-eslint/require-await": "off",
			// Moleculer binds a service's methods to it, and callbacks are declared with method syntax in
			// props and options types and never use `this`: all 35 findings were one of these.
			"@typescript-eslint/unbound-method": "off"
		}
	},
	{
		files: ["**/*.{ts,mts,mjs}"],
		ignores: ["frontend/src/**"],
		languageOptions: { globals: globals.node }
	},
	{
		files: ["frontend/src/**/*.{ts,tsx}"],
		extends: [reactHooks.configs.flat.recommended, jsxA11y.flatConfigs.recommended],
		languageOptions: { globals: globals.browser }
	},
	{
		// Tests read the API's JSON answers and Moleculer's loosely typed results as `any` and let
		// `expect` check their shape: typing each of them would restate the contracts under test.
		files: ["test/**/*.ts"],
		rules: {
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-unsafe-argument": "off",
			"@typescript-eslint/no-unsafe-assignment": "off",
			"@typescript-eslint/no-unsafe-call": "off",
			"@typescript-eslint/no-unsafe-member-access": "off",
			"@typescript-eslint/no-unsafe-return": "off"
		}
	},
	{
		// This file is plain JavaScript, and the plugins it loads carry no types.
		files: ["*.mjs"],
		extends: [tseslint.configs.disableTypeChecked]
	}
);
