/**
 * OpenAI's Responses API in the gateway: `POST /v1/responses` over the same routing as chat completions (fallback,
 * privacy, capability skips). Non-streamed, a `response` object whose `output` holds a `message` item (`output_text`
 * parts), `function_call` items (`call_id`, `name`, `arguments` as a JSON string) and, from thinking models,
 * `reasoning` items; streamed, the events OpenAI documents, numbered by `sequence_number`:
 *
 *   response.created, response.in_progress,
 *   per item: response.output_item.added,
 *     message:   response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done
 *     call:      response.function_call_arguments.delta…, response.function_call_arguments.done
 *     reasoning: response.content_part.added (reasoning_text), response.reasoning_text.delta…, response.reasoning_text.done, response.content_part.done
 *   response.output_item.done,
 *   response.completed (or response.incomplete when the answer budget ran out; response.failed when the model failed
 *   mid-answer or went quiet).
 *
 * Items stream one after another, never interleaved: a call whose arguments arrive while an earlier one is still
 * open (parallel calls from llama.cpp interleave) is held back until that one is done. Failures before the answer
 * starts are HTTP errors with OpenAI's error body, as on the other routes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TaskName } from '../config/config';
import type { Logger } from '../host';
import type { ChatMessage, FinishReason, ToolCall } from '../providers/types';
import { RouteError, type RouteEvent } from '../routing/router';
import { describeAttempts } from '../describe';
import type { GatewaySource } from './server';
import { GatewayError } from './wire';
import { ResponseMemory, parseResponsesRequest, type ResponsesRequest } from './responsesWire';

/** The parts of the gateway this endpoint answers through (the Gateway hands them over; see server.ts). */
export interface ResponsesHost {
  readonly source: GatewaySource;
  readonly logger: Logger;
  /** A requested model name as the task (and the one candidate, for a real model name) it routes to. */
  resolve(model: string): Promise<{ task: TaskName; only?: string }>;
  readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown>;
  send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void;
  routeHeaders(route: RouteEvent): Record<string, string>;
  logRoute(endpoint: string, route: RouteEvent): void;
  /** Any failure as the status and OpenAI error body the gateway answers with. */
  toGatewayError(e: unknown): GatewayError;
  idleTimeoutMs(): number;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

interface MessageItem {
  type: 'message';
  id: string;
  text: string;
  done: boolean;
}
interface ReasoningItem {
  type: 'reasoning';
  id: string;
  text: string;
  done: boolean;
}
interface CallItem {
  type: 'function_call';
  id: string;
  callId: string;
  name: string;
  args: string;
  /** How much of `args` went out as deltas. */
  sent: number;
  done: boolean;
}
type Item = MessageItem | ReasoningItem | CallItem;

/** An item as the wire shows it (in `output`, and in the item events). */
function wireItem(item: Item, status: ItemStatus): Record<string, unknown> {
  const done = status !== 'in_progress';
  switch (item.type) {
    case 'message':
      return { id: item.id, type: 'message', status, content: done ? [textPart(item.text)] : [], role: 'assistant' };
    case 'reasoning':
      return { id: item.id, type: 'reasoning', summary: [], ...(done ? { content: [{ type: 'reasoning_text', text: item.text }] } : {}), status };
    case 'function_call':
      return { id: item.id, type: 'function_call', status, arguments: done ? item.args : '', call_id: item.callId, name: item.name };
  }
}

function textPart(text: string): Record<string, unknown> {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}

/**
 * The answer's output items, built from the router's events, in the order they started. With `emit`, it writes the
 * stream's events as it goes: only the first unfinished item streams live, later ones wait (their pieces kept) until
 * the ones before are done. A text or reasoning item is done when another item starts; a call at its end event.
 */
class OutputBuilder {
  readonly items: Item[] = [];
  private head = 0;
  /** Whether items[head]'s opening events were written. */
  private opened = false;
  private readonly calls = new Map<number, CallItem>();

  constructor(private readonly emit?: (type: string, fields: Record<string, unknown>) => void) {}

  text(t: string): void {
    const item = this.current('message');
    item.text += t;
    if (this.live(item)) this.emit!('response.output_text.delta', { item_id: item.id, output_index: this.head, content_index: 0, delta: t, logprobs: [] });
  }

  reasoning(t: string): void {
    const item = this.current('reasoning');
    item.text += t;
    if (this.live(item)) this.emit!('response.reasoning_text.delta', { item_id: item.id, output_index: this.head, content_index: 0, delta: t });
  }

  callStart(index: number, callId: string, name: string): void {
    const item: CallItem = { type: 'function_call', id: newId('fc'), callId, name, args: '', sent: 0, done: false };
    this.calls.set(index, item);
    this.add(item);
  }

  callArgs(index: number, t: string): void {
    const item = this.calls.get(index);
    if (!item || t === '') return;
    item.args += t;
    if (this.live(item)) {
      item.sent = item.args.length;
      this.emit!('response.function_call_arguments.delta', { item_id: item.id, output_index: this.head, delta: t });
    }
  }

  callEnd(index: number): void {
    const item = this.calls.get(index);
    if (!item) return;
    // A call with no arguments at all is `{}` (as the providers give them).
    if (item.args === '') item.args = '{}';
    item.done = true;
    this.advance();
  }

  /** The answer is complete: every item is done. */
  finish(): void {
    for (const item of this.items) {
      if (item.type === 'function_call' && item.args === '') item.args = '{}';
      item.done = true;
    }
    this.advance();
  }

  get calledTools(): boolean {
    return this.calls.size > 0;
  }

  /** The output as the response object holds it. */
  output(status: ItemStatus): Record<string, unknown>[] {
    return this.items.map((item, i) => wireItem(item, item.done ? (status === 'incomplete' && i === this.items.length - 1 ? 'incomplete' : 'completed') : 'in_progress'));
  }

  /** The last item of this kind if it is still taking text, else a new one. */
  private current<T extends 'message' | 'reasoning'>(type: T): Extract<Item, { type: T }> {
    const last = this.items.at(-1);
    if (last?.type === type && !last.done) return last as Extract<Item, { type: T }>;
    const item = { type, id: newId(type === 'message' ? 'msg' : 'rs'), text: '', done: false } as Extract<Item, { type: T }>;
    this.add(item);
    return item;
  }

  private add(item: Item): void {
    // Text and reasoning have no end of their own: the next item ends them.
    const last = this.items.at(-1);
    if (last && last.type !== 'function_call') last.done = true;
    this.items.push(item);
    this.advance();
  }

  /** Whether this item's pieces go out as they come (it is the first unfinished one, and open). */
  private live(item: Item): boolean {
    return this.emit !== undefined && this.items[this.head] === item && this.opened;
  }

  /** Writes what the items from the head on can show: the head's opening, and for each finished head its closing. */
  private advance(): void {
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (!this.opened) {
        this.opened = true;
        this.open(item);
      }
      if (!item.done) return;
      this.close(item);
      this.head++;
      this.opened = false;
    }
  }

  private open(item: Item): void {
    if (!this.emit) return;
    const at = this.head;
    this.emit('response.output_item.added', { output_index: at, item: wireItem(item, 'in_progress') });
    if (item.type === 'message') {
      this.emit('response.content_part.added', { item_id: item.id, output_index: at, content_index: 0, part: textPart('') });
      if (item.text !== '') this.emit('response.output_text.delta', { item_id: item.id, output_index: at, content_index: 0, delta: item.text, logprobs: [] });
    } else if (item.type === 'reasoning') {
      this.emit('response.content_part.added', { item_id: item.id, output_index: at, content_index: 0, part: { type: 'reasoning_text', text: '' } });
      if (item.text !== '') this.emit('response.reasoning_text.delta', { item_id: item.id, output_index: at, content_index: 0, delta: item.text });
    } else if (item.args !== '') {
      item.sent = item.args.length;
      this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: item.args });
    }
  }

  private close(item: Item): void {
    if (!this.emit) return;
    const at = this.head;
    if (item.type === 'message') {
      this.emit('response.output_text.done', { item_id: item.id, output_index: at, content_index: 0, text: item.text, logprobs: [] });
      this.emit('response.content_part.done', { item_id: item.id, output_index: at, content_index: 0, part: textPart(item.text) });
    } else if (item.type === 'reasoning') {
      this.emit('response.reasoning_text.done', { item_id: item.id, output_index: at, content_index: 0, text: item.text });
      this.emit('response.content_part.done', { item_id: item.id, output_index: at, content_index: 0, part: { type: 'reasoning_text', text: item.text } });
    } else {
      // What is left of the arguments (`{}` for a call that sent none).
      if (item.sent < item.args.length) this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: at, delta: item.args.slice(item.sent) });
      item.sent = item.args.length;
      this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: at, name: item.name, arguments: item.args });
    }
    this.emit('response.output_item.done', { output_index: at, item: wireItem(item, 'completed') });
  }
}

/** The `POST /v1/responses` endpoint (and clear answers for the stored-response routes it does not serve). */
export class ResponsesEndpoint {
  /** Answers remembered in memory so `previous_response_id` and `item_reference` work while the gateway runs. */
  readonly memory = new ResponseMemory();

  constructor(private readonly host: ResponsesHost) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<void> {
    if (path !== '/v1/responses') {
      // GET /v1/responses/{id}, …/input_items, …/cancel, DELETE: responses are not stored to be read back.
      throw new GatewayError(
        400,
        `${method} ${path.slice(0, 200)}: Switchyard's gateway does not store responses to retrieve, list or cancel (it is stateless). Keep the response you were sent; POST /v1/responses answers a whole conversation.`,
        'invalid_request_error',
        'unsupported_endpoint',
      );
    }
    if (method !== 'POST') throw new GatewayError(405, `${method} is not allowed on /v1/responses; use POST.`, 'invalid_request_error', 'method_not_allowed');
    const controller = new AbortController();
    // A client that goes away (closed socket, aborted stream) cancels the upstream request.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const body = await this.host.readJson(req, res);
    const request = parseResponsesRequest(body, this.memory);
    return this.respond(res, request, controller);
  }

  private async respond(res: ServerResponse, request: ResponsesRequest, controller: AbortController): Promise<void> {
    const { task, only } = await this.host.resolve(request.model);
    const signal = controller.signal;
    const id = newId('resp');
    const createdAt = Math.floor(Date.now() / 1000);
    let model = request.model;
    let route: RouteEvent | undefined;
    let sequence = 0;
    const emit = request.stream
      ? (type: string, fields: Record<string, unknown>) => {
          res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`);
        }
      : undefined;
    let out = new OutputBuilder(emit);
    /** The response object at a point of its life (its fields in OpenAI's order). */
    const response = (status: string, extra: Record<string, unknown> = {}) => ({
      id,
      object: 'response',
      created_at: createdAt,
      status,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: request.echo.instructions,
      max_output_tokens: request.maxOutputTokens ?? null,
      model,
      output: out.output(status === 'incomplete' ? 'incomplete' : 'completed'),
      parallel_tool_calls: request.parallelToolCalls ?? true,
      previous_response_id: request.echo.previous_response_id,
      reasoning: request.echo.reasoning,
      store: request.store,
      temperature: request.temperature ?? null,
      text: request.echo.text,
      tool_choice: request.echo.tool_choice,
      tools: request.echo.tools,
      top_p: request.topP ?? null,
      truncation: request.echo.truncation,
      usage: null,
      user: request.echo.user,
      metadata: request.echo.metadata,
      ...extra,
    });
    const events = this.host.source.router.chat({
      task: only ? task : request.model,
      only,
      messages: request.messages,
      signal,
      temperature: request.temperature,
      maxTokens: request.maxOutputTokens,
      sampling: request.topP !== undefined ? { topP: request.topP } : undefined,
      // A non-streamed answer reaches the client only when complete: a candidate failing mid-answer can be replaced.
      buffered: !request.stream,
      tools: request.tools,
      toolChoice: request.toolChoice,
      parallelToolCalls: request.parallelToolCalls,
      responseFormat: request.responseFormat,
    });
    // As on the chat path: once an answer started, an upstream quiet for the idle timeout fails the response.
    const idleMs = this.host.idleTimeoutMs();
    let idle: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    const failStream = (err: GatewayError) => {
      if (res.writableEnded || res.destroyed) return;
      const code = err.status === 429 ? 'rate_limit_exceeded' : 'server_error';
      emit!('response.failed', { response: response('failed', { error: { code, message: err.message } }) });
      res.end();
    };
    const onIdle = () => {
      stalled = true;
      const seconds = Math.round(idleMs / 100) / 10;
      this.host.logger.warn(`gateway responses: ${request.model} → ${model} stalled for ${seconds} s mid-answer; ended the request`);
      const err = new GatewayError(504, `${model} sent nothing for ${seconds} s in the middle of its answer (switchyard.gateway.idleTimeoutSeconds): the gateway ended the request.`, 'server_error', 'upstream_timeout');
      failStream(err);
      controller.abort(err);
    };
    const touch = () => {
      if (idleMs <= 0 || stalled || !request.stream) return;
      clearTimeout(idle);
      idle = setTimeout(onIdle, idleMs);
    };
    const pause = () => clearTimeout(idle);
    res.once('close', pause);
    let headersSent = false;
    try {
      for await (const ev of events) {
        if (stalled) break;
        touch();
        if (ev.type === 'route') {
          route = ev.route;
          model = `${route.providerId}/${route.model}`;
          this.host.logRoute('responses', route);
          if (request.stream) {
            res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...this.host.routeHeaders(route) });
            headersSent = true;
            emit!('response.created', { response: response('in_progress') });
            emit!('response.in_progress', { response: response('in_progress') });
          } else {
            // Buffered: a later route event is the next candidate, after the one before failed mid-answer.
            out = new OutputBuilder();
          }
        } else if (ev.type === 'text') out.text(ev.text);
        else if (ev.type === 'reasoning') out.reasoning(ev.text);
        else if (ev.type === 'toolCall') out.callStart(ev.index, ev.id, ev.name);
        else if (ev.type === 'toolCallArgs') out.callArgs(ev.index, ev.text);
        else if (ev.type === 'toolCallEnd') out.callEnd(ev.index);
        else if (ev.type === 'relay') {
          // Never asked for (no relay option): nothing to relay into this format.
        } else if (ev.type === 'done') {
          pause();
          out.finish();
          const u = ev.usage;
          const usage = {
            input_tokens: u.inputTokens ?? 0,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: u.outputTokens ?? 0,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: (u.inputTokens ?? 0) + (u.outputTokens ?? 0),
          };
          const reason = incompleteReason(ev.finish, out.calledTools, request.maxOutputTokens, u.outputTokens);
          const final = reason ? response('incomplete', { incomplete_details: { reason }, usage }) : response('completed', { usage, completed_at: Math.floor(Date.now() / 1000) });
          this.remember(id, request, out);
          if (request.stream) {
            emit!(reason ? 'response.incomplete' : 'response.completed', { response: final });
            res.end();
          } else {
            this.host.send(res, 200, final, route ? this.host.routeHeaders(route) : {});
          }
        }
      }
    } catch (e) {
      if (stalled) return;
      if (signal.aborted) {
        this.host.logger.info(`gateway responses: ${request.model} canceled by the client${route ? ` (${route.providerId}/${route.model})` : ''}`);
        return;
      }
      if (e instanceof RouteError) this.host.logger.warn(`gateway responses: ${request.model} failed (${e.kind}): ${describeAttempts(e.attempts)}`);
      // Before the stream started: an HTTP error, as on the other routes. After: the response failed.
      if (!headersSent) throw e;
      failStream(this.host.toGatewayError(e));
    } finally {
      pause();
      res.off('close', pause);
    }
  }

  /** Keeps the conversation and its output items for later requests that refer to them (unless `store: false`). */
  private remember(id: string, request: ResponsesRequest, out: OutputBuilder): void {
    if (!request.store) return;
    const history: ChatMessage[] = [...request.history];
    const items: { id: string; item: { kind: 'message'; text: string } | { kind: 'call'; call: ToolCall } | { kind: 'reasoning' } }[] = [];
    let assistant: ChatMessage | undefined;
    for (const item of out.items) {
      if (item.type === 'reasoning') {
        items.push({ id: item.id, item: { kind: 'reasoning' } });
        continue;
      }
      if (item.type === 'message') {
        items.push({ id: item.id, item: { kind: 'message', text: item.text } });
        assistant = { role: 'assistant', content: item.text };
        history.push(assistant);
      } else {
        const call = { id: item.callId, name: item.name, arguments: item.args };
        items.push({ id: item.id, item: { kind: 'call', call } });
        if (!assistant) history.push((assistant = { role: 'assistant', content: '' }));
        assistant.toolCalls = [...(assistant.toolCalls ?? []), call];
      }
    }
    this.memory.remember(id, history, items);
  }
}

/** Why a response is incomplete (`incomplete_details.reason`), or undefined when it is complete. */
function incompleteReason(finish: FinishReason | undefined, called: boolean, maxTokens: number | undefined, outputTokens: number | undefined): 'max_output_tokens' | 'content_filter' | undefined {
  if (called) return undefined;
  if (finish === 'length' || (maxTokens !== undefined && (outputTokens ?? 0) >= maxTokens)) return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return undefined;
}
