import { existsSync } from "node:fs";
import path from "node:path";

/** The project's root folder, from the sources (lib/) or the compiled code (dist/lib/). */
export const PROJECT_ROOT = path.resolve(__dirname, existsSync(path.resolve(__dirname, "../package.json")) ? ".." : "../..");
