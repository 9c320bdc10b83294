/**
 * Swagger UI at /docs, from the `swagger-ui-dist` package, reading /openapi.json. Served by
 * moleculer-web alias functions (raw request and response).
 */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
// Only the path helper: the package's index loads the whole UI bundle into the server (~40 MB).
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path";

const ASSETS: Record<string, string> = {
	"swagger-ui.css": "text/css; charset=utf-8",
	"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
	"swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
	"favicon-32x32.png": "image/png"
};

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
<script>window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });</script>
</body>
</html>
`;

export function serveSwaggerUiPage(_req: IncomingMessage, res: ServerResponse): void {
	res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
	res.end(PAGE);
}

export function serveSwaggerUiAsset(req: IncomingMessage & { $params?: { file?: string } }, res: ServerResponse): void {
	const file = req.$params?.file ?? "";
	const contentType = ASSETS[file];
	if (!contentType) {
		res.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
		res.end(JSON.stringify({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" }));
		return;
	}
	res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "public, max-age=86400" });
	createReadStream(path.join(getAbsoluteFSPath(), file)).pipe(res);
}
