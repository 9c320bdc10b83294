/** The app's pages by address (no router: two pages, each a full load, served by the gateway). */

export const ORDERS_PATH = "/";
export const OPS_PATH = "/ops";

/** Whether the address is the operator page's ("/ops", "/ops/"). */
export function isOpsPath(pathname: string): boolean {
	return pathname.replace(/\/+$/, "") === OPS_PATH;
}
