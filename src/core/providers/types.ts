/**
 * The provider layer's contract. One class per provider kind implements `Provider`; OpenAI-shaped servers
 * (cloud presets, LM Studio, vLLM, llama.cpp server) are configuration of one class.
 */
import type { ProviderKind } from '../../protocol/vocabulary';

export type { ProviderKind };

export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** A function call the model made: `arguments` is always a JSON string (an object's text), whatever the server sent. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * An image a user message carries (OpenAI's `image_url` part with a data URL, Ollama's `images`, VS Code's
 * LanguageModelDataPart): the bytes base64-encoded, without a `data:` prefix. Only models with vision receive it.
 */
export interface ChatImage {
  /** `image/png`, `image/jpeg`, … */
  mimeType: string;
  /** Base64 of the image's bytes. */
  data: string;
  /** OpenAI's `detail` (passed to servers that take it). */
  detail?: 'auto' | 'low' | 'high';
}

/**
 * One message of a conversation. An assistant message may carry the tool calls it made (its `content` then often
 * ''); a `tool` message carries one call's result in `content` and the call's id in `toolCallId`. A user message
 * may carry images after its text (`imageParts`); text-only callers never set it.
 */
export interface ChatMessage {
  role: Role;
  content: string;
  /** User messages: images sent with the text (after it), to models with vision only. */
  imageParts?: ChatImage[];
  /** Assistant messages: the calls the model made in that turn, in order. */
  toolCalls?: ToolCall[];
  /** Tool messages: the id of the call this is the result of. */
  toolCallId?: string;
  /** Tool messages: the function's name, where the caller knows it (else found from the call with `toolCallId`). */
  toolName?: string;
}

/** A JSON Schema object, passed to servers as given. */
export type JsonSchema = Record<string, unknown>;

/** A function the model may call. */
export interface ToolSpec {
  name: string;
  description?: string;
  /** The arguments' JSON Schema (an object schema). */
  parameters?: JsonSchema;
}

/** Whether the model may (`auto`), must not (`none`) or must (`required`, or this named function) call a tool. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** Structured output: any JSON object, or JSON that matches a schema. */
export type ResponseFormat = { type: 'json_object' } | { type: 'json_schema'; name?: string; schema: JsonSchema; strict?: boolean };

/** Why an answer ended: done, out of answer budget, to let the caller run the tool calls it made, or filtered. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  /** The answer budget in tokens. */
  maxTokens?: number;
  /** The task's context size in tokens: an upper bound on the window asked of the server. */
  contextSize?: number;
  /** Sampling parameters a caller set (the gateway's clients, other extensions); every provider kind passes them on. */
  sampling?: SamplingOptions;
  signal?: AbortSignal;
  /**
   * How long to wait for the first output (text, reasoning, a tool call) before failing with `timeout`. The router
   * passes switchyard.routing.firstTokenTimeoutMs, so the setting governs; absent, the provider's own default
   * (DEFAULT_FIRST_TOKEN_TIMEOUT_MS, for callers without a router).
   */
  firstTokenTimeoutMs?: number;
  /**
   * The gateway's streaming requests: a provider that speaks OpenAI's protocol may hand the server's SSE events on
   * as they arrive (one `relay` event instead of `text` events) rather than parse and re-frame every token.
   * Providers that cannot ignore it and stream text.
   */
  relay?: RelayOptions;
  /**
   * Functions the model may call. Tool-call streams differ between servers and are normalised by the provider: as
   * events (toolCalls.ts), or, relayed, by the relay, which passes on only events already in OpenAI's shape.
   */
  tools?: ToolSpec[];
  /** Default `auto`. Kinds that cannot force a call pass the tools and let the model choose (see each provider). */
  toolChoice?: ToolChoice;
  /** Whether the model may make several calls in one turn (passed to servers that take it). */
  parallelToolCalls?: boolean;
  /** Structured output (OpenAI's `response_format`; Ollama's `format`). */
  responseFormat?: ResponseFormat;
}

/**
 * What a caller (a chat turn, a gateway request) asks of the answer, passed to whichever candidate answers: overrides
 * of the candidate's parameters, sampling, the functions the model may call, structured output.
 */
export interface AnswerOptions {
  temperature?: number;
  maxTokens?: number;
  sampling?: SamplingOptions;
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
}

/** OpenAI's sampling parameters beyond temperature, in our names. */
export interface SamplingOptions {
  /** Up to 4 strings; the answer ends before the first one the model writes. */
  stop?: string[];
  topP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

export interface RelayOptions {
  /** The value of every chunk's `model` field (the gateway's "provider/model"). */
  model: string;
  /** The client asked for `stream_options.include_usage`: keep the usage chunk and fields (else they are dropped). */
  includeUsage: boolean;
}

/** Where a relayed answer's SSE goes. `write` returning false pauses the server until `onDrain` calls back. */
export interface RelaySink {
  /** Complete events as the server's bytes in a latin1 string (one character per byte): write with encoding 'latin1'. */
  write(bytes: string): boolean;
  onDrain(resume: () => void): void;
}

/**
 * An answer relayed from an OpenAI-compatible server: complete SSE events (`data: {…}` chunks, model renamed, usage
 * as the client asked, without the closing `data: [DONE]`), starting with the first byte the server sent. The
 * provider's stream ends (with a usage event) once the server's answer is complete.
 */
export interface RelayedAnswer {
  /** Starts delivering: events received so far at once, the rest as they arrive. Called once. */
  pipe(sink: RelaySink): void;
  /** Bytes of answer text seen so far (for a token estimate when the server reports no usage). */
  readonly textLength: number;
}

/** A tool call starts: `index` numbers the answer's calls from 0 in the order they started. */
export interface ToolCallStartEvent {
  type: 'toolCall';
  index: number;
  id: string;
  name: string;
}

/** A piece of a call's arguments: the pieces of one index, joined, are the arguments' JSON text. */
export interface ToolCallArgsEvent {
  type: 'toolCallArgs';
  index: number;
  text: string;
}

/** A call's arguments are complete (valid JSON, `{}` when the server sent none). */
export interface ToolCallEndEvent {
  type: 'toolCallEnd';
  index: number;
}

/** Why the answer ended: `tool_calls` whenever a call was made (even where the server said `stop`). */
export interface FinishEvent {
  type: 'finish';
  reason: FinishReason;
}

/**
 * A streamed chat yields text deltas (or one relayed answer), then at most one usage event at the end. A thinking
 * model's reasoning comes as `reasoning` deltas, usually before its answer text: it is output (the model is alive, so
 * it stops the first-token timeout) but not answer text (not shown as the answer, not sent back in later turns).
 *
 * Tool calls (requests with `tools`) come as `toolCall` (id, name), then `toolCallArgs` pieces, then `toolCallEnd`,
 * per call; calls may interleave by index. A tool call is output, as text is. Before the usage event, a `finish`
 * event says why the answer ended (not on a relayed answer, whose events carry their own finish reason).
 */
export type ChatEvent =
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'relay'; answer: RelayedAnswer }
  | ToolCallStartEvent
  | ToolCallArgsEvent
  | ToolCallEndEvent
  | FinishEvent
  | { type: 'usage'; inputTokens?: number; outputTokens?: number };

/** The events of a chat that are output (what the caller shows, and what ends the first-token wait): all but usage and finish. */
export type ChatOutputEvent = Exclude<ChatEvent, FinishEvent | { type: 'usage' }>;

export interface EmbedRequest {
  model: string;
  input: string[];
  signal?: AbortSignal;
  /** The time limit of each batch; absent, the provider's own. The router passes its per-candidate limit. */
  timeoutMs?: number;
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
  /** Thinks before it answers (reasoning apart from the answer), as the server reports it. */
  thinking?: boolean;
  /**
   * Fills in the middle when given a suffix (the server applies the model's FIM format): Ollama's `insert` capability
   * (its template reads `.Suffix`); false for a llama.cpp server whose `/infill` said the model has no FIM tokens.
   * Undefined: the server did not say (see `chooseFimTemplate`, which then goes by the model's name).
   */
  fim?: boolean;
}

export interface ModelInfo {
  /** The model's name as the provider knows it (e.g. "qwen2.5-coder:7b"). */
  id: string;
  providerId: string;
  contextLength?: number;
  capabilities: ModelCapabilities;
  sizeBytes?: number;
  family?: string;
  /**
   * Where the model actually runs when that is not the provider's own machine: an Ollama cloud model
   * (`gpt-oss:120b-cloud`, `glm-4.6:cloud`, or any model whose /api/tags or /api/show entry names a `remote_host`) is
   * listed by the local daemon but processes the prompt on Ollama's servers. Such a model is cloud, whatever the
   * provider's URL.
   */
  remoteHost?: string;
  /**
   * The server's prompt template for the model (Ollama /api/show `template`), when it tells: `chooseFimTemplate` reads
   * `.Suffix` and FIM control tokens in it.
   */
  template?: string;
}

/**
 * One fill-in-the-middle request (issue 15). The shape of `FimPrompt` from src/core/complete (`buildFimPrompt`), so
 * a caller passes one as it is.
 * - `raw`: `prompt` is the whole FIM string, sent untemplated (Ollama `raw: true`, `/v1/completions` `prompt`).
 * - `suffix`: `prompt` is the text before the cursor and `suffix` the text after it; the server applies the model's
 *   FIM format (Ollama `/api/generate` `suffix`, llama.cpp `/infill`, `/v1/completions` `suffix`).
 */
export interface CompletionRequest {
  model: string;
  mode: 'raw' | 'suffix';
  prompt: string;
  suffix?: string;
  /** Other files' snippets (llama.cpp `input_extra`); servers without such a field ignore them. */
  extra?: readonly { filename: string; text: string }[];
  stop?: readonly string[];
  /** The answer budget (Ollama `num_predict`, `max_tokens`, llama.cpp `n_predict`). */
  maxTokens?: number;
  /** Default 0.1 (completions want the likeliest text); clamped to 0..0.2 where the kind says so. */
  temperature?: number;
  /** Cancels the request at the server (the HTTP request is aborted). */
  signal?: AbortSignal;
  /** The time limit; absent, the provider's own. The router passes its per-candidate limit. */
  timeoutMs?: number;
}

export interface CompletionResult {
  /** The model's text, as the server sent it (stops cut by the server; post-processing is the caller's). */
  text: string;
  finishReason?: FinishReason;
  inputTokens?: number;
  outputTokens?: number;
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
  /**
   * Fills in the middle (inline completions). Throws ProviderError like `chat`; kind `unsupported` when the model
   * cannot fill in the middle (llama.cpp without FIM tokens, an Ollama model without `insert` asked for a suffix).
   */
  complete?(request: CompletionRequest): Promise<CompletionResult>;
}
