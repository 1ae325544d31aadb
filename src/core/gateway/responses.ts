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
 *     reasoning: response.content_part.added (reasoning_text), response.reasoning_text.delta…,
 *                response.reasoning_text.done, response.content_part.done
 *   response.output_item.done,
 *   response.completed (or response.incomplete when the answer budget ran out; response.failed when the model failed
 *   mid-answer or went quiet).
 *
 * Items stream one after another, never interleaved: a call whose arguments arrive while an earlier one is still
 * open (parallel calls from llama.cpp interleave) is held back until that one is done. Failures before the answer
 * starts are HTTP errors with OpenAI's error body, as on the other routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../host';
import type { ChatMessage, FinishReason, ToolCall, ToolCallArgsEvent, ToolCallStartEvent } from '../providers/types';
import type { RouteEvent } from '../routing/router';
import type { UsageRecord } from '../usage/ledger';
import { IdleWatch, answerEvents, loggedEnd, logRoute, stallError, type AnswerSink, type EndpointHost } from './endpoint';
import { toGatewayError } from './failure';
import { abortOnClose, routeHeaders, sendJson, writeEventStreamHead } from './http';
import { OutputBuilder, newId } from './responsesOutput';
import { GatewayError } from './wire';
import { ResponseMemory } from './responseMemory';
import { parseResponsesRequest, type ResponsesRequest } from './responsesWire';

/** One answer to `POST /v1/responses`: the response object through its life, and its stream's events. */
class ResponseAnswer implements AnswerSink {
  readonly id = newId('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  model: string;
  /** The candidate answering. */
  routed: RouteEvent | undefined;
  private sequence = 0;
  private readonly emit: ((type: string, fields: Record<string, unknown>) => void) | undefined;
  out: OutputBuilder;
  headersSent = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly request: ResponsesRequest,
    private readonly logger: Logger,
    /** Keeps the complete answer for later requests that refer to it. */
    private readonly remember: (id: string, out: OutputBuilder) => void,
  ) {
    this.model = request.model;
    this.emit = request.stream
      ? (type, fields) => {
          res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...fields })}\n\n`);
        }
      : undefined;
    this.out = new OutputBuilder(this.emit);
  }

  /** The response object at a point of its life (its fields in OpenAI's order). */
  response(status: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const { request } = this;
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: request.echo.instructions,
      max_output_tokens: request.maxOutputTokens ?? null,
      model: this.model,
      output: this.out.output(status === 'incomplete' ? 'incomplete' : 'completed'),
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
    };
  }

  route(route: RouteEvent): void {
    logRoute(this.logger, 'responses', route);
    this.routed = route;
    this.model = `${route.providerId}/${route.model}`;
    if (!this.emit) {
      // Buffered: a later route event is the next candidate, after the one before failed mid-answer.
      this.out = new OutputBuilder();
      return;
    }
    writeEventStreamHead(this.res, route);
    this.headersSent = true;
    this.emit('response.created', { response: this.response('in_progress') });
    this.emit('response.in_progress', { response: this.response('in_progress') });
  }

  text(text: string): void {
    this.out.text(text);
  }

  reasoning(text: string): void {
    this.out.reasoning(text);
  }

  toolCall(ev: ToolCallStartEvent): void {
    this.out.callStart(ev.index, ev.id, ev.name);
  }

  toolCallArgs(ev: ToolCallArgsEvent): void {
    this.out.callArgs(ev.index, ev.text);
  }

  toolCallEnd(index: number): void {
    this.out.callEnd(index);
  }

  /** Never asked for (no relay option): nothing to relay into this format. */
  relay(): void {}

  /** The answer is complete: every item done; the final response object (completed, or incomplete and why) is sent. */
  done(u: UsageRecord, finish: FinishReason | undefined): void {
    this.out.finish();
    const usage = {
      input_tokens: u.inputTokens ?? 0,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: u.outputTokens ?? 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: (u.inputTokens ?? 0) + (u.outputTokens ?? 0),
    };
    const reason = incompleteReason(finish, this.out.calledTools, this.request.maxOutputTokens, u.outputTokens);
    const final = reason
      ? this.response('incomplete', { incomplete_details: { reason }, usage })
      : this.response('completed', { usage, completed_at: Math.floor(Date.now() / 1000) });
    this.remember(this.id, this.out);
    if (this.emit) {
      this.emit(reason ? 'response.incomplete' : 'response.completed', { response: final });
      this.res.end();
    } else {
      sendJson(this.res, 200, final, this.routed ? routeHeaders(this.routed) : {});
    }
  }

  /** Ends a stream that started with `response.failed`. */
  failStream(err: GatewayError): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    const code = err.status === 429 ? 'rate_limit_exceeded' : 'server_error';
    this.emit!('response.failed', { response: this.response('failed', { error: { code, message: err.message } }) });
    this.res.end();
  }
}

/** The `POST /v1/responses` endpoint (and clear answers for the stored-response routes it does not serve). */
export class ResponsesEndpoint {
  /** Answers remembered in memory so `previous_response_id` and `item_reference` work while the gateway runs. */
  readonly memory = new ResponseMemory();

  constructor(private readonly host: EndpointHost) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<void> {
    if (path !== '/v1/responses') {
      // GET /v1/responses/{id}, …/input_items, …/cancel, DELETE: responses are not stored to be read back.
      throw new GatewayError(
        400,
        `${method} ${path.slice(0, 200)}: Switchyard's gateway does not store responses to retrieve, list or cancel (it is stateless). ` +
          `Keep the response you were sent; POST /v1/responses answers a whole conversation.`,
        'invalid_request_error',
        'unsupported_endpoint',
      );
    }
    if (method !== 'POST')
      throw new GatewayError(405, `${method} is not allowed on /v1/responses; use POST.`, 'invalid_request_error', 'method_not_allowed');
    const controller = abortOnClose(res);
    const body = await this.host.readJson(req, res);
    const request = parseResponsesRequest(body, this.memory);
    return this.respond(res, request, controller);
  }

  private async respond(res: ServerResponse, request: ResponsesRequest, controller: AbortController): Promise<void> {
    const { task, only } = await this.host.resolve(request.model);
    const { logger } = this.host;
    const signal = controller.signal;
    const answer = new ResponseAnswer(res, request, logger, (id, out) => this.remember(id, request, out));
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
    const idle = new IdleWatch(request.stream ? idleMs : 0, () => {
      const err = stallError(logger, 'responses', request.model, answer.model, idleMs);
      answer.failStream(err);
      controller.abort(err);
    });
    try {
      await answerEvents(res, events, idle, answer);
    } catch (e) {
      if (idle.stalled || loggedEnd(logger, 'responses', request.model, e, signal, answer.routed)) return;
      // Before the stream started: an HTTP error, as on the other routes. After: the response failed.
      if (!answer.headersSent) throw e;
      answer.failStream(toGatewayError(e));
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
function incompleteReason(
  finish: FinishReason | undefined,
  called: boolean,
  maxTokens: number | undefined,
  outputTokens: number | undefined,
): 'max_output_tokens' | 'content_filter' | undefined {
  if (called) return undefined;
  if (finish === 'length' || (maxTokens !== undefined && (outputTokens ?? 0) >= maxTokens)) return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return undefined;
}
