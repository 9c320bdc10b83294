declare module "swagger-ui-dist" {
	/** The folder of Swagger UI's static files. */
	export function getAbsoluteFSPath(): string;
}
