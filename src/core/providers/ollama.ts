/**
 * Ollama through the `ollama` client.
 *
 * The client's own `abort()` cancels every stream of the instance, and its GET/POST helpers pass no signal at
 * all, so each request gets a client whose fetch carries that request's signal.
 */
import { Ollama } from 'ollama';
import type { Message, ShowResponse, Tool } from 'ollama';
import { ProviderError } from '../errors';
import {
  BaseProvider,
  DEFAULT_ANSWER_TOKENS,
  DEFAULT_THINKING_ANSWER_TOKENS,
  HttpStatusError,
  abortPromise,
  completionTemperature,
  kindForStatus,
} from './base';
import { estimateMessagesTokens, estimateTokens } from './tokenEstimate';
import type { Classified, ProviderDeps, ProviderOptions } from './base';
import { argumentsObject, finishReasonOf, toolCallFrom, toolNameFor, wholeCallEvents } from './toolCalls';
import type {
  ChatEvent,
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  CompletionResult,
  EmbedResult,
  ModelCapabilities,
  ModelInfo,
  ProviderConfig,
} from './types';
import { OLLAMA_CLOUD_HOST, ollamaCloudHost } from './cloudModels';

/** num_ctx is rounded up to this step so that small changes in prompt size do not make Ollama reload the model. */
export const NUM_CTX_STEP = 2048;

/** What the client's ResponseError carries. */
interface ResponseErrorLike {
  name: string;
  status_code: number;
  error: string;
}

function isResponseError(e: unknown): e is ResponseErrorLike {
  return e instanceof Error && e.name === 'ResponseError' && typeof (e as Partial<ResponseErrorLike>).status_code === 'number';
}

interface ModelDetailsInfo {
  contextLength?: number;
  capabilities: ModelCapabilities;
  family?: string;
  remoteHost?: string;
  /** /api/show `template`: FIM tokens and `.Suffix` in it tell how the model fills in the middle. */
  template?: string;
}

/** The answer budget of a completion request that names none. */
const DEFAULT_COMPLETION_TOKENS = 128;

/**
 * The window to ask Ollama for: prompt estimate plus answer budget, rounded up to a multiple of NUM_CTX_STEP,
 * never above `cap`. Returns undefined when the request cannot fit in `cap` at all.
 */
export function sizeNumCtx(promptTokens: number, answerTokens: number, cap: number): number | undefined {
  const needed = promptTokens + answerTokens;
  if (needed > cap) return undefined;
  const rounded = Math.ceil(needed / NUM_CTX_STEP) * NUM_CTX_STEP;
  return Math.min(rounded, cap);
}

export class OllamaProvider extends BaseProvider {
  /** /api/show answers per model; a model's context length and capabilities do not change while it exists. */
  private readonly showCache = new Map<string, Promise<ModelDetailsInfo>>();

  constructor(config: ProviderConfig, deps: ProviderDeps, options: ProviderOptions = {}) {
    super(config, deps, options);
  }

  protected async *streamChat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatEvent> {
    const client = this.client(signal);
    const details = await this.showModel(request.model, signal);
    const tools = ollamaTools(request);
    // Tool schemas are rendered into the prompt by the model's template: counted, so num_ctx leaves room for them.
    const promptTokens = estimateMessagesTokens(request.messages) + (tools ? estimateTokens(JSON.stringify(tools)) : 0);
    const cap = Math.min(details.contextLength ?? Infinity, request.contextSize ?? Infinity);
    // num_predict counts a thinking model's reasoning too: without a budget of its own it is given room to think.
    const answerTokens =
      request.maxTokens ??
      (details.capabilities.thinking
        ? Math.max(DEFAULT_ANSWER_TOKENS, Math.min(DEFAULT_THINKING_ANSWER_TOKENS, cap - promptTokens))
        : DEFAULT_ANSWER_TOKENS);
    const numCtx = sizeNumCtx(promptTokens, answerTokens, cap);
    if (numCtx === undefined) {
      // Ollama would silently drop the start of the prompt; the caller must trim or pick a larger model.
      throw new ProviderError(
        'contextOverflow',
        this.redact(
          `${this.config.id} (${request.model}): the prompt (~${promptTokens} tokens) plus the answer budget ` +
            `(${answerTokens}) exceeds the context window of ${cap} tokens`,
        ),
        { providerId: this.config.id, model: request.model },
      );
    }
    const stream = await client.chat({
      model: request.model,
      messages: ollamaMessages(request.messages),
      stream: true,
      ...(tools ? { tools } : {}),
      ...(request.responseFormat ? { format: request.responseFormat.type === 'json_schema' ? request.responseFormat.schema : 'json' } : {}),
      options: {
        num_ctx: numCtx,
        num_predict: answerTokens,
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.sampling?.stop?.length ? { stop: request.sampling.stop } : {}),
        ...(request.sampling?.topP !== undefined ? { top_p: request.sampling.topP } : {}),
        ...(request.sampling?.seed !== undefined ? { seed: request.sampling.seed } : {}),
        ...(request.sampling?.presencePenalty !== undefined ? { presence_penalty: request.sampling.presencePenalty } : {}),
        ...(request.sampling?.frequencyPenalty !== undefined ? { frequency_penalty: request.sampling.frequencyPenalty } : {}),
      },
    });
    let calls = 0;
    for await (const part of stream) {
      // Thinking models (qwen3, deepseek-r1, gpt-oss) stream their reasoning in `thinking` before any content.
      const thinking = part.message?.thinking;
      if (thinking) yield { type: 'reasoning', text: thinking };
      const text = part.message?.content;
      if (text) yield { type: 'text', text };
      // Ollama sends each call whole (arguments an object, an id only in newer versions), several in one chunk at
      // times, and in a chunk before the `done` one, whose done_reason is still "stop".
      for (const raw of part.message?.tool_calls ?? []) {
        yield* wholeCallEvents(calls++, toolCallFrom(raw));
      }
      if (part.done) {
        yield { type: 'finish', reason: finishReasonOf(part.done_reason, calls > 0) };
        yield { type: 'usage', inputTokens: part.prompt_eval_count, outputTokens: part.eval_count };
      }
    }
  }

  /**
   * Fill-in-the-middle through /api/generate (not streamed: the editor shows the whole suggestion). `raw` mode sends
   * the caller's FIM string with `raw: true` (no template); `suffix` mode sends `prompt` + `suffix` and Ollama applies
   * the model's template, which it refuses (HTTP 400 "does not support insert") for a model without the `insert`
   * capability: such a model fails here with `unsupported` before anything is sent.
   */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.runCompletion(request, async (signal) => {
      const details = await this.showModel(request.model, signal);
      if (request.mode === 'suffix' && details.capabilities.fim === false) {
        throw this.newError(
          'unsupported',
          `${request.model} cannot fill in the middle: its template takes no suffix (no "insert" capability)`,
          { model: request.model },
        );
      }
      const answerTokens = request.maxTokens ?? DEFAULT_COMPLETION_TOKENS;
      const extraText = request.mode === 'suffix' ? (request.suffix ?? '') : '';
      // The template's FIM tokens count too; Ollama would cut the prompt's start (the FIM prefix token) to fit.
      const promptTokens = estimateTokens(request.prompt) + estimateTokens(extraText) + 16;
      const cap = details.contextLength ?? Infinity;
      const numCtx = sizeNumCtx(promptTokens, answerTokens, cap);
      if (numCtx === undefined) {
        throw this.newError(
          'contextOverflow',
          `${request.model}: the completion prompt (~${promptTokens} tokens) plus the ` +
            `answer budget (${answerTokens}) exceeds the context window of ${cap} tokens`,
          { model: request.model },
        );
      }
      const options = {
        num_ctx: numCtx,
        num_predict: answerTokens,
        temperature: completionTemperature(request.temperature),
        ...(request.stop?.length ? { stop: [...request.stop] } : {}),
      };
      const response = await this.client(signal).generate({
        model: request.model,
        prompt: request.prompt,
        ...(request.mode === 'raw' ? { raw: true } : { suffix: request.suffix ?? '' }),
        stream: false,
        options,
      });
      return {
        text: response.response ?? '',
        finishReason: finishReasonOf(response.done_reason, false),
        inputTokens: response.prompt_eval_count,
        outputTokens: response.eval_count,
      };
    });
  }

  protected async embedBatch(model: string, input: string[], signal: AbortSignal): Promise<EmbedResult> {
    const response = await this.client(signal).embed({ model, input });
    return { vectors: response.embeddings, inputTokens: response.prompt_eval_count };
  }

  protected async discover(signal: AbortSignal): Promise<ModelInfo[]> {
    const list = await this.client(signal).list();
    return Promise.all(
      list.models.map(async (m): Promise<ModelInfo> => {
        const details = await this.showModel(m.name, signal);
        const remoteHost = remoteHostOf(m) ?? details.remoteHost ?? ollamaCloudHost(m.name);
        return {
          id: m.name,
          providerId: this.config.id,
          contextLength: details.contextLength,
          capabilities: details.capabilities,
          sizeBytes: m.size,
          family: details.family ?? m.details?.family,
          ...(remoteHost ? { remoteHost } : {}),
          ...(details.template !== undefined ? { template: details.template } : {}),
        };
      }),
    );
  }

  protected async probe(signal: AbortSignal): Promise<{ version?: string }> {
    const response = await this.client(signal).version();
    return { version: response.version };
  }

  protected classify(error: unknown): Classified | undefined {
    if (!isResponseError(error)) return undefined;
    const status = error.status_code;
    const detail = error.error ? `${error.error} (HTTP ${status})` : `HTTP ${status}`;
    return { kind: kindForStatus(status), status, detail };
  }

  /**
   * Context length, capabilities and family from /api/show; cached per model, failures not cached. Concurrent
   * requests share one lookup, so it runs under its own probe timeout rather than one caller's signal (a
   * caller that cancels stops waiting without failing the others).
   */
  private showModel(model: string, signal: AbortSignal): Promise<ModelDetailsInfo> {
    let cached = this.showCache.get(model);
    if (!cached) {
      cached = this.client(AbortSignal.timeout(this.probeTimeoutMs)).show({ model }).then(parseShow);
      this.showCache.set(model, cached);
      cached.catch(() => this.showCache.delete(model));
    }
    return Promise.race([cached, abortPromise(signal)]);
  }

  /** Forgets what /api/show said (after a pull or delete). */
  forgetModel(model?: string): void {
    if (model === undefined) this.showCache.clear();
    else this.showCache.delete(model);
  }

  /**
   * A client for one request. Its fetch adds the request's signal, and turns a non-2xx answer into an
   * HttpStatusError that keeps the status and Retry-After (the client's ResponseError drops the headers, and
   * logs to the console on non-JSON bodies).
   */
  private client(signal: AbortSignal): Ollama {
    const baseFetch = this.fetchImpl;
    const fetchWithSignal: typeof fetch = async (input, init) => {
      const signals = [signal, init?.signal].filter((s): s is AbortSignal => s instanceof AbortSignal);
      const response = await baseFetch(input, { ...init, signal: AbortSignal.any(signals) });
      if (!response.ok) throw await HttpStatusError.from(response);
      return response;
    };
    return new Ollama({ host: this.config.baseUrl, fetch: fetchWithSignal });
  }
}

/** An Ollama message as sent: tool calls with object arguments (its API takes no string), tool results by name and id. */
type OllamaToolCall = NonNullable<Message['tool_calls']>[number] & { id?: string };
type OllamaMessage = Omit<Message, 'tool_calls'> & { tool_calls?: OllamaToolCall[]; tool_call_id?: string };

function ollamaMessages(messages: readonly ChatMessage[]): OllamaMessage[] {
  return messages.map((m, i): OllamaMessage => {
    if (m.role === 'tool') {
      const name = toolNameFor(messages, i);
      return {
        role: 'tool',
        content: m.content,
        ...(name ? { tool_name: name } : {}),
        ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
      };
    }
    if (m.role === 'assistant' && m.toolCalls?.length) {
      return {
        role: 'assistant',
        content: m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, function: { name: c.name, arguments: argumentsObject(c.arguments) } })),
      };
    }
    // Images as bytes, never as base64 strings: the Node `ollama` client reads a string that names an existing file
    // and sends the file instead (encodeImage), so a request's "image" could otherwise pull in any local file.
    if (m.imageParts?.length) return { role: m.role, content: m.content, images: m.imageParts.map((i) => Buffer.from(i.data, 'base64')) };
    return { role: m.role, content: m.content };
  });
}

/**
 * The request's tools in Ollama's shape, or undefined for none. Ollama has no tool_choice: `none` sends no tools, a
 * named function sends only that one, `required` cannot be enforced (the model may still answer in text).
 */
function ollamaTools(request: ChatRequest): Tool[] | undefined {
  const choice = request.toolChoice;
  if (!request.tools?.length || choice === 'none') return undefined;
  const offered = typeof choice === 'object' ? request.tools.filter((t) => t.name === choice.name) : request.tools;
  return offered.map((t) => ({
    type: 'function',
    function: {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.parameters !== undefined ? { parameters: t.parameters as NonNullable<Tool['function']['parameters']> } : {}),
    },
  }));
}

function parseShow(show: ShowResponse): ModelDetailsInfo {
  const info = toRecord(show.model_info);
  const arch = typeof info['general.architecture'] === 'string' ? info['general.architecture'] : undefined;
  let contextLength: number | undefined;
  if (arch && typeof info[`${arch}.context_length`] === 'number') {
    contextLength = info[`${arch}.context_length`] as number;
  } else {
    // Some architectures' keys do not match general.architecture exactly; any *.context_length will do.
    for (const [key, value] of Object.entries(info)) {
      if (key.endsWith('.context_length') && typeof value === 'number') contextLength = value;
    }
  }
  const caps = Array.isArray(show.capabilities) ? show.capabilities : undefined;
  const capabilities: ModelCapabilities = caps
    ? {
        chat: caps.includes('completion'),
        embeddings: caps.includes('embedding'),
        tools: caps.includes('tools'),
        vision: caps.includes('vision'),
        thinking: caps.includes('thinking'),
        // Ollama lists `insert` when the template reads `.Suffix`, and refuses a suffix without it.
        fim: caps.includes('insert'),
      }
    : {};
  const remoteHost = remoteHostOf(show);
  const template = typeof show.template === 'string' && show.template !== '' ? show.template : undefined;
  return {
    contextLength,
    capabilities,
    family: show.details?.family,
    ...(remoteHost ? { remoteHost } : {}),
    ...(template !== undefined ? { template } : {}),
  };
}

/**
 * The host an Ollama cloud model runs on, from the `remote_host` (or, without it, `remote_model`) that /api/tags and
 * /api/show give such models (the client's types do not name these fields yet).
 */
function remoteHostOf(entry: unknown): string | undefined {
  const e = entry as { remote_host?: unknown; remote_model?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.remote_host === 'string' && e.remote_host.trim()) {
    try {
      return new URL(e.remote_host).hostname || e.remote_host;
    } catch {
      return e.remote_host;
    }
  }
  return typeof e.remote_model === 'string' && e.remote_model.trim() ? OLLAMA_CLOUD_HOST : undefined;
}

/** model_info is typed as a Map but arrives as a plain JSON object. */
function toRecord(value: unknown): Record<string, unknown> {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value && typeof value === 'object') return value as Record<string, unknown>;
  return {};
}
