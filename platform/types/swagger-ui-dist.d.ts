declare module "swagger-ui-dist/absolute-path" {
	/** The folder of Swagger UI's static files. */
	export default function getAbsoluteFSPath(): string;
}
