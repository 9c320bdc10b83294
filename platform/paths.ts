import { existsSync } from "node:fs";
import path from "node:path";

/** The project's root folder, from the sources (platform/) or the compiled code (dist/platform/). */
export const PROJECT_ROOT = path.resolve(__dirname, existsSync(path.resolve(__dirname, "../package.json")) ? ".." : "../..");
