/**
 * The operator's REPL commands (issue 16), in `npm run dev` and `npm run repl` alike: both take the
 * broker options of moleculer.config.ts, whose `replOptions.customCommands` these are.
 *
 * - `outbox`: every outbox's backlog in one table; `dead [service]`: dead events with their error;
 *   `replay <service> [ids...]`: sends dead events again (all of the service's without ids);
 * - `order <id>`: an order's journey across the services (`orders.journey`);
 * - `as <userId> <action> [params]`: calls an action as a user (`meta.userId`).
 *
 * The services with an outbox are read from the registry (those offering `outboxStatus`), not
 * listed here. Every failure (a service down, a timeout, bad input) is printed as one line: a
 * command never throws, since moleculer-repl would log the stack of whatever escapes.
 */
import { inspect } from "node:util";
import { Errors, type ServiceBroker } from "moleculer";
import { convertArgs } from "moleculer-repl/src/utils";
import { newestDeadFirst, toDeadEventView } from "../mixins/outbox-dead-events";
import type { Journey } from "../services/orders/order-journey";
import type { DeadEventRow } from "../mixins/outbox-sql";
import type { OutboxStatus } from "../mixins/outbox.mixin";

type Paint = (text: string) => string;

/** What moleculer-repl 0.8 hands every custom command: its `table` package and its colours. */
export interface ReplHelpers {
	table(rows: string[][], config?: object): string;
	getBorderCharacters(template: string): Record<string, string>;
	kleur: { enabled: boolean; bold: Paint; red: Paint; yellow: Paint; green: Paint; gray: Paint; cyan: Paint };
}

/** What moleculer-repl passes as `args` with its default parsing: declared arguments by name, `--key value` pairs as `options`. */
interface ParsedArgs {
	options: Record<string, unknown>;
	rawCommand: string;
}

/**
 * A custom command as moleculer-repl 0.8 reads it (src/index.js). Moleculer's own `ReplCustomCommand`
 * type says `args: string[]` and `allowUnknownParams`: neither is what the REPL does.
 */
export interface ReplCommand<TArgs = ParsedArgs> {
	command: string;
	description: string;
	options?: { option: string; description: string }[];
	allowUnknownOptions?: boolean;
	/** Replaces the default parsing: sets `command.params`, which becomes the action's `args`. */
	parse?(command: { processedArgs: unknown[]; params?: unknown }): void;
	action(broker: ServiceBroker, args: TArgs, helpers: ReplHelpers): Promise<void>;
}

/** The action every outbox offers (mixins/outbox.mixin.ts): its services are the ones the commands know. */
const OUTBOX_STATUS_ACTION = "outboxStatus";

/** The services with an outbox that have an instance up, by name. */
function outboxServices(broker: ServiceBroker): string[] {
	const suffix = `.${OUTBOX_STATUS_ACTION}`;
	const actions = broker.registry.getActionList({ onlyAvailable: true, skipInternal: true }) as { name: string }[];
	return actions
		.filter(action => action.name.endsWith(suffix))
		.map(action => action.name.slice(0, -suffix.length))
		.sort();
}

/** One line about a failed call: its message, and its code and type for a Moleculer error (field errors for a validation error). */
export function describeError(err: unknown): string {
	if (!(err instanceof Error)) return String(err);
	if (!(err instanceof Errors.MoleculerError)) return err.message;
	const fields = err instanceof Errors.ValidationError && Array.isArray(err.data) ? err.data.map(field => (field as { message?: string }).message).filter(Boolean) : [];
	const hint = err instanceof Errors.RequestTimeoutError ? " It may still complete." : "";
	return `${[err.message, ...fields].join(" ")} (${err.code} ${err.type})${hint}`;
}

function printError({ kleur }: ReplHelpers, what: string, err: unknown): void {
	console.log(kleur.red(`>> ${what}: ${describeError(err)}`));
}

/** moleculer-repl's own table look (its `actions`, `services` commands): header row ruled off. */
function printTable({ table, getBorderCharacters, kleur }: ReplHelpers, header: string[], rows: string[][], columns: object = {}): void {
	const border = Object.fromEntries(Object.entries(getBorderCharacters("honeywell")).map(([key, char]) => [key, kleur.gray(char)]));
	const config = { border, columns, drawHorizontalLine: (index: number, count: number) => index === 0 || index === 1 || index === count };
	console.log(table([header.map(kleur.bold), ...rows], config));
}

/** "0.4 s", "42 s", "3 min 05 s", "2 h 07 min". */
export function formatAge(seconds: number): string {
	if (seconds < 10) return `${seconds.toFixed(1)} s`;
	if (seconds < 60) return `${Math.round(seconds)} s`;
	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
	return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** A time as UTC, to the second or (`precise`) to the millisecond; over a transporter dates arrive as ISO strings. */
function formatTime(at: Date | string, precise = false): string {
	const iso = new Date(at).toISOString();
	return precise ? iso.slice(11, 23) : iso.replace("T", " ").slice(0, 19);
}

/** A hop's duration: milliseconds under a second, then as an age. */
export function formatTook(ms: number): string {
	return ms < 1000 ? `+${ms} ms` : `+${formatAge(ms / 1000)}`;
}

/** A column of free text: as wide as its longest cell up to `max`, wrapped at words beyond. */
function textColumn(cells: string[], max: number): object {
	return { width: Math.min(max, Math.max(...cells.map(cell => cell.length))), wrapWord: true };
}

/** Calls `<service>.<action>` on every service in `services` at once; answers and failures by service. */
async function callEach<T>(broker: ServiceBroker, services: string[], action: string, params: object) {
	const settled = await Promise.allSettled(services.map(service => broker.call<T, object>(`${service}.${action}`, params)));
	return services.map((service, i) => ({ service, result: settled[i] }));
}

/** Checks that `service` has an outbox up; prints why not otherwise. */
function knownOutboxService(broker: ServiceBroker, helpers: ReplHelpers, service: string): boolean {
	const services = outboxServices(broker);
	if (services.includes(service)) return true;
	const up = services.length ? `those up: ${services.join(", ")}` : "none is up";
	console.log(helpers.kleur.red(`>> No service with an outbox is called '${service}' (${up}).`));
	return false;
}

const outboxCommand: ReplCommand = {
	command: "outbox",
	description: "Every outbox's backlog: pending events, the oldest one's age, dead events",
	async action(broker, _args, helpers) {
		const services = outboxServices(broker);
		if (!services.length) return console.log(helpers.kleur.yellow(">> No service with an outbox is up."));
		const answers = await callEach<OutboxStatus>(broker, services, OUTBOX_STATUS_ACTION, { limit: 1 });
		const rows: string[][] = [];
		for (const { service, result } of answers) {
			if (result.status === "rejected") {
				rows.push([service, helpers.kleur.red("?"), helpers.kleur.red("?"), helpers.kleur.red("?")]);
				continue;
			}
			const { pending, oldestAgeSeconds, dead } = result.value;
			rows.push([service, String(pending), pending ? formatAge(oldestAgeSeconds) : "-", dead ? helpers.kleur.red(String(dead)) : "0"]);
		}
		printTable(helpers, ["Service", "Pending", "Oldest pending", "Dead"], rows, { 1: { alignment: "right" }, 2: { alignment: "right" }, 3: { alignment: "right" } });
		for (const { service, result } of answers) if (result.status === "rejected") printError(helpers, service, result.reason);
	}
};

const deadCommand: ReplCommand<ParsedArgs & { service?: string }> = {
	command: "dead [service]",
	description: "Dead events (of one service, or of all) with their last error, newest first",
	options: [{ option: "-l, --limit <count>", description: "at most this many per service (default 50)" }],
	async action(broker, args, helpers) {
		if (args.service !== undefined && !knownOutboxService(broker, helpers, args.service)) return;
		const services = args.service === undefined ? outboxServices(broker) : [args.service];
		const params = args.options.limit === undefined ? {} : { limit: args.options.limit };
		const answers = await callEach<DeadEventRow[]>(broker, services, "deadEvents", params);
		const events = newestDeadFirst(answers.map(({ service, result }) => (result.status === "fulfilled" ? result.value.map(row => toDeadEventView(service, row)) : [])));
		if (events.length) {
			// The order under its event's id: two ids side by side would not fit a terminal.
			const rows = events.map(event => [
				event.service,
				event.orderId ? `${event.id}\norder ${event.orderId}` : event.id,
				`${event.eventName} → ${event.targetGroup}`,
				String(event.failures),
				formatTime(event.deadAt),
				event.lastError ?? ""
			]);
			printTable(helpers, ["Service", "Event id", "Event", "Failures", "Dead since (UTC)", "Last error"], rows, {
				3: { alignment: "right" },
				5: textColumn(["Last error", ...rows.map(cells => cells[5])], 44)
			});
		} else if (answers.some(({ result }) => result.status === "fulfilled")) {
			console.log(helpers.kleur.green(">> No dead events."));
		}
		for (const { service, result } of answers) if (result.status === "rejected") printError(helpers, service, result.reason);
	}
};

/** `replay`'s arguments: a variadic argument is one array, which moleculer-repl's default parsing cuts to its first item. */
interface ReplayArgs {
	service: string;
	ids: string[];
}

const replayCommand: ReplCommand<ReplayArgs> = {
	command: "replay <service> [ids...]",
	description: "Emits dead events again once their cause is fixed: the given ones, or all of the service's",
	parse(command) {
		const [service, ids] = command.processedArgs as [string, string[] | undefined];
		command.params = { service, ids: ids ?? [] };
	},
	async action(broker, { service, ids }, helpers) {
		if (!knownOutboxService(broker, helpers, service)) return;
		try {
			const { replayed } = await broker.call<{ replayed: string[] }, object>(`${service}.replayDeadEvents`, ids.length ? { ids } : {});
			if (replayed.length) {
				console.log(helpers.kleur.green(`>> Replayed ${replayed.length} dead event(s) of ${service}:`));
				for (const id of replayed) console.log(`   ${id}`);
			} else {
				console.log(helpers.kleur.yellow(`>> Nothing replayed: ${service} has no ${ids.length ? "such " : ""}dead event.`));
			}
			const notDead = ids.filter(id => !replayed.includes(id.toLowerCase()));
			if (replayed.length && notDead.length) console.log(helpers.kleur.yellow(`>> Not dead (confirmed, already replayed or unknown): ${notDead.join(", ")}`));
		} catch (err) {
			printError(helpers, `replay on ${service}`, err);
		}
	}
};

const orderCommand: ReplCommand<ParsedArgs & { id: string }> = {
	command: "order <id>",
	description: "An order, its payment decision and its events across the services, hop by hop",
	async action(broker, { id }, helpers) {
		let journey: Journey;
		try {
			journey = await broker.call<Journey, { id: string }>("orders.journey", { id });
		} catch (err) {
			return printError(helpers, `order ${id}`, err);
		}
		const { order, traceId, hops, pending } = journey;
		// Statuses: NEW, FINISHED, CANCELLED (with its reason: INSUFFICIENT_FUNDS, ACCOUNT_NOT_FOUND, CANCELLED_BY_USER), REFUNDED; and the cancel's times.
		const cancel = [
			...(order.cancelRequestedAt ? [`cancel requested ${formatTime(order.cancelRequestedAt)} UTC`] : []),
			...(order.refundedAt ? [`refunded ${formatTime(order.refundedAt)} UTC`] : [])
		];
		const status = (order.cancelReason ? `${order.status} (${order.cancelReason})` : order.status) + cancel.map(part => `, ${part}`).join("");
		console.log(`${helpers.kleur.bold(`Order ${order.id}`)} of ${order.userId}: ${order.amount.toFixed(2)}, ${status}, placed ${formatTime(order.createdAt)} UTC`);
		if (traceId) console.log(`Trace ${traceId}`);
		const rows = hops.map(hop => [hop.step, hop.service, formatTime(hop.at, true), formatTook(hop.tookMs), hop.detail ?? ""]);
		printTable(helpers, ["Step", "Service", "At (UTC)", "Took", "Detail"], rows, { 3: { alignment: "right" }, 4: textColumn(["Detail", ...rows.map(cells => cells[4])], 50) });
		if (pending) {
			const why = pending.why ? `: ${pending.why}` : "";
			console.log(helpers.kleur.yellow(`>> Waiting for ${pending.step} since ${formatTime(pending.since)} UTC${why}`));
		}
	}
};

const asCommand: ReplCommand<ParsedArgs & { userId: string; actionName: string; jsonParams?: string }> = {
	command: "as <userId> <actionName> [jsonParams]",
	description: "Calls an action as a user (meta.userId); params as JSON or as --key value, like `call`",
	allowUnknownOptions: true,
	async action(broker, { userId, actionName, jsonParams, options }, helpers) {
		let params: unknown;
		try {
			params = jsonParams === undefined ? convertArgs(options) : JSON.parse(jsonParams);
		} catch (err) {
			return printError(helpers, "The params are not JSON", err);
		}
		console.log(helpers.kleur.yellow(`>> ${actionName} as ${userId} with`), inspect(params, { colors: helpers.kleur.enabled, breakLength: Infinity }));
		try {
			const result = await broker.call(actionName, params, { meta: { userId } });
			console.log(inspect(result, { depth: 4, colors: helpers.kleur.enabled }));
		} catch (err) {
			printError(helpers, actionName, err);
		}
	}
};

/** Each command by name (tests call their actions). */
export const REPL_COMMANDS = { outbox: outboxCommand, dead: deadCommand, replay: replayCommand, order: orderCommand, as: asCommand };

/** The commands, for `replOptions.customCommands`. */
export const replCommands: ReplCommand<never>[] = Object.values(REPL_COMMANDS);
