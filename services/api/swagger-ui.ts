/**
 * Swagger UI at /docs, from the `swagger-ui-dist` package, reading /openapi.json. Served by
 * moleculer-web alias functions (raw request and response).
 *
 * Issue 15: `GET /docs/constructor` found a property inherited from Object.prototype in the asset
 * table, opened a read stream on a missing file and, with no error handler on it, killed the
 * process. Assets are looked up in a Map, and every stream has an error handler. The page runs no
 * inline script (its start-up code is an asset), so the page's CSP needs no 'unsafe-inline'.
 */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
// Only the path helper: the package's index loads the whole UI bundle into the server (~40 MB).
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path";
import { toPublicError } from "./public-errors";

const SWAGGER_UI_DIR = getAbsoluteFSPath();

const JAVASCRIPT = "application/javascript; charset=utf-8";

/** Files of the package, by the name they are served under. */
const PACKAGE_ASSETS: ReadonlyMap<string, string> = new Map([
	["swagger-ui.css", "text/css; charset=utf-8"],
	["swagger-ui-bundle.js", JAVASCRIPT],
	["swagger-ui-standalone-preset.js", JAVASCRIPT],
	["favicon-32x32.png", "image/png"]
]);

const INITIALIZER_NAME = "swagger-initializer.js";
const INITIALIZER = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });\n`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Orders &amp; Payments API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/${INITIALIZER_NAME}"></script>
</body>
</html>
`;

const NOT_FOUND = JSON.stringify({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" });

export function serveSwaggerUiPage(_req: IncomingMessage, res: ServerResponse): void {
	res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
	res.end(PAGE);
}

export function serveSwaggerUiAsset(req: IncomingMessage & { $params?: { file?: unknown } }, res: ServerResponse): void {
	const file = req.$params?.file;
	if (file === INITIALIZER_NAME) {
		res.writeHead(200, { "Content-Type": JAVASCRIPT, "Cache-Control": "no-cache" });
		res.end(INITIALIZER);
		return;
	}
	const contentType = typeof file === "string" ? PACKAGE_ASSETS.get(file) : undefined;
	if (contentType === undefined) {
		res.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
		res.end(NOT_FOUND);
		return;
	}
	const stream = createReadStream(path.join(SWAGGER_UI_DIR, file as string));
	// Headers wait for the file to open: a missing or unreadable file is still a clean answer.
	stream.once("open", () => {
		res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "public, max-age=86400" });
		stream.pipe(res);
	});
	// A packaged file missing or unreadable is our fault (500), and says nothing about the file system.
	stream.on("error", err => {
		if (res.headersSent) return void res.destroy();
		const { status, body } = toPublicError(err);
		res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
		res.end(JSON.stringify(body));
	});
	// A client that goes away mid-file closes the file too.
	res.once("close", () => stream.destroy());
}
