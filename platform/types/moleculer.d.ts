/** What our actions declare beyond Moleculer's own schema. */
import "moleculer";
import type { OpenApiOperationDoc } from "../../services/api/openapi";

declare module "moleculer" {
	interface ActionSchema {
		/** Documentation of a REST action for the generated OpenAPI document (services/api/openapi.ts). */
		openapi?: OpenApiOperationDoc;
	}
}
