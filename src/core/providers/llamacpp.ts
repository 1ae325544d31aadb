/**
 * The llama.cpp server (`llama-server`): OpenAI routes under /v1 for chat and embeddings, plus its own /health
 * (which says when the model is still loading) and /props (the context size it actually serves).
 */
import { ProviderError } from '../errors';
import { HttpStatusError } from './base';
import type { ProviderDeps } from './base';
import { OpenAICompatibleProvider } from './openaiCompatible';
import type { OpenAICompatibleOptions } from './openaiCompatible';
import type { ModelCapabilities, ModelInfo, ProviderConfig } from './types';

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
  /** The server's root (without /v1): /health and /props live there. */
  private readonly root: string;

  constructor(config: ProviderConfig, deps: ProviderDeps, options: OpenAICompatibleOptions = {}) {
    super(config, deps, { requiresApiKey: false, ...options });
    this.root = config.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  protected override get apiBaseUrl(): string {
    return `${this.root}/v1`;
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
      capabilities: { chat: true, ...m.capabilities, ...propsCapabilities(props) },
    }));
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

function firstNumber(...values: unknown[]): number | undefined {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  return undefined;
}
