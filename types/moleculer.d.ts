/** What our actions declare beyond Moleculer's own schema. */
import "moleculer";
import type { OpenApiOperationDoc } from "../lib/openapi";

declare module "moleculer" {
	interface ActionSchema {
		/** Documentation of a REST action for the generated OpenAPI document (lib/openapi.ts). */
		openapi?: OpenApiOperationDoc;
	}
}
