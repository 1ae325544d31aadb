/**
 * The provider layer's contract. One class per provider kind implements `Provider`; OpenAI-shaped servers
 * (cloud presets, LM Studio, vLLM, llama.cpp server) are configuration of one class.
 */
export type ProviderKind = 'ollama' | 'openai-compatible' | 'llamacpp' | 'embedded';

export const PROVIDER_KINDS: readonly ProviderKind[] = ['ollama', 'openai-compatible', 'llamacpp', 'embedded'];

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  /** The answer budget in tokens. */
  maxTokens?: number;
  /** The task's context size in tokens: an upper bound on the window asked of the server. */
  contextSize?: number;
  signal?: AbortSignal;
}

/** A streamed chat yields text deltas, then at most one usage event at the end. */
export type ChatEvent =
  | { type: 'text'; text: string }
  | { type: 'usage'; inputTokens?: number; outputTokens?: number };

export interface EmbedRequest {
  model: string;
  input: string[];
  signal?: AbortSignal;
}

export interface EmbedResult {
  vectors: number[][];
  inputTokens?: number;
}

export interface ModelCapabilities {
  chat?: boolean;
  embeddings?: boolean;
  tools?: boolean;
  vision?: boolean;
}

export interface ModelInfo {
  /** The model's name as the provider knows it (e.g. "qwen2.5-coder:7b"). */
  id: string;
  providerId: string;
  contextLength?: number;
  capabilities: ModelCapabilities;
  sizeBytes?: number;
  family?: string;
}

export interface HealthInfo {
  ok: true;
  latencyMs: number;
  version?: string;
  modelCount?: number;
}

export interface ProviderConfig {
  id: string;
  kind: ProviderKind;
  baseUrl: string;
  /** Whether requests to it stay on this machine (or a host the user marked local). */
  local: boolean;
  preset?: string;
  apiKeyEnv?: string;
  /** Kind `embedded`: a GGUF file or a folder of them (default: the models folder). */
  modelPath?: string;
}

export interface Provider {
  readonly config: ProviderConfig;
  /** Streams a chat answer. Throws ProviderError (kinds: unreachable, timeout, auth, modelMissing, …). */
  chat(request: ChatRequest): AsyncIterable<ChatEvent>;
  /** Embeds inputs, batching as the server allows. Vectors come back in input order. */
  embed(request: EmbedRequest): Promise<EmbedResult>;
  /** Models the server has, with context length and capabilities where it tells. */
  listModels(signal?: AbortSignal): Promise<ModelInfo[]>;
  /** A cheap probe: resolves when the server answers, throws ProviderError otherwise. */
  health(signal?: AbortSignal): Promise<HealthInfo>;
  /** Exact token counts by the model's own tokenizer, where the provider has one (kind `embedded`). */
  countTokens?(model: string, texts: string[], signal?: AbortSignal): Promise<number[]>;
}
