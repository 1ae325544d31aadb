/**
 * Every OpenAI-shaped server through the `openai` client: the cloud presets, LM Studio, vLLM, and (via its
 * subclass) the llama.cpp server. What differs between them is data (see presets.ts).
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import { ProviderError } from '../errors';
import { safeJson } from '../json';
import { BaseProvider, TruncatedStreamError, completionTemperature, kindForStatus, parseRetryAfter } from './base';
import type { Classified, ProviderDeps, ProviderOptions } from './base';
import { imageDataUrl } from './images';
import { getPreset } from './presets';
import { openRelay } from './relayRequest';
import { SseRelay } from './sseRelay';
import type { ProviderPreset } from './presets';
import { ToolCallAssembler, finishReasonOf } from './toolCalls';
import type {
  ChatEvent,
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  CompletionResult,
  EmbedResult,
  ModelInfo,
  ProviderConfig,
  RelayOptions,
  ResponseFormat,
  SamplingOptions,
} from './types';

/** Error codes/types in a 400 body that mean "the prompt does not fit". */
const CONTEXT_OVERFLOW_CODES: ReadonlySet<string> = new Set([
  'context_length_exceeded', // OpenAI
  'exceed_context_size_error', // llama.cpp server
]);

/**
 * A thinking model's reasoning in a chunk's delta. OpenAI's own API does not stream it; the servers that do name it
 * `reasoning_content` (llama.cpp, vLLM, DeepSeek, LM Studio) or `reasoning` (OpenRouter, Ollama's /v1).
 */
function reasoningOf(delta: unknown): string | undefined {
  if (typeof delta !== 'object' || delta === null) return undefined;
  const d = delta as { reasoning_content?: unknown; reasoning?: unknown };
  const text = d.reasoning_content ?? d.reasoning;
  return typeof text === 'string' && text !== '' ? text : undefined;
}

/** OpenAI's API takes at most this many stop sequences (local servers take more). */
export const OPENAI_MAX_STOPS = 4;

/**
 * The stops to send: all of them to a server on this machine, at most OPENAI_MAX_STOPS to others (OpenAI refuses more),
 * a newline first (it is what ends a one-line suggestion; the caller's post-processing cuts at the rest anyway).
 */
export function stopsFor(stop: readonly string[] | undefined, local: boolean): string[] | undefined {
  if (!stop?.length) return undefined;
  if (local) return [...stop];
  const ordered = [...stop.filter((s) => s === '\n'), ...stop.filter((s) => s !== '\n')];
  return ordered.slice(0, OPENAI_MAX_STOPS);
}

/** Sent as the bearer token to servers that need none: the client refuses to run without a key. */
const NO_KEY_PLACEHOLDER = 'switchyard-no-key';

export interface OpenAICompatibleOptions extends ProviderOptions {
  /** Overrides the preset: whether a request without a key should fail with `auth` before it is sent. */
  requiresApiKey?: boolean;
}

export class OpenAICompatibleProvider extends BaseProvider {
  protected readonly preset: ProviderPreset | undefined;
  private readonly requiresApiKey: boolean;
  /** Clients by timeout, each remembering the key it was built with (a changed key builds a new one). */
  private readonly clients = new Map<number, { apiKey: string; client: OpenAI }>();

  constructor(config: ProviderConfig, deps: ProviderDeps, options: OpenAICompatibleOptions = {}) {
    super(config, deps, options);
    this.preset = getPreset(config.preset);
    this.requiresApiKey = options.requiresApiKey ?? this.preset?.requiresApiKey ?? false;
  }

  /** The base URL the OpenAI client gets (with its /v1). */
  protected get apiBaseUrl(): string {
    return this.config.baseUrl;
  }

  /** The chat-completions body for a request (one definition for the client's requests and the gateway's relay). */
  protected chatBody(request: ChatRequest): OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming {
    const maxTokensParam = this.preset?.maxTokensParam ?? 'max_tokens';
    return {
      model: request.model,
      messages: request.messages.map(openAIMessage),
      stream: true,
      stream_options: { include_usage: true },
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== undefined ? { [maxTokensParam]: request.maxTokens } : {}),
      ...openAISampling(request.sampling),
      ...openAITools(request),
      ...(request.responseFormat ? { response_format: openAIResponseFormat(request.responseFormat) } : {}),
    };
  }

  protected async *streamChat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatEvent> {
    // Tool-call streams are relayed too: the relay normalises what servers send differently (object arguments,
    // missing ids, `stop` after a call) and passes well-formed events on unchanged (sseRelay.ts).
    if (request.relay) {
      yield* this.relayChat(request, request.relay, signal);
      return;
    }
    const client = await this.client(this.firstTokenTimeout(request));
    const stream = await client.chat.completions.create(this.chatBody(request), { signal });
    let finish: unknown;
    let usage: ChatEvent | undefined;
    const calls = new ToolCallAssembler();
    for await (const chunk of stream) {
      for (const choice of chunk.choices ?? []) {
        // Only the first choice is the answer (we never ask for n > 1).
        if ((choice.index ?? 0) !== 0) continue;
        const reasoning = reasoningOf(choice.delta);
        if (reasoning) yield { type: 'reasoning', text: reasoning };
        const text = choice.delta?.content;
        if (text) yield { type: 'text', text };
        const toolCalls = (choice.delta as { tool_calls?: unknown } | undefined)?.tool_calls;
        if (toolCalls !== undefined) yield* calls.push(toolCalls);
        if (choice.finish_reason && finish === undefined) {
          finish = choice.finish_reason;
          yield* calls.end();
        }
      }
      if (chunk.usage) {
        usage = { type: 'usage', inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
      }
    }
    // An abort ends the loop quietly; the base turns that into `canceled`. Otherwise a stream that stopped
    // without a finish reason was cut off, and must not pass for a complete one.
    if (signal.aborted) return;
    if (finish === undefined) throw new TruncatedStreamError();
    yield { type: 'finish', reason: finishReasonOf(finish, calls.madeCalls) };
    if (usage) yield usage;
  }

  /**
   * The gateway's streaming path: the same request, with the server's events handed on as they come (see
   * sseRelay.ts). Refusals and error events become the `openai` client's own errors, so they are classified exactly
   * as on the client's path.
   */
  private async *relayChat(request: ChatRequest, relay: RelayOptions, signal: AbortSignal): AsyncIterable<ChatEvent> {
    const apiKey = await this.bearerKey();
    const url = new URL(`${this.apiBaseUrl.replace(/\/+$/, '')}/chat/completions`);
    const answer = await openRelay(
      {
        url,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify(this.chatBody(request)),
        signal,
        fetch: this.injectedFetch,
      },
      {
        ...relay,
        tools: Boolean(request.tools?.length),
        errorFor: (error, message) => new APIError(undefined, error as object | undefined, message, undefined),
      },
    );
    if (!(answer instanceof SseRelay)) {
      const json = safeJson(answer.text);
      throw APIError.generate(answer.status, json as object | undefined, json === undefined ? answer.text : undefined, answer.headers);
    }
    await answer.ready;
    yield { type: 'relay', answer };
    await answer.ended;
    if (answer.usage) yield { type: 'usage', ...answer.usage };
  }

  /**
   * Fill-in-the-middle through the legacy completions route (`POST /v1/completions`, the `openai` client's
   * `completions.create`): `prompt` (the whole FIM string in `raw` mode, the prefix in `suffix` mode) and `suffix`,
   * `max_tokens`, `stop`; not streamed. Servers that take `suffix`: vLLM, LM Studio, llama.cpp, OpenAI's
   * gpt-3.5-turbo-instruct.
   */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.runCompletion(request, async (signal) => {
      const client = await this.client(this.requestTimeout(request));
      const stop = stopsFor(request.stop, this.config.local);
      const response = await client.completions.create(
        {
          model: request.model,
          prompt: request.prompt,
          ...(request.mode === 'suffix' ? { suffix: request.suffix ?? '' } : {}),
          ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
          ...(stop ? { stop } : {}),
          temperature: completionTemperature(request.temperature),
          stream: false,
        },
        { signal },
      );
      const choice = response.choices?.find((c) => (c.index ?? 0) === 0) ?? response.choices?.[0];
      return {
        text: choice?.text ?? '',
        finishReason: finishReasonOf(choice?.finish_reason, false),
        inputTokens: response.usage?.prompt_tokens,
        outputTokens: response.usage?.completion_tokens,
      };
    });
  }

  protected async embedBatch(model: string, input: string[], signal: AbortSignal, timeoutMs: number): Promise<EmbedResult> {
    const client = await this.client(timeoutMs);
    // Asking for base64 explicitly makes the client hand the data back untouched, so servers that ignore the
    // encoding and send float arrays work as well as those that honour it.
    const response = await client.embeddings.create({ model, input, encoding_format: 'base64' }, { signal });
    const data = [...response.data].sort((a, b) => a.index - b.index);
    return {
      vectors: data.map((d) => decodeEmbedding(d.embedding as unknown)),
      inputTokens: response.usage?.prompt_tokens,
    };
  }

  protected async discover(signal: AbortSignal): Promise<ModelInfo[]> {
    const client = await this.client(this.probeTimeoutMs);
    const page = await client.models.list({ signal });
    return page.data.map((m) => this.modelInfoFrom(m as unknown as Record<string, unknown>));
  }

  protected async probe(signal: AbortSignal): Promise<{ version?: string; modelCount?: number }> {
    const client = await this.client(this.probeTimeoutMs);
    const page = await client.models.list({ signal });
    return { modelCount: page.data.length };
  }

  protected classify(error: unknown): Classified | undefined {
    if (error instanceof APIUserAbortError) return { kind: 'canceled' };
    if (error instanceof APIConnectionTimeoutError) return { kind: 'timeout', detail: 'no response in time' };
    if (error instanceof APIConnectionError) {
      // The cause (fetch's TypeError with ECONNREFUSED, …) says more; the generic rules read it.
      const generic = this.classifyGeneric(error.cause);
      return generic.kind === 'server' ? { kind: 'unreachable', detail: `cannot reach ${this.config.baseUrl}` } : generic;
    }
    if (!(error instanceof APIError)) return undefined;
    const status = typeof error.status === 'number' ? error.status : undefined;
    const detail = error.message;
    if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
      return { kind: 'auth', status, detail };
    }
    if (error instanceof NotFoundError) return { kind: 'modelMissing', status, detail };
    if (error instanceof RateLimitError) {
      return { kind: 'rateLimited', status, detail, retryAfter: parseRetryAfter(error.headers) };
    }
    if (error instanceof BadRequestError) {
      const overflow = [error.code, error.type].some((c) => typeof c === 'string' && CONTEXT_OVERFLOW_CODES.has(c));
      return { kind: overflow ? 'contextOverflow' : 'server', status, detail };
    }
    // An error event inside the stream has no status: the server failed while answering.
    return { kind: status === undefined ? 'server' : kindForStatus(status), status, detail };
  }

  /** ModelInfo from a /v1/models entry, reading the context length fields servers add to the standard shape. */
  protected modelInfoFrom(m: Record<string, unknown>): ModelInfo {
    const meta = (m.meta ?? {}) as Record<string, unknown>;
    const contextLength = firstNumber(m.context_length, m.max_model_len, m.context_window, meta.n_ctx, meta.n_ctx_train);
    return { id: String(m.id), providerId: this.config.id, contextLength, capabilities: {} };
  }

  /** The key to send now (looked up per request: it may have been set or cleared since); fails when one is required. */
  protected async bearerKey(): Promise<string> {
    const key = await this.apiKey();
    if (!key && this.requiresApiKey) {
      const env = this.config.apiKeyEnv ?? this.preset?.apiKeyEnv;
      throw new ProviderError(
        'auth',
        `No API key for ${this.config.id}: run "Switchyard: Set API Key" or set ${env ?? 'an API key environment variable'}`,
        { providerId: this.config.id },
      );
    }
    return key ?? NO_KEY_PLACEHOLDER;
  }

  /** A client for one request, with the key looked up now (it may have been set or cleared since). */
  protected async client(timeoutMs: number): Promise<OpenAI> {
    const apiKey = await this.bearerKey();
    // One client per key and timeout: building one per request costs more than the router itself (see bench).
    const cached = this.clients.get(timeoutMs);
    if (cached && cached.apiKey === apiKey) return cached.client;
    const client = new OpenAI({
      baseURL: this.apiBaseUrl,
      apiKey,
      // Nothing from the process environment may redirect or decorate our requests.
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: timeoutMs,
      fetch: this.fetchImpl,
      logLevel: 'off',
    });
    this.clients.set(timeoutMs, { apiKey, client });
    return client;
  }
}

/** A message in OpenAI's shape: assistant tool calls as `tool_calls` (arguments a JSON string), tool results by id. */
function openAIMessage(m: ChatMessage): OpenAI.Chat.Completions.ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      content: m.content === '' ? null : m.content,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
    };
  }
  // Images go as content parts after the text (OpenAI takes them in user messages only).
  if (m.role === 'user' && m.imageParts?.length) {
    return {
      role: 'user',
      content: [
        ...(m.content !== '' ? [{ type: 'text' as const, text: m.content }] : []),
        ...m.imageParts.map((i) => ({
          type: 'image_url' as const,
          image_url: { url: imageDataUrl(i), ...(i.detail ? { detail: i.detail } : {}) },
        })),
      ],
    };
  }
  return { role: m.role, content: m.content };
}

/** tools, tool_choice and parallel_tool_calls (only with tools: some servers refuse a tool_choice without them). */
function openAITools(request: ChatRequest): Record<string, unknown> {
  if (!request.tools?.length) return {};
  const choice = request.toolChoice;
  return {
    tools: request.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        ...(t.parameters !== undefined ? { parameters: t.parameters } : {}),
      },
    })),
    ...(choice === undefined
      ? {}
      : { tool_choice: typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } } }),
    ...(request.parallelToolCalls !== undefined ? { parallel_tool_calls: request.parallelToolCalls } : {}),
  };
}

/** response_format as OpenAI takes it (and llama.cpp, vLLM, LM Studio). */
function openAIResponseFormat(format: ResponseFormat): NonNullable<OpenAI.Chat.Completions.ChatCompletionCreateParams['response_format']> {
  if (format.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name ?? 'response',
      schema: format.schema,
      ...(format.strict !== undefined ? { strict: format.strict } : {}),
    },
  };
}

/** Sampling options under OpenAI's names (only those set). */
function openAISampling(s: SamplingOptions | undefined): Record<string, unknown> {
  if (!s) return {};
  const out: Record<string, unknown> = {};
  if (s.stop !== undefined && s.stop.length > 0) out.stop = s.stop;
  if (s.topP !== undefined) out.top_p = s.topP;
  if (s.seed !== undefined) out.seed = s.seed;
  if (s.presencePenalty !== undefined) out.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== undefined) out.frequency_penalty = s.frequencyPenalty;
  return out;
}

function firstNumber(...values: unknown[]): number | undefined {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  return undefined;
}

/** An embedding as float32 base64 (what we ask for) or a plain array (what some servers send anyway). */
export function decodeEmbedding(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number);
  if (typeof value === 'string') {
    // Copied into its own buffer: a Float32Array view needs a 4-byte aligned offset.
    const bytes = new Uint8Array(Buffer.from(value, 'base64'));
    return Array.from(new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4)));
  }
  throw new Error('the server sent an embedding in an unknown format');
}
