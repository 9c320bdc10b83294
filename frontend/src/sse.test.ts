import { describe, expect, it } from "vitest";
import { SseParser, type SseMessage } from "./sse";

function parseInChunks(chunks: string[]): SseMessage[] {
	const parser = new SseParser();
	return chunks.flatMap(chunk => parser.push(chunk));
}

const STREAM = ': ping\n\nevent: order\ndata: {"id":"a"}\n\nevent: order\ndata: {"id":"b"}\n\n';
const EXPECTED = [
	{ event: "order", data: '{"id":"a"}' },
	{ event: "order", data: '{"id":"b"}' }
];

describe("SseParser", () => {
	it("returns several events from one chunk, in order", () => {
		expect(parseInChunks([STREAM])).toEqual(EXPECTED);
	});

	it("gives the same events however the stream is split", () => {
		for (let cut = 0; cut <= STREAM.length; cut++) {
			expect(parseInChunks([STREAM.slice(0, cut), STREAM.slice(cut)])).toEqual(EXPECTED);
		}
		expect(parseInChunks([...STREAM])).toEqual(EXPECTED);
	});

	it("dispatches an event only at the blank line that ends it", () => {
		const parser = new SseParser();
		expect(parser.push("event: order\ndata: 1\n")).toEqual([]);
		expect(parser.push("\n")).toEqual([{ event: "order", data: "1" }]);
	});

	it.each([
		["LF", "\n"],
		["CRLF", "\r\n"],
		["CR", "\r"]
	])("accepts %s line endings, even split between chunks", (_name, eol) => {
		const stream = `event: order${eol}data: x${eol}${eol}data: y${eol}${eol}`;
		const expected = [
			{ event: "order", data: "x" },
			{ event: "message", data: "y" }
		];
		expect(parseInChunks([stream])).toEqual(expected);
		expect(parseInChunks([...stream])).toEqual(expected);
	});

	it("does not take a CRLF split between chunks for two line breaks", () => {
		// Two line breaks would be a blank line and dispatch "x" without its second data line.
		expect(parseInChunks(["data: x\r", "\ndata: y\r\n\r\n"])).toEqual([{ event: "message", data: "x\ny" }]);
	});

	it("joins multi-line data with newlines", () => {
		expect(parseInChunks(["data: first\ndata: second\ndata:\ndata: fourth\n\n"])).toEqual([
			{ event: "message", data: "first\nsecond\n\nfourth" }
		]);
	});

	it("skips comments, including heartbeats between the lines of an event", () => {
		expect(parseInChunks([": ping\n\n", ":\n", "event: order\n: still here\ndata: z\n\n"])).toEqual([{ event: "order", data: "z" }]);
	});

	it("strips one space after the colon, and only one", () => {
		expect(parseInChunks(["data:no-space\n\n", "data:  two-spaces\n\n"])).toEqual([
			{ event: "message", data: "no-space" },
			{ event: "message", data: " two-spaces" }
		]);
	});

	it("ignores events without data, unknown fields, id and retry", () => {
		expect(parseInChunks(["event: order\n\n", "id: 7\nretry: 10\nfoo: bar\ndata: ok\n\n"])).toEqual([{ event: "message", data: "ok" }]);
	});

	it("does not carry an event name over to the next event", () => {
		expect(parseInChunks(["event: order\ndata: 1\n\ndata: 2\n\n"])).toEqual([
			{ event: "order", data: "1" },
			{ event: "message", data: "2" }
		]);
	});

	it("keeps an unfinished event until it is complete", () => {
		const parser = new SseParser();
		expect(parser.push('event: order\ndata: {"id":')).toEqual([]);
		expect(parser.push('"c"}')).toEqual([]);
		expect(parser.push("\n\n")).toEqual([{ event: "order", data: '{"id":"c"}' }]);
	});
});
