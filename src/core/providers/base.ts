/**
 * The shared base of every provider: AbortSignal plumbing, timeouts, error mapping and key redaction.
 *
 * Subclasses only speak their wire protocol (through the `ollama` or `openai` client) and classify the errors
 * their client throws by class or status. Everything else (which kind a refused connection is, what an abort
 * after the first token means, that no key ever reaches a message) is decided here, once.
 */
import { ProviderError, UNREACHABLE_CODES, isAbortError, isProviderError, systemErrorCode } from '../errors';
import type { ErrorKind } from '../errors';
import { redact, silentLogger } from '../host';
import type { Logger, SecretSource } from '../host';
import type { EmbeddedRuntime } from './embedded/runtime';
import { HttpStatusError, TruncatedStreamError, kindForStatus } from './httpErrors';
import { loopbackFetch } from './loopbackFetch';
import type {
  ChatEvent,
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  CompletionResult,
  EmbedRequest,
  EmbedResult,
  HealthInfo,
  ModelInfo,
  Provider,
  ProviderConfig,
} from './types';

export interface ProviderDeps {
  secrets: SecretSource;
  logger: Logger;
  /** Replaces the default fetch (node:http for servers on this machine, the global fetch for the rest). */
  fetch?: typeof fetch;
  /** The child process that runs kind `embedded` (one per Switchyard); absent: a shared default. */
  embedded?: EmbeddedRuntime;
}

export interface ProviderOptions {
  /** Health probes and discovery give up after this long. */
  probeTimeoutMs?: number;
  /** A chat with no output after this long fails with `timeout`, unless its request says (the router's setting does). */
  firstTokenTimeoutMs?: number;
  /** One embedding batch (or other non-streaming request) fails with `timeout` after this long. */
  requestTimeoutMs?: number;
  /** Inputs per embedding request. */
  embedBatchSize?: number;
}

export { HttpStatusError, TruncatedStreamError, kindForStatus, parseRetryAfter } from './httpErrors';

export const DEFAULT_PROBE_TIMEOUT_MS = 3_000;
/** Generous on purpose: a local runtime may need a minute to load a large model before its first token. */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 120_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
export const DEFAULT_EMBED_BATCH_SIZE = 64;
/** The answer budget when a request names none. */
export const DEFAULT_ANSWER_TOKENS = 1024;
/**
 * The same for a thinking model, whose reasoning is generated (and counted) before its answer: 1024 tokens often end
 * it mid-thought, with no answer at all. Bounded by what the context window has left after the prompt.
 */
export const DEFAULT_THINKING_ANSWER_TOKENS = 8192;

/** Completions want the likeliest text: the temperature sent when a request names none, and the most ever sent. */
export const DEFAULT_COMPLETION_TEMPERATURE = 0.1;
export const MAX_COMPLETION_TEMPERATURE = 0.2;

/** A completion request's temperature within 0..MAX_COMPLETION_TEMPERATURE (a chat-sized 0.8 makes noisy code). */
export function completionTemperature(t: number | undefined): number {
  if (t === undefined || !Number.isFinite(t)) return DEFAULT_COMPLETION_TEMPERATURE;
  return Math.min(MAX_COMPLETION_TEMPERATURE, Math.max(0, t));
}

/**
 * One request's cancellation: links the caller's signal with our own timer. The `timedOut` flag, not the
 * error the client happens to throw, tells a timeout from a cancellation (fetch rejects with whatever reason
 * the signal carries, so the error alone cannot be trusted).
 */
export class RequestScope {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onOuterAbort = (): void => this.controller.abort(this.outer?.reason);
  timedOut = false;

  constructor(
    private readonly outer: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
  ) {
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    if (timeoutMs !== undefined && timeoutMs > 0 && timeoutMs !== Infinity && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort(new DOMException('The request timed out', 'TimeoutError'));
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The caller canceled (as opposed to our timer firing). */
  get canceledByCaller(): boolean {
    return this.outer?.aborted === true;
  }

  /** A caller that aborted with a TimeoutError (e.g. `AbortSignal.timeout`) meant a timeout, not a cancel. */
  get callerTimedOut(): boolean {
    const reason: unknown = this.outer?.reason;
    return this.canceledByCaller && (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
  }

  /** Stops the timer (e.g. once the first token arrived); the caller's signal stays linked. */
  clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Ends the scope. `abort` cancels a request still in flight (the consumer stopped reading). */
  dispose(abort: boolean): void {
    this.clearTimer();
    this.outer?.removeEventListener('abort', this.onOuterAbort);
    if (abort && !this.controller.signal.aborted) this.controller.abort();
  }
}

/** What a subclass learned about an error from its own client: a kind, and whatever details it has. */
export interface Classified {
  kind: ErrorKind;
  status?: number;
  retryAfter?: number;
  detail?: string;
}

export interface ErrorContext {
  model?: string;
  /** What was being done, for the message: "chat", "embed", "health probe", … */
  action: string;
  scope?: RequestScope;
  afterOutput?: boolean;
}

/** node:http for local servers, the global fetch for everything else; shared so keep-alive sockets are reused. */
const defaultFetch = loopbackFetch();

export abstract class BaseProvider implements Provider {
  protected readonly logger: Logger;
  protected readonly fetchImpl: typeof fetch;
  /** The fetch the host gave this provider, if any (else the default: node:http locally, the global fetch beyond). */
  protected readonly injectedFetch: typeof fetch | undefined;
  protected readonly probeTimeoutMs: number;
  protected readonly firstTokenTimeoutMs: number;
  protected readonly requestTimeoutMs: number;
  protected readonly embedBatchSize: number;
  /** Every key this provider has been handed; scrubbed from every message it composes. */
  private readonly knownSecrets = new Set<string>();

  constructor(
    readonly config: ProviderConfig,
    protected readonly deps: ProviderDeps,
    options: ProviderOptions = {},
  ) {
    this.logger = deps.logger ?? silentLogger;
    this.fetchImpl = deps.fetch ?? defaultFetch;
    this.injectedFetch = deps.fetch;
    this.probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.firstTokenTimeoutMs = options.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.embedBatchSize = Math.max(1, Math.floor(options.embedBatchSize ?? DEFAULT_EMBED_BATCH_SIZE));
  }

  /** Streams the answer on the wire; the base adds timeouts, cancellation and error mapping. */
  protected abstract streamChat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatEvent>;
  /** Embeds one batch (at most `embedBatchSize` inputs) within `timeoutMs`. */
  protected abstract embedBatch(model: string, input: string[], signal: AbortSignal, timeoutMs: number): Promise<EmbedResult>;
  protected abstract discover(signal: AbortSignal): Promise<ModelInfo[]>;
  /** The cheapest request that proves the server answers; resolves to a version string when it tells. */
  protected abstract probe(signal: AbortSignal): Promise<{ version?: string; modelCount?: number }>;
  /** Client-specific classification (error classes, status codes); undefined leaves it to the generic rules. */
  protected abstract classify(error: unknown): Classified | undefined;

  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    const scope = new RequestScope(request.signal, this.firstTokenTimeout(request));
    let afterOutput = false;
    let completed = false;
    try {
      for await (const event of this.streamChat(request, scope.signal)) {
        if (scope.signal.aborted) break;
        // Text, reasoning, a tool call or a relayed answer is output; usage and the finish reason are not.
        if (event.type !== 'usage' && event.type !== 'finish' && !afterOutput) {
          afterOutput = true;
          scope.clearTimer();
        }
        yield event;
      }
      // Some clients end the loop quietly when the request is aborted mid-stream: that is not an answer.
      if (scope.signal.aborted) throw new DOMException('aborted', 'AbortError');
      completed = true;
    } catch (e) {
      throw this.toProviderError(e, { model: request.model, action: 'chat', scope, afterOutput });
    } finally {
      scope.dispose(!completed);
    }
  }

  /** The wait for a chat's first output: the request's (the router's setting), else this provider's default. */
  protected firstTokenTimeout(request: ChatRequest): number {
    return request.firstTokenTimeoutMs ?? this.firstTokenTimeoutMs;
  }

  async embed(request: EmbedRequest): Promise<EmbedResult> {
    const vectors: number[][] = [];
    let inputTokens: number | undefined;
    const timeoutMs = this.requestTimeout(request);
    for (let i = 0; i < request.input.length; i += this.embedBatchSize) {
      const batch = request.input.slice(i, i + this.embedBatchSize);
      const result = await this.run(
        (signal) => this.embedBatch(request.model, batch, signal, timeoutMs),
        { model: request.model, action: 'embed' },
        timeoutMs,
        request.signal,
      );
      if (result.vectors.length !== batch.length) {
        throw new ProviderError('server', `${this.config.id}: embed returned ${result.vectors.length} vectors for ${batch.length} inputs`, {
          providerId: this.config.id,
          model: request.model,
        });
      }
      vectors.push(...result.vectors);
      if (result.inputTokens !== undefined) inputTokens = (inputTokens ?? 0) + result.inputTokens;
    }
    return { vectors, inputTokens };
  }

  /**
   * Runs one fill-in-the-middle request (the subclasses' `complete`) under the request timeout and the caller's
   * signal: aborting it aborts the HTTP request, so the server stops generating; failures map as chat's do.
   */
  protected runCompletion(request: CompletionRequest, op: (signal: AbortSignal) => Promise<CompletionResult>): Promise<CompletionResult> {
    return this.run(op, { model: request.model, action: 'complete' }, this.requestTimeout(request), request.signal);
  }

  /** The limit of an embedding batch or a completion: the request's (the router's), else this provider's default. */
  protected requestTimeout(request: EmbedRequest | CompletionRequest): number {
    return request.timeoutMs ?? this.requestTimeoutMs;
  }

  listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
    return this.run((s) => this.discover(s), { action: 'model discovery' }, this.probeTimeoutMs, signal);
  }

  async health(signal?: AbortSignal): Promise<HealthInfo> {
    const started = performance.now();
    const info = await this.run((s) => this.probe(s), { action: 'health probe' }, this.probeTimeoutMs, signal);
    return { ok: true, latencyMs: performance.now() - started, ...info };
  }

  /**
   * Runs one non-streaming operation under a timeout and the caller's signal, mapping any failure to a
   * ProviderError. This is the timeout helper of probes and discovery (default 3 s).
   */
  protected async run<T>(
    op: (signal: AbortSignal) => Promise<T>,
    context: Omit<ErrorContext, 'scope'>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const scope = new RequestScope(signal, timeoutMs);
    try {
      if (scope.signal.aborted) throw new DOMException('aborted', 'AbortError');
      // Racing the abort guards against a client that ignores the signal on some route.
      return await Promise.race([op(scope.signal), abortPromise(scope.signal)]);
    } catch (e) {
      throw this.toProviderError(e, { ...context, scope });
    } finally {
      scope.dispose(false);
    }
  }

  /** The provider's API key from the host, remembered for redaction. */
  protected async apiKey(): Promise<string | undefined> {
    const key = await this.deps.secrets.getApiKey(this.config.id, this.config.apiKeyEnv);
    if (key) this.knownSecrets.add(key);
    return key || undefined;
  }

  /** Scrubs every known key and anything that looks like a credential. */
  protected redact(text: string): string {
    return redact(text, [...this.knownSecrets]);
  }

  protected newError(kind: ErrorKind, message: string, extra: { model?: string; status?: number } = {}): ProviderError {
    return new ProviderError(kind, this.redact(`${this.config.id}: ${message}`), {
      providerId: this.config.id,
      model: extra.model,
      status: extra.status,
    });
  }

  /** Maps anything thrown while talking to the server to a ProviderError, by class, status or system code. */
  protected toProviderError(error: unknown, context: ErrorContext): ProviderError {
    const { scope, model } = context;
    const afterOutput = context.afterOutput ?? false;
    if (isProviderError(error)) {
      if (afterOutput) error.afterOutput = true;
      return error;
    }
    let classified: Classified;
    // Our own state first: fetch rejects with the signal's reason, so the error cannot tell us which it was.
    if (scope?.timedOut) {
      classified = {
        kind: 'timeout',
        detail: afterOutput ? `${context.action} timed out` : `no answer within ${scope.timeoutMs} ms`,
      };
    } else if (scope?.canceledByCaller) {
      classified = scope.callerTimedOut
        ? { kind: 'timeout', detail: `${context.action} timed out` }
        : { kind: 'canceled', detail: `${context.action} canceled` };
    } else {
      classified = this.classify(error) ?? this.classifyGeneric(error);
    }
    const where = model ? ` (${model})` : '';
    const detail = classified.detail ?? describe(error);
    const message = this.redact(`${this.config.id}${where}: ${context.action} failed: ${detail}`);
    const result = new ProviderError(classified.kind, message, {
      providerId: this.config.id,
      model,
      status: classified.status,
      retryAfter: classified.retryAfter,
      afterOutput,
      cause: error,
    });
    this.logger.debug(`${message} [${classified.kind}]`);
    return result;
  }

  /** Rules that hold whatever client threw: system codes, aborts, a status property. */
  protected classifyGeneric(error: unknown): Classified {
    if (error instanceof TruncatedStreamError) return { kind: 'server', detail: error.message };
    if (error instanceof HttpStatusError) {
      return { kind: kindForStatus(error.status), status: error.status, retryAfter: error.retryAfter };
    }
    if (isAbortError(error)) return { kind: 'canceled' };
    if ((error as { name?: unknown } | undefined)?.name === 'TimeoutError') return { kind: 'timeout' };
    const code = systemErrorCode(error) ?? undiciCode(error);
    if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
      return { kind: 'timeout', detail: `connection timed out (${code})` };
    }
    if (code && UNREACHABLE_CODES.has(code)) {
      return { kind: 'unreachable', detail: `cannot reach ${this.config.baseUrl} (${code})` };
    }
    const status = (error as { status?: unknown } | undefined)?.status;
    if (typeof status === 'number' && status >= 400) return { kind: kindForStatus(status), status };
    if (error instanceof TypeError && code === undefined && (error as { cause?: unknown }).cause !== undefined) {
      // fetch's "fetch failed" / "terminated" with a cause that names no code: the connection went away.
      return { kind: 'unreachable', detail: `connection to ${this.config.baseUrl} failed` };
    }
    return { kind: 'server' };
  }
}

/** Rejects with an AbortError once `signal` aborts: race it against work that does not take the signal. */
export function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = (): void => reject(new DOMException('aborted', 'AbortError'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** undici errors carry codes such as UND_ERR_SOCKET that do not match the E… pattern of systemErrorCode. */
function undiciCode(error: unknown): string | undefined {
  let cur: unknown = error;
  for (let depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('UND_ERR')) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  return 'unknown error';
}
