/**
 * The gateway's fast path to OpenAI-compatible servers: their streamed answer (Server-Sent Events) is handed on
 * event by event instead of being parsed into tokens and framed again. Under 32 concurrent streams that halves the
 * gateway's CPU per token and brings its added time to first token down to what a bare Node proxy adds
 * (bench/gateway.bench.ts prints both).
 *
 * Each event is still looked at, with substring tests rather than a JSON parse: where the first answer text is (the
 * router's "first token": until then a failure can fall back to the next candidate; a thinking model's first
 * reasoning text counts, so its thinking streams to the client as it comes), the finish reason (an answer
 * without one was cut off), an `error` event (raised like the `openai` client raises it), the usage (for the ledger;
 * the only event that is parsed), and the `model` field (renamed to the gateway's "provider/model").
 *
 * A request that offered tools gets its tool-call events normalised as the client's path normalises them
 * (sseRelayCalls.ts).
 */
import type { Readable } from 'node:stream';
import { TruncatedStreamError } from './httpErrors';
import { isObject, safeJson } from '../json';
import { FINISH, RelayedCalls } from './sseRelayCalls';
import type { RelayOptions, RelaySink, RelayedAnswer } from './types';

/** The first `"content":"…"` of an event (a key, since quotes inside JSON strings are escaped). */
const CONTENT = /"content":\s*"((?:[^"\\]|\\.)*)"/;
/**
 * Non-empty reasoning text (`reasoning_content`: llama.cpp, vLLM, DeepSeek; `reasoning`: OpenRouter, Ollama's /v1):
 * a thinking model has started answering, so the client sees it think instead of waiting for the first content.
 */
const REASONING = /"reasoning(?:_content)?":\s*"(?!")/;
const USAGE = /"usage":\s*\{/;
const USAGE_NULL = /,\s*"usage":\s*null(?=\s*[,}])|"usage":\s*null\s*,/g;
const MODEL = /"model":\s*"(?:[^"\\]|\\.)*"/;
/** An event this long without its closing blank line is not an answer any more. */
const MAX_PENDING = 4 * 1024 * 1024;

export interface SseRelayOptions extends RelayOptions {
  /** The error an `error` event fails with (the provider's client's own class, so it is classified the same way). */
  errorFor(error: unknown, message: string | undefined): Error;
  /** The request offered tools: tool-call events are checked and, where they are not in OpenAI's shape, normalised. */
  tools?: boolean;
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Whoever awaits it sees the failure; nobody awaiting it is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A string as the latin1 ("binary") string of its UTF-8 bytes: how the relay holds text. */
function bytesOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * Holds the server's bytes as a latin1 string (one character per byte): no UTF-8 decoding and encoding per token,
 * and nothing to carry over when a character is split between packets. Every pattern looked for is ASCII, which
 * never occurs inside a multi-byte UTF-8 sequence, so searching bytes finds exactly what searching text would.
 */
export class SseRelay implements RelayedAnswer {
  /** The answer started with reasoning text (a thinking model): relayed from there on, as answer text is. */
  reasoning = false;
  /** The server said why it stopped (a finish reason). */
  finished = false;
  /** From the server's usage chunk, when it sent one. */
  usage: { inputTokens?: number; outputTokens?: number } | undefined;
  /** Bytes of answer text seen (tool calls count theirs in `calls`). */
  private text = 0;
  private readonly firstText = deferred();
  private readonly end = deferred();
  private readonly modelField: string;
  private readonly modelBytes: string;
  private pending = '';
  private held = '';
  private sink: RelaySink | undefined;
  private started = false;
  private done = false;
  private settled = false;
  /** With tools: the calls so far, normalised as on the client's path. */
  private readonly calls: RelayedCalls | undefined;

  constructor(
    private readonly source: Readable,
    private readonly options: SseRelayOptions,
  ) {
    this.modelBytes = bytesOf(options.model);
    this.modelField = bytesOf(`"model":${JSON.stringify(options.model)}`);
    this.calls = options.tools ? new RelayedCalls(options, (u) => this.readUsage(u)) : undefined;
    source.on('data', this.onData);
    source.once('end', this.onEnd);
    source.once('error', (e) => this.fail(e));
  }

  /** Bytes of answer text seen, tool calls' names and arguments included. */
  get textLength(): number {
    return this.text + (this.calls?.textLength ?? 0);
  }

  /** A tool call started (with tools: it is the answer's first output, as text is). */
  get calling(): boolean {
    return this.calls?.calling ?? false;
  }

  /** Resolves when the answer's first text, or its first reasoning text, arrived (or the answer ended without any). */
  get ready(): Promise<void> {
    return this.firstText.promise;
  }

  /** Resolves when the server's answer is complete; rejects when it failed, was cut off or canceled. */
  get ended(): Promise<void> {
    return this.end.promise;
  }

  pipe(sink: RelaySink): void {
    if (this.sink) throw new Error('a relayed answer is piped once');
    this.sink = sink;
    const held = this.held;
    this.held = '';
    if (held && !sink.write(held)) sink.onDrain(() => this.source.resume());
    else this.source.resume();
  }

  /** Ends the relay with an error (the transport's: a connection that closed early, an abort). */
  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.source.off('data', this.onData);
    this.firstText.reject(error);
    this.end.reject(error);
    this.source.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.settled) return;
    let text = this.pending + chunk.toString('latin1');
    if (text.includes('\r')) {
      // CRLF or CR line ends: normalised, except a trailing CR that may be the first half of a CRLF.
      const tail = text.endsWith('\r') ? '\r' : '';
      text = text.slice(0, text.length - tail.length).replace(/\r\n?/g, '\n') + tail;
    }
    const cut = text.lastIndexOf('\n\n');
    if (cut < 0) {
      this.pending = text;
      if (text.length > MAX_PENDING) this.fail(new Error(`the server sent an event longer than ${MAX_PENDING} bytes`));
      return;
    }
    this.pending = text.slice(cut + 2);
    try {
      this.forward(text.slice(0, cut + 2));
    } catch (e) {
      this.fail(e);
    }
  };

  private readonly onEnd = (): void => {
    if (this.settled) return;
    try {
      const rest = this.pending.replace(/\r\n?/g, '\n');
      this.pending = '';
      if (rest.trim() !== '') this.forward(`${rest.replace(/\n*$/, '')}\n\n`);
      if (!this.finished) throw new TruncatedStreamError();
    } catch (e) {
      this.fail(e);
      return;
    }
    this.settled = true;
    this.firstText.resolve();
    this.end.resolve();
  };

  /** Complete events (each ending in a blank line): scanned, rewritten, passed on. */
  private forward(block: string): void {
    let out = '';
    let at = 0;
    while (at < block.length) {
      const next = block.indexOf('\n\n', at);
      out += this.event(block.slice(at, next));
      at = next + 2;
    }
    if (out) this.emit(out);
    if (!this.started && (this.textLength > 0 || this.reasoning || this.calling)) {
      this.started = true;
      // The router hears of the first text now; until the gateway pipes the answer, the server waits.
      if (!this.sink) this.source.pause();
      this.firstText.resolve();
    }
  }

  /** One event (without its closing blank line) as it is passed on ('' drops it). */
  private event(raw: string): string {
    if (raw.length === 0 || this.done) return '';
    // The usual form, one `data:` line, is read in place (this runs for every token of every relayed stream).
    if (!raw.startsWith('data:') || raw.includes('\n')) return this.generalEvent(raw);
    const from = raw.charCodeAt(5) === 32 ? 6 : 5;
    if (raw.startsWith('[DONE]', from)) return this.doneEvent();
    if (raw.includes('"error"')) this.raiseError(raw.slice(from), false);
    return this.dataEvent(raw, from);
  }

  /** Several fields or data lines (joined by newlines, as SSE says), comments, named events. */
  private generalEvent(raw: string): string {
    if (raw.trim() === '') return '';
    const lines: string[] = [];
    let isErrorEvent = false;
    for (const line of raw.split('\n')) {
      if (line.startsWith('data:')) lines.push(line.slice(line[5] === ' ' ? 6 : 5));
      else if (/^event:\s*error\s*$/.test(line)) isErrorEvent = true;
    }
    if (lines.length === 0) return `${raw}\n\n`;
    const data = lines.join('\n');
    if (data.startsWith('[DONE]')) return this.doneEvent();
    if (isErrorEvent || data.includes('"error"')) this.raiseError(data, isErrorEvent);
    if (USAGE.test(data)) {
      this.scan(data);
      return this.usageEvent(data);
    }
    const out = this.toolEvent(data);
    if (out !== undefined) {
      this.scan(data);
      return out;
    }
    return this.dataEvent(raw, 0);
  }

  /** The gateway closes the stream with its own [DONE]; anything after it is ignored, as clients do. */
  private doneEvent(): string {
    this.done = true;
    return '';
  }

  /** An `error` event (or field) fails the answer with the provider's client's error. */
  private raiseError(bytes: string, isErrorEvent: boolean): void {
    const data = Buffer.from(bytes, 'latin1').toString('utf8');
    const parsed = safeJson(data);
    if (isErrorEvent)
      throw this.options.errorFor(
        isObject(parsed) ? parsed.error : undefined,
        isObject(parsed) && typeof parsed.message === 'string' ? parsed.message : data,
      );
    if (isObject(parsed) && parsed.error) throw this.options.errorFor(parsed.error, undefined);
  }

  /** Finish reason and answer text of an event's data. */
  private scan(data: string): void {
    if (!this.finished && FINISH.test(data)) this.finished = true;
    if (!this.started && !this.reasoning && data.includes('"reasoning') && REASONING.test(data)) this.reasoning = true;
    let at = data.indexOf('"content":"');
    if (at >= 0) at += '"content":"'.length;
    else if (data.includes('"content":')) {
      const m = CONTENT.exec(data);
      if (m) this.text += m[1]!.length;
      return;
    }
    if (at >= 0 && data.charCodeAt(at) !== 34) this.text += stringEnd(data, at) - at;
  }

  /** A data event passed on: scanned, model renamed, usage fields kept or dropped as the client asked. */
  private dataEvent(raw: string, from: number): string {
    this.scan(raw);
    if (USAGE.test(raw)) return this.usageEvent(raw.slice(from));
    if (from > 0) {
      const out = this.toolEvent(raw, from);
      if (out !== undefined) return out;
    }
    let out = raw;
    const at = out.indexOf('"model":"');
    if (at >= 0) {
      const end = stringEnd(out, at + '"model":"'.length);
      out = out.slice(0, at) + this.modelField + out.slice(end + 1);
    } else if (out.includes('"model":')) out = out.replace(MODEL, this.modelField);
    if (!this.options.includeUsage && out.includes('"usage":')) {
      const compact = out.replace(',"usage":null', '');
      out = compact.includes('"usage":') ? compact.replace(USAGE_NULL, '') : compact;
    }
    return `${out}\n\n`;
  }

  /**
   * With tools: a tool-call event (its data from `from`) as it is passed on, in bytes; undefined: as it came. Other
   * events are not sliced (this runs for every token).
   */
  private toolEvent(raw: string, from = 0): string | undefined {
    if (!this.calls?.carries(raw)) return undefined;
    const out = this.calls.event(from > 0 ? raw.slice(from) : raw);
    return out === undefined ? undefined : bytesOf(out);
  }

  private readUsage(u: Record<string, unknown>): void {
    this.usage = {
      inputTokens: typeof u.prompt_tokens === 'number' ? u.prompt_tokens : undefined,
      outputTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : undefined,
    };
  }

  /** The event carrying usage: read for the ledger; passed on only as the client asked. */
  private usageEvent(data: string): string {
    const parsed = safeJson(data);
    if (!isObject(parsed)) return '';
    const u = parsed.usage;
    if (isObject(u)) this.readUsage(u);
    if (!this.options.includeUsage) {
      if (Array.isArray(parsed.choices) && parsed.choices.length === 0) return '';
      delete parsed.usage;
    }
    if ('model' in parsed) parsed.model = this.modelBytes;
    return `data: ${JSON.stringify(parsed)}\n\n`;
  }

  private emit(text: string): void {
    const sink = this.sink;
    if (!sink) {
      this.held += text;
      return;
    }
    if (!sink.write(text)) {
      this.source.pause();
      sink.onDrain(() => this.source.resume());
    }
  }
}

/** Index of the quote that closes the JSON string whose text starts at `from` (escapes skipped). */
function stringEnd(text: string, from: number): number {
  let i = text.indexOf('"', from);
  while (i > 0) {
    let slashes = 0;
    for (let j = i - 1; j >= from && text.charCodeAt(j) === 92; j--) slashes++;
    if (slashes % 2 === 0) return i;
    i = text.indexOf('"', i + 1);
  }
  return text.length;
}
