/**
 * TRANSPORTER listing every node of a RabbitMQ cluster (issue 19): the transporter gets each URL,
 * and tries the next one at each reconnection.
 */
import { describe, expect, it } from "vitest";
import { amqpUrls, createBrokerOptions } from "../../moleculer.config";
import { loadConfiguration } from "../../platform/config";
import type { EventDurableAmqpTransporter } from "../../platform/amqp-transporter";

const NODES = ["amqp://guest:guest@rabbitmq-1:5672", "amqp://guest:guest@rabbitmq-2:5672/vhost", "amqps://u:p@rabbitmq-3:5671"];

describe("TRANSPORTER with several RabbitMQ nodes", () => {
	it("takes them separated by commas or semicolons, spaces around them ignored", () => {
		expect(amqpUrls(NODES.join(","))).toEqual(NODES);
		expect(amqpUrls(NODES.join(";"))).toEqual(NODES);
		expect(amqpUrls(` ${NODES.join(" , ")} `)).toEqual(NODES);
		expect(amqpUrls(NODES[0])).toEqual([NODES[0]]);
	});

	it("leaves a comma inside a URL (a password) alone", () => {
		expect(amqpUrls("amqp://user:pa,ss@rabbitmq-1:5672,amqp://user:pa,ss@rabbitmq-2:5672")).toEqual(["amqp://user:pa,ss@rabbitmq-1:5672", "amqp://user:pa,ss@rabbitmq-2:5672"]);
	});

	it("gives the transporter every node, to fail over in turn", () => {
		const { transporter } = createBrokerOptions(loadConfiguration({ TRANSPORTER: NODES.join(",") }));
		expect((transporter as EventDurableAmqpTransporter).opts.url).toEqual(NODES);
	});
});
