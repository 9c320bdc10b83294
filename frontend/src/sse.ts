/**
 * Server-Sent Events parser (the WHATWG event-stream format), fed with text as it arrives: chunks
 * may split lines, and even a CRLF, anywhere. Only `event` and `data` matter here; `id` and
 * `retry` are ignored, since a reconnect refetches everything instead of resuming.
 */

export interface SseMessage {
	/** "message" when the server named no event. */
	event: string;
	/** The data lines joined with "\n". */
	data: string;
}

export class SseParser {
	/** Text of the line not yet ended. */
	private partialLine = "";
	/** The last chunk ended with CR: an LF starting the next one belongs to that line break. */
	private skipLeadingLineFeed = false;
	private eventName = "";
	private dataLines: string[] = [];

	/** Takes the next piece of the stream; returns the messages it completed. */
	push(chunk: string): SseMessage[] {
		const messages: SseMessage[] = [];
		let text = chunk;
		if (this.skipLeadingLineFeed && text.length > 0) {
			if (text.startsWith("\n")) text = text.slice(1);
			this.skipLeadingLineFeed = false;
		}
		let lineStart = 0;
		for (let index = 0; index < text.length; index++) {
			const char = text[index];
			if (char !== "\r" && char !== "\n") continue;
			this.processLine(this.partialLine + text.slice(lineStart, index), messages);
			this.partialLine = "";
			if (char === "\r") {
				if (index + 1 === text.length) this.skipLeadingLineFeed = true;
				else if (text[index + 1] === "\n") index++;
			}
			lineStart = index + 1;
		}
		this.partialLine += text.slice(lineStart);
		return messages;
	}

	private processLine(line: string, messages: SseMessage[]): void {
		if (line === "") {
			this.dispatch(messages);
			return;
		}
		if (line.startsWith(":")) return; // a comment, such as the server's heartbeat
		const colon = line.indexOf(":");
		const field = colon === -1 ? line : line.slice(0, colon);
		let value = colon === -1 ? "" : line.slice(colon + 1);
		if (value.startsWith(" ")) value = value.slice(1);
		if (field === "event") this.eventName = value;
		else if (field === "data") this.dataLines.push(value);
	}

	private dispatch(messages: SseMessage[]): void {
		// As in browsers, an event with no data line is not dispatched.
		if (this.dataLines.length > 0) {
			messages.push({ event: this.eventName || "message", data: this.dataLines.join("\n") });
		}
		this.eventName = "";
		this.dataLines = [];
	}
}
