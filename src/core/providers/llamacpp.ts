/**
 * The llama.cpp server (`llama-server`): OpenAI routes under /v1 for chat and embeddings, plus its own /health
 * (which says when the model is still loading), /props (the context size it actually serves) and /infill
 * (fill-in-the-middle with the model's own FIM tokens).
 */
import { ProviderError } from '../errors';
import { HttpStatusError, completionTemperature } from './base';
import type { ProviderDeps } from './base';
import { OpenAICompatibleProvider } from './openaiCompatible';
import type { OpenAICompatibleOptions } from './openaiCompatible';
import type { ChatRequest, CompletionRequest, CompletionResult, FinishReason, ModelCapabilities, ModelInfo, ProviderConfig } from './types';

/** What /infill answers (non-streamed): the text, why it stopped, token counts. */
interface InfillResponse {
  content?: unknown;
  stop_type?: unknown;
  tokens_predicted?: unknown;
  tokens_evaluated?: unknown;
}

/** llama-server's `stop_type`: `eos` and `word` (a stop string) end the answer, `limit` is n_predict reached. */
function infillFinish(stopType: unknown): FinishReason | undefined {
  if (stopType === 'limit') return 'length';
  if (stopType === 'eos' || stopType === 'word') return 'stop';
  return undefined;
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

interface LlamaProps {
  n_ctx?: unknown;
  default_generation_settings?: { n_ctx?: unknown };
  build_info?: unknown;
  /** What the chat template can render (servers started with --jinja; older builds send none or `{}`). */
  chat_template_caps?: { supports_tool_calls?: unknown; supports_tools?: unknown };
  /** What the loaded model takes besides text (a multimodal projector loaded: vision). */
  modalities?: { vision?: unknown };
}

/** Tool and vision support as /props states it; a field the server does not send says nothing. */
function propsCapabilities(props: LlamaProps): ModelCapabilities {
  const caps: ModelCapabilities = {};
  const t = props.chat_template_caps;
  const tools = t?.supports_tool_calls ?? t?.supports_tools;
  if (typeof tools === 'boolean') caps.tools = tools;
  if (typeof props.modalities?.vision === 'boolean') caps.vision = props.modalities.vision;
  return caps;
}

export class LlamaCppProvider extends OpenAICompatibleProvider {
  /** The server's root (without /v1): /health, /props and /infill live there. */
  private readonly root: string;
  /** The last /infill answered 501 (the model has no FIM tokens): discovery says `fim: false` until one succeeds. */
  private infillRefused = false;

  constructor(config: ProviderConfig, deps: ProviderDeps, options: OpenAICompatibleOptions = {}) {
    super(config, deps, { requiresApiKey: false, ...options });
    this.root = config.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  protected override get apiBaseUrl(): string {
    return `${this.root}/v1`;
  }

  /**
   * llama-server reads `tool_choice` as a string only: a named function (`{ type: "function", … }`) is taken as
   * "auto" ("Wrong type supplied for parameter 'tool_choice', using default value", llama.cpp 80fb11a), so the model
   * may answer in text. A named choice is sent as that one tool with "required", which the server enforces.
   */
  protected override chatBody(request: ChatRequest): ReturnType<OpenAICompatibleProvider['chatBody']> {
    const choice = request.toolChoice;
    if (typeof choice !== 'object' || !request.tools?.length) return super.chatBody(request);
    return super.chatBody({ ...request, tools: request.tools.filter((t) => t.name === choice.name), toolChoice: 'required' });
  }

  protected override async probe(signal: AbortSignal): Promise<{ version?: string }> {
    const response = await this.fetchImpl(`${this.root}/health`, { signal });
    if (response.status === 503) {
      await response.body?.cancel();
      throw new ProviderError('server', `${this.config.id}: the llama.cpp server is still loading its model (HTTP 503)`, {
        providerId: this.config.id,
        status: 503,
      });
    }
    if (!response.ok) throw await HttpStatusError.from(response);
    await response.body?.cancel();
    return {};
  }

  protected override async discover(signal: AbortSignal): Promise<ModelInfo[]> {
    const [models, props] = await Promise.all([super.discover(signal), this.props(signal)]);
    // /props tells the window the server was started with (-c), which is what a request can use; the
    // model's training context (in /v1/models meta) is only an upper bound.
    const served = firstNumber(props.default_generation_settings?.n_ctx, props.n_ctx);
    return models.map((m) => ({
      ...m,
      contextLength: served ?? m.contextLength,
      capabilities: { chat: true, ...m.capabilities, ...propsCapabilities(props), ...(this.infillRefused ? { fim: false } : {}) },
    }));
  }

  /**
   * `suffix` mode: POST /infill with `input_prefix`, `input_suffix`, `input_extra` (other files, which the server lays
   * out as repository-level FIM where the model has the tokens), `n_predict` and `stop`; the server applies the
   * model's FIM tokens from its vocabulary. A model without them gets HTTP 501 "Infill is not supported by this
   * model: prefix token is missing. …", which fails with kind `unsupported`. `raw` mode (the caller's FIM string)
   * goes to /v1/completions as on any OpenAI-compatible server.
   */
  override async complete(request: CompletionRequest): Promise<CompletionResult> {
    if (request.mode === 'raw') return super.complete(request);
    return this.runCompletion(request, async (signal) => {
      const key = await this.apiKey();
      const body = {
        input_prefix: request.prompt,
        input_suffix: request.suffix ?? '',
        input_extra: (request.extra ?? []).map((s) => ({ filename: s.filename, text: s.text })),
        ...(request.maxTokens !== undefined ? { n_predict: request.maxTokens } : {}),
        ...(request.stop?.length ? { stop: [...request.stop] } : {}),
        temperature: completionTemperature(request.temperature),
        stream: false,
        // Consecutive completions share most of their prefix: the server reuses the evaluated part.
        cache_prompt: true,
      };
      const response = await this.fetchImpl(`${this.root}/infill`, {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify(body),
      });
      if (response.status === 501) {
        const refused = await HttpStatusError.from(response);
        this.infillRefused = true;
        throw new ProviderError(
          'unsupported',
          this.redact(`${this.config.id} (${request.model}): the model cannot fill in the middle (${refused.message})`),
          {
            providerId: this.config.id,
            model: request.model,
            status: 501,
          },
        );
      }
      if (!response.ok) throw await HttpStatusError.from(response);
      const answer = (await response.json()) as InfillResponse;
      this.infillRefused = false;
      return {
        text: typeof answer.content === 'string' ? answer.content : '',
        finishReason: infillFinish(answer.stop_type),
        inputTokens: count(answer.tokens_evaluated),
        outputTokens: count(answer.tokens_predicted),
      };
    });
  }

  /**
   * Exact token counts by the served model's tokenizer: POST /tokenize per text (`add_special`, so the count is what
   * an embedding or prompt of that text costs, BOS/CLS included), a few at a time. A server without the route (a
   * proxy in front of it) fails with kind `unsupported`.
   */
  countTokens(model: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    return this.run(
      async (s) => {
        const key = await this.apiKey();
        const counts = new Array<number>(texts.length);
        let next = 0;
        const one = async (): Promise<void> => {
          while (next < texts.length) {
            const i = next++;
            const response = await this.fetchImpl(`${this.root}/tokenize`, {
              method: 'POST',
              signal: s,
              headers: { 'content-type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
              body: JSON.stringify({ content: texts[i], add_special: true }),
            });
            if (response.status === 404 || response.status === 405) {
              await response.body?.cancel();
              throw new ProviderError('unsupported', `${this.config.id}: the server has no /tokenize`, {
                providerId: this.config.id,
                model,
                status: response.status,
              });
            }
            if (!response.ok) throw await HttpStatusError.from(response);
            const answer = (await response.json()) as { tokens?: unknown };
            if (!Array.isArray(answer.tokens))
              throw new ProviderError('server', `${this.config.id}: /tokenize answered without a token list`, {
                providerId: this.config.id,
                model,
              });
            counts[i] = answer.tokens.length;
          }
        };
        await Promise.all(Array.from({ length: Math.min(TOKENIZE_CONCURRENCY, texts.length) }, one));
        return counts;
      },
      { model, action: 'tokenize' },
      this.requestTimeoutMs,
      signal,
    );
  }

  private async props(signal: AbortSignal): Promise<LlamaProps> {
    const key = await this.apiKey();
    const response = await this.fetchImpl(`${this.root}/props`, {
      signal,
      headers: key ? { Authorization: `Bearer ${key}` } : {},
    });
    if (!response.ok) throw await HttpStatusError.from(response);
    return (await response.json()) as LlamaProps;
  }
}

/** /tokenize requests in flight at once for one count (the server tokenizes on its HTTP threads, not in a slot). */
const TOKENIZE_CONCURRENCY = 8;

function firstNumber(...values: unknown[]): number | undefined {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  return undefined;
}
