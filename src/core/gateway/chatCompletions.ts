/**
 * POST /v1/chat/completions: the router's events as OpenAI's chat completion. Streamed, each event is framed as a
 * `chat.completion.chunk` (text, `reasoning_content`, tool-call pieces, the finish, usage when asked), or the server's
 * own events are relayed as they arrive; non-streamed, the answer is kept until it is complete and sent as one
 * `chat.completion` (a candidate failing mid-answer can then be replaced by the next).
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../host';
import type { FinishReason, RelayedAnswer, ToolCallArgsEvent, ToolCallStartEvent } from '../providers/types';
import type { RouteEvent } from '../routing/router';
import type { UsageRecord } from '../usage/ledger';
import { IdleWatch, answerEvents, loggedEnd, logRoute, stallError, type AnswerSink, type EndpointHost } from './endpoint';
import { fail } from './failure';
import { routeHeaders, sendJson, writeEventStreamHead } from './http';
import { parseChatRequest, type ChatCompletionRequest } from './chatWire';

/** A tool call of a non-streamed answer, with its arguments' pieces joined. */
interface Call {
  id: string;
  name: string;
  arguments: string;
}

/** One answer to a chat completion request: the router's events, framed as they come or kept for one response. */
class ChatAnswer implements AnswerSink {
  private readonly id = `chatcmpl-sy${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly legacy: boolean;
  /** The candidate answering. */
  routed: RouteEvent | undefined;
  model: string;
  private answerText = '';
  private reasoningText = '';
  /** Tool calls by index (non-streamed answers). */
  private calls: Call[] = [];
  // Text and reasoning chunks differ only in their text: the rest of the frame is built once per answer (the hot
  // path; a thinking model streams as much reasoning as text).
  private textFrame = ['', ''];
  private reasoningFrame = ['', ''];
  private opened = false;
  private relayed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly request: ChatCompletionRequest,
    private readonly idle: IdleWatch,
    private readonly logger: Logger,
  ) {
    this.model = request.model;
    this.legacy = request.legacyFunctions === true;
  }

  route(route: RouteEvent): void {
    logRoute(this.logger, 'chat', route);
    this.routed = route;
    this.model = `${route.providerId}/${route.model}`;
    if (this.request.stream) writeEventStreamHead(this.res, route);
    else {
      // Buffered: a later route event is the next candidate, after the one before failed mid-answer.
      this.answerText = '';
      this.reasoningText = '';
      this.calls = [];
    }
  }

  text(text: string): void {
    if (this.request.stream) this.write('text', text);
    else this.answerText += text;
  }

  /** A thinking model's reasoning, under the name llama.cpp, vLLM and DeepSeek give it (OpenAI's API has none). */
  reasoning(text: string): void {
    if (this.request.stream) this.write('reasoning', text);
    else this.reasoningText += text;
  }

  /** Nothing to frame: the next chunk (another call's, or the finish) says this one is complete. */
  toolCallEnd(): void {}

  toolCall(ev: ToolCallStartEvent): void {
    this.calls[ev.index] = { id: ev.id, name: ev.name, arguments: '' };
    if (!this.request.stream || (this.legacy && ev.index > 0)) return;
    // OpenAI's framing: a call's first chunk names it (index, id, type, name, empty arguments), later chunks carry
    // pieces of its arguments by index. The legacy API streams `function_call` (one call, no id).
    this.open();
    const delta = this.legacy
      ? { function_call: { name: ev.name, arguments: '' } }
      : { tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }] };
    this.res.write(this.chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
  }

  toolCallArgs(ev: ToolCallArgsEvent): void {
    const call = this.calls[ev.index];
    if (call) call.arguments += ev.text;
    if (!this.request.stream || ev.text === '' || (this.legacy && ev.index > 0)) return;
    this.open();
    const delta = this.legacy
      ? { function_call: { arguments: ev.text } }
      : { tool_calls: [{ index: ev.index, function: { arguments: ev.text } }] };
    this.res.write(this.chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
  }

  /** The server's own events, as they arrive, with backpressure from this client. */
  relay(answer: RelayedAnswer): void {
    const { res, idle } = this;
    this.relayed = true;
    answer.pipe({
      write: (bytes) => {
        if (res.writableEnded || res.destroyed) return false;
        idle.touch();
        return res.write(bytes, 'latin1');
      },
      onDrain: (resume) => {
        idle.pause();
        res.once('drain', () => {
          idle.touch();
          resume();
        });
      },
    });
  }

  done(u: UsageRecord, finishReason: FinishReason | undefined): void {
    const [input, output] = [u.inputTokens ?? 0, u.outputTokens ?? 0];
    const usage = { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
    const made = this.calls.filter((c) => c !== undefined);
    const finish = this.finishReason(made.length > 0, finishReason, u.outputTokens);
    if (this.relayed) {
      this.res.end('data: [DONE]\n\n');
    } else if (this.request.stream) {
      this.open();
      this.res.write(this.chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
      if (this.request.includeUsage) this.res.write(this.chunk([], { usage }));
      this.res.end('data: [DONE]\n\n');
    } else {
      const { id, created, model } = this;
      const choices = [{ index: 0, message: this.message(made), logprobs: null, finish_reason: finish }];
      const body = { id, object: 'chat.completion', created, model, system_fingerprint: null, choices, usage };
      sendJson(this.res, 200, body, this.routed ? routeHeaders(this.routed) : {});
    }
  }

  private finishReason(called: boolean, finish: FinishReason | undefined, outputTokens: number | undefined): string {
    if (called) return this.legacy ? 'function_call' : 'tool_calls';
    const maxTokens = this.request.maxTokens;
    if (finish === 'length' || (maxTokens !== undefined && (outputTokens ?? 0) >= maxTokens)) return 'length';
    return finish === 'content_filter' ? 'content_filter' : 'stop';
  }

  /** The whole answer's message. One with calls has `content: null` where it wrote no text, as OpenAI's has. */
  private message(made: Call[]): Record<string, unknown> {
    const toolFields =
      made.length === 0
        ? {}
        : this.legacy
          ? { function_call: { name: made[0]!.name, arguments: made[0]!.arguments } }
          : { tool_calls: made.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) };
    const content = made.length > 0 && this.answerText === '' ? null : this.answerText;
    const reasoning = this.reasoningText ? { reasoning_content: this.reasoningText } : {};
    return { role: 'assistant', content, refusal: null, ...toolFields, ...reasoning };
  }

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    const { id, created, model } = this;
    const usage = this.request.includeUsage ? { usage: null } : {};
    const body = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...usage, ...extra };
    return `data: ${JSON.stringify(body)}\n\n`;
  }

  /**
   * A chunk whose delta is `{ [key]: "" }`, cut where the text goes (every string in it is JSON-escaped, so the empty
   * value occurs once).
   */
  private frameOf(key: string): string[] {
    const frame = this.chunk([{ index: 0, delta: { [key]: '' }, logprobs: null, finish_reason: null }]);
    const at = frame.indexOf(`"${key}":""`) + key.length + 3;
    return [frame.slice(0, at), frame.slice(at + 2)];
  }

  /** A text or reasoning chunk: its frame (built by open) around the text. */
  private write(kind: 'text' | 'reasoning', text: string): void {
    this.open();
    const frame = kind === 'text' ? this.textFrame : this.reasoningFrame;
    this.res.write(frame[0] + JSON.stringify(text) + frame[1]);
  }

  /** The first chunk of a re-framed stream (the assistant's role), and the frames of its text and reasoning chunks. */
  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.write(this.chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    this.textFrame = this.frameOf('content');
    this.reasoningFrame = this.frameOf('reasoning_content');
  }
}

export async function chatCompletions(host: EndpointHost, res: ServerResponse, body: unknown, controller: AbortController): Promise<void> {
  const signal = controller.signal;
  const request = parseChatRequest(body);
  const { task, only } = await host.resolve(request.model);
  const legacy = request.legacyFunctions === true;
  const events = host.source.router.chat({
    task: only ? task : request.model,
    only,
    messages: request.messages,
    signal,
    temperature: request.temperature,
    maxTokens: request.maxTokens,
    sampling: request.sampling,
    // Streams from OpenAI-compatible servers are relayed event by event (the hot path: no per-token parsing), tool
    // calls too (normalised by the relay); the legacy functions API streams `function_call`, which only framing gives.
    relay: request.stream && !legacy && host.source.config.gateway.relay ? { includeUsage: request.includeUsage } : undefined,
    // A non-streamed answer reaches the client only when complete: a candidate failing mid-answer can be replaced.
    buffered: !request.stream,
    tools: request.tools,
    toolChoice: request.toolChoice,
    parallelToolCalls: request.parallelToolCalls,
    responseFormat: request.responseFormat,
  });
  const idleMs = host.idleTimeoutMs();
  const idle: IdleWatch = new IdleWatch(idleMs, () => {
    const stalled = stallError(host.logger, 'chat', request.model, answer.model, idleMs);
    fail(res, stalled, host.logger);
    controller.abort(stalled);
  });
  const answer = new ChatAnswer(res, request, idle, host.logger);
  try {
    await answerEvents(res, events, idle, answer);
  } catch (e) {
    // Ended by the idle timeout: the client has its error already.
    if (idle.stalled || loggedEnd(host.logger, 'chat', request.model, e, signal, answer.routed)) return;
    throw e;
  }
}
