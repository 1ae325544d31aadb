/**
 * The router's vocabulary: what it needs (deps), what it routes (requests, candidates) and what it says about a route
 * (attempts, the route event, RouteError). No logic but the task-name lookup; router.ts re-exports all of it.
 */
import { ProviderError, isProviderError, type ErrorKind } from '../errors';
import type { Clock, Logger } from '../host';
import type {
  ChatMessage,
  ChatOutputEvent,
  CompletionRequest,
  FinishReason,
  ModelInfo,
  Provider,
  ProviderConfig,
  ResponseFormat,
  SamplingOptions,
  ToolChoice,
  ToolSpec,
} from '../providers/types';
import { isTaskName, type SwitchyardConfig, type TaskName } from '../config/config';
import type { EgressSource, UsageRecord, UsageSink } from '../usage/ledger';
import type { HealthCache } from './health';
import type { AskCloud, PrivacyContext } from './privacy';
import { imageCount } from '../providers/images';
import type { UsableFimChoice } from '../complete/templates';

/** What the router needs from the provider registry. */
export interface ProviderSource {
  /** Every provider the router may use: configured ones, presets named by candidates, zero-config local ones. */
  list(): ProviderConfig[];
  get(providerId: string): Provider | undefined;
  /**
   * Discovered models, cached (a list older than `maxAgeMs`, when given, is asked for again); throws ProviderError
   * when the server cannot be reached.
   */
  discover(providerId: string, signal?: AbortSignal, maxAgeMs?: number): Promise<ModelInfo[]>;
  /** Discovery already known (no request), or undefined. */
  cachedModels(providerId: string): ModelInfo[] | undefined;
}

export interface RouterDeps {
  config: () => SwitchyardConfig;
  providers: ProviderSource;
  privacy: () => PrivacyContext;
  /** Asks the user before a cloud request under privacy "ask"; absent where nobody can be asked. */
  askCloud?: AskCloud;
  usage?: UsageSink;
  /** Estimated cost in USD of a request to a cloud model, when the catalog knows its price. */
  price?: (provider: ProviderConfig, model: string, inputTokens: number, outputTokens: number) => number | undefined;
  logger?: Logger;
  clock?: Clock;
  health?: HealthCache;
  /** Timeout of the health probe made when every candidate is cooling down. */
  probeTimeoutMs?: number;
  /** Literal secret values of the workspace (its .env files' values), redacted from cloud requests like keys are. */
  secretValues?: () => readonly string[];
}

export interface Candidate {
  providerId: string;
  model: string;
  /** The prompt stays on this machine (or a host the user marked local): a local provider and not a cloud model. */
  local: boolean;
  /** Where the prompt goes: the provider's host, or the cloud host of a model a local daemon serves from the cloud. */
  host?: string;
  temperature?: number;
  maxTokens?: number;
  contextSize?: number;
  /** The task setting's `"tools": false`: the model cannot call tools, whatever discovery says. */
  tools?: boolean;
  /** The task setting's `"vision"`: whether the model takes images, whatever discovery says. */
  vision?: boolean;
}

export interface RouteAttempt {
  providerId: string;
  model: string;
  local: boolean;
  outcome: 'skipped' | 'failed' | 'answered';
  /** Why it was skipped or failed, in words (no secrets, no prompt text). */
  reason?: string;
  kind?: ErrorKind;
  ms?: number;
  /** Skipped because the model cannot serve what the request needs (tool calling, fill-in-the-middle, image input). */
  missing?: 'tools' | 'fim' | 'images';
}

export interface RouteEvent {
  task: TaskName;
  requested: string;
  providerId: string;
  model: string;
  local: boolean;
  /** True when an earlier candidate was skipped or failed. */
  fallback: boolean;
  attempts: RouteAttempt[];
}

/**
 * What Router.chat yields: one route event (who answers, after which attempts), the provider's output events as they
 * stream (text; a thinking model's reasoning; a relayed answer; tool calls, which are output as text is: see
 * ChatEvent), then `done` with the usage record and, where the provider said, why the answer ended (`tool_calls`
 * whenever a call was made).
 */
export type RoutedChatEvent =
  { type: 'route'; route: RouteEvent } | ChatOutputEvent | { type: 'done'; usage: UsageRecord; finish?: FinishReason };

export interface RoutedChatRequest {
  /** A task name, or a virtual model name ("switchyard/chat", "switchyard/<alias>"). */
  task: string;
  /** The messages, the same for every candidate (absent when `promptFor` gives them per candidate). */
  messages?: ChatMessage[];
  /**
   * The messages for each candidate tried, in place of `messages`: a prompt fitted to that candidate (its context
   * window), so a fallback to a smaller model gets one that fits it and one to a larger model is not cut for another's.
   * A ProviderError it throws (`contextOverflow`: the question alone does not fit) is that candidate's failure.
   */
  promptFor?: (candidate: Candidate) => CandidatePrompt | Promise<CandidatePrompt>;
  signal?: AbortSignal;
  /** Overrides of the candidate's parameters. */
  temperature?: number;
  maxTokens?: number;
  /** Sampling parameters the caller set, passed to whichever candidate answers. */
  sampling?: SamplingOptions;
  /** Only this one of the task's candidates ("providerId/model"), with the same health and privacy checks. */
  only?: string;
  /** The gateway's streaming requests: let OpenAI-compatible providers relay the server's events (see ChatRequest.relay). */
  relay?: { includeUsage: boolean };
  /** The workspace files whose text the messages carry (attached selections and files, citations), for the egress record. */
  sources?: EgressSource[];
  /**
   * The caller keeps the answer to itself until it is done (the gateway's non-streamed requests): nothing has reached
   * its user yet, so a candidate that fails mid-answer is recorded as failed and the next may answer, as before the
   * first token. The router then yields the next candidate's route event: the caller drops what it kept of the earlier
   * answer (only the answering candidate's text is returned, never spliced).
   */
  buffered?: boolean;
  /**
   * Functions the model may call (see ChatRequest.tools). A candidate known not to call tools (discovery, the
   * catalog, or the task setting's `"tools": false`) is skipped with the reason "no tool calling"; unknown is tried.
   * A tool call is output: the first-token timeout ends with it, and no other candidate answers after it.
   */
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  /** Structured output, passed to whichever candidate answers. */
  responseFormat?: ResponseFormat;
  /**
   * The messages carry images (found in `messages` when absent; say it with `promptFor`). A candidate known to take
   * none (discovery, the catalog, `"vision": false` in the task's settings) is skipped with "no image input".
   */
  images?: boolean;
}

/** One candidate's prompt (RoutedChatRequest.promptFor): its messages and the workspace files their text carries. */
export interface CandidatePrompt {
  messages: ChatMessage[];
  sources?: EgressSource[];
}

/** What a chat request needs of a model beyond text. */
export interface RequestNeeds {
  tools: boolean;
  /** The messages carry images: only a model with vision can take them. */
  images?: boolean;
}

/**
 * What a request needs: tool calling when it offers tools the model may call; vision when its messages carry images
 * (`images`: the caller says so when its messages come per candidate, from `promptFor`).
 */
export function requestNeeds(request: Pick<RoutedChatRequest, 'tools' | 'toolChoice' | 'messages' | 'images'>): RequestNeeds {
  const images = request.images ?? imageCount(request.messages) > 0;
  return { tools: (request.tools?.length ?? 0) > 0 && request.toolChoice !== 'none', ...(images ? { images } : {}) };
}

export interface RoutedEmbedRequest {
  /** A task or virtual model name; default "embed". */
  task?: string;
  input: string[];
  signal?: AbortSignal;
  /** Per-candidate limit; default the first-token timeout. */
  timeoutMs?: number;
  /** Only this one of the task's candidates ("providerId/model"). */
  only?: string;
  /** The workspace files the inputs come from, for the egress record. */
  sources?: EgressSource[];
}

export interface RoutedEmbedResult {
  vectors: number[][];
  providerId: string;
  model: string;
  local: boolean;
  route: RouteEvent;
  usage: UsageRecord;
}

export interface RoutedCompleteRequest {
  /** A task or virtual model name; default "complete". */
  task?: string;
  /**
   * The request for a candidate, from how its model fills in the middle (`Router.fimChoice`): build it with
   * `buildFimPrompt(choice, context)` (src/core/complete/context.ts). Called once per candidate tried.
   */
  prompt: (choice: UsableFimChoice, candidate: Candidate) => Omit<CompletionRequest, 'model' | 'signal'>;
  /** Aborts the request at the server; an abort never falls back. */
  signal?: AbortSignal;
  /** Per-candidate limit; default the first-token timeout (the answer comes whole). */
  timeoutMs?: number;
  temperature?: number;
  /** Only this one of the task's candidates ("providerId/model"). */
  only?: string;
  /** The workspace files the prompt carries, for the egress record. */
  sources?: EgressSource[];
}

export interface RoutedCompleteResult {
  /** The model's text as the server sent it (post-processing is the caller's). */
  text: string;
  finishReason?: FinishReason;
  providerId: string;
  model: string;
  local: boolean;
  /** How the answering model was asked, and what it was sent (redacted for a cloud candidate): its stops. */
  choice: UsableFimChoice;
  sent: Omit<CompletionRequest, 'model' | 'signal'>;
  route: RouteEvent;
  usage: UsageRecord;
}

export interface RoutePlan {
  task: TaskName;
  candidate: Candidate | null;
  /** The candidate would ask the user first (privacy "ask", no consent yet). */
  asksFirst?: boolean;
  skipped: { providerId: string; model: string; local: boolean; reason: string; kind: ErrorKind }[];
}

/** The error when no candidate could answer; its kind is the most telling failure. */
export class RouteError extends ProviderError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly task: string,
    readonly attempts: RouteAttempt[],
    cause?: unknown,
  ) {
    super(kind, message, { cause, afterOutput: isProviderError(cause) ? cause.afterOutput : false });
    this.name = 'RouteError';
  }
}

/**
 * How old a negative may be before it is checked again: a loopback server's "refused" (see Router.staleNegative), or
 * a local server's model list that has no model for the task or lacks the one named (a model pulled from a terminal
 * since).
 */
export const STALE_NEGATIVE_MS = 2000;

/** Resolves "chat", "switchyard/chat" or a configured alias ("switchyard/fast") to a task. */
export function resolveTaskName(requested: string, aliases: Readonly<Record<string, string>>): TaskName | undefined {
  const name = requested.startsWith('switchyard/') ? requested.slice('switchyard/'.length) : requested;
  if (isTaskName(name)) return name;
  const target = Object.hasOwn(aliases, name) ? aliases[name] : undefined;
  return target !== undefined && isTaskName(target) ? target : undefined;
}

/** What the router's parts share: its deps, the providers' health, and what it learned of models while routing. */
export interface RoutingContext {
  readonly deps: RouterDeps;
  readonly health: HealthCache;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Candidates ("providerId/model") whose server said they cannot fill in the middle, with its words. */
  readonly noFim: Map<string, string>;
}
