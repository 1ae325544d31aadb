/**
 * The router: task → ordered candidates → the first one that can answer.
 *
 * A candidate is skipped when its provider is cooling down after a failure, when the privacy policy forbids it,
 * when discovery says the model is not there, or when the request offers tools and the model is known not to call
 * them (discovery, the catalog, or `"tools": false` in the task's settings). A tried candidate that fails before its
 * first token with a fallback kind (refused, timeout, 5xx, 429, missing model, context overflow, auth) hands over to
 * the next. A failure after tokens (or a tool call) have streamed is reported, never spliced with another model's
 * answer.
 */
import { FALLBACK_KINDS, ProviderError, isProviderError, marksUnhealthy, type ErrorKind } from '../errors';
import { redact, silentLogger, systemClock, type Clock, type Logger } from '../host';
import { describeAttempts, describeCandidate } from '../describe';
import type {
  ChatMessage,
  CompletionRequest,
  FinishReason,
  ModelInfo,
  Provider,
  ProviderConfig,
  RelayedAnswer,
  ResponseFormat,
  SamplingOptions,
  ToolCallArgsEvent,
  ToolCallEndEvent,
  ToolCallStartEvent,
  ToolChoice,
  ToolSpec,
} from '../providers/types';
import { lookupModel } from '../config/catalog';
import { TASKS, closest, isTaskName, splitRef, type CandidateSetting, type SwitchyardConfig, type TaskName } from '../config/config';
import { redactionKinds, type EgressSource, type UsageRecord, type UsageSink } from '../usage/ledger';
import { outbound, uniqueSources } from './egress';
import { HealthCache } from './health';
import { sameModel } from './window';
import { cloudVerdict, type AskCloud, type PrivacyContext } from './privacy';
import { modelRemoteHost } from '../providers/cloudModels';
import { imageCount } from '../providers/images';
import { isLoopbackHost } from '../providers/index';
import { NOT_USABLE, fimChoiceForModel, type FimChoice, type UsableFimChoice } from '../complete/templates';

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

export type RoutedChatEvent =
  | { type: 'route'; route: RouteEvent }
  | { type: 'text'; text: string }
  /** A thinking model's reasoning, as it streams (before or between text events; never part of the answer text). */
  | { type: 'reasoning'; text: string }
  /** Instead of text events, when the request asked for a relay and the provider can (see ChatRequest.relay). */
  | { type: 'relay'; answer: RelayedAnswer }
  /** Requests with `tools`: a call starts, its argument text comes in pieces, it ends (see ChatEvent). Output, as text is. */
  | ToolCallStartEvent
  | ToolCallArgsEvent
  | ToolCallEndEvent
  /** `finish`: why the answer ended, where the provider said (`tool_calls` whenever a call was made). */
  | { type: 'done'; usage: UsageRecord; finish?: FinishReason };

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

function isEmbeddingModel(m: ModelInfo): boolean {
  return m.capabilities.embeddings === true || /embed/i.test(m.id);
}

export class Router {
  readonly health: HealthCache;
  /** Candidates ("providerId/model") whose server said they cannot fill in the middle, with its words. */
  private readonly noFim = new Map<string, string>();
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(private readonly deps: RouterDeps) {
    this.logger = deps.logger ?? silentLogger;
    this.clock = deps.clock ?? systemClock;
    this.health = deps.health ?? new HealthCache(deps.config().cooldownMs, this.clock);
  }

  private task(requested: string): TaskName {
    const task = resolveTaskName(requested, this.deps.config().aliases);
    if (!task) {
      const aliases = Object.keys(this.deps.config().aliases);
      throw new ProviderError(
        'config',
        `Unknown task or model name "${requested}": use one of ${TASKS.map((t) => `switchyard/${t}`).join(', ')}${aliases.length ? ` or an alias (${aliases.map((a) => `switchyard/${a}`).join(', ')})` : ''}, or add an alias in switchyard.aliases.`,
      );
    }
    return task;
  }

  /**
   * The task's candidates in order, with "auto" expanded to the models found on local servers
   * (discovery is attempted for local providers not yet known, with a short timeout).
   */
  async candidates(task: TaskName, signal?: AbortSignal, fresh = false): Promise<{ list: Candidate[]; unknownProviders: string[] }> {
    const config = this.deps.config();
    const list: Candidate[] = [];
    const unknownProviders: string[] = [];
    const byId = new Map(this.deps.providers.list().map((p) => [p.id, p]));
    for (const setting of config.tasks[task]) {
      if (setting.ref === 'auto') {
        list.push(...(await this.autoCandidates(task, setting, signal, fresh)));
        continue;
      }
      const ref = splitRef(setting.ref);
      if (!ref) continue;
      const provider = byId.get(ref.providerId);
      if (!provider) {
        unknownProviders.push(ref.providerId);
        continue;
      }
      // Whether a model a local daemon lists is really local is discovery's answer (Ollama cloud models under any
      // name): ask it first when it is not known yet. A server that cannot answer fails the request anyway.
      if (provider.local && provider.kind === 'ollama' && !this.deps.providers.cachedModels(provider.id) && this.health.coolingFor(provider.id) === 0) {
        await this.deps.providers.discover(provider.id, signal).catch(() => undefined);
      }
      // A local server's list that lacks the model is trusted for STALE_NEGATIVE_MS only: it may have been pulled
      // from a terminal since, and "model not found" must not rest on an older list.
      if (provider.local && this.knownMissing({ providerId: provider.id, model: ref.model }) && this.health.coolingFor(provider.id) === 0) {
        await this.deps.providers.discover(provider.id, signal, STALE_NEGATIVE_MS).catch(() => undefined);
      }
      list.push(this.candidateFor(provider, ref.model, setting));
    }
    // A model named twice (explicitly and through "auto") is tried once.
    const seen = new Set<string>();
    return {
      list: list.filter((c) => {
        const key = `${c.providerId}/${c.model}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      }),
      unknownProviders,
    };
  }

  private candidateFor(provider: ProviderConfig, model: string, setting: CandidateSetting, info?: ModelInfo): Candidate {
    const remote = this.remoteHost(provider, model, info);
    return {
      providerId: provider.id,
      model,
      local: provider.local && remote === undefined,
      host: remote ?? hostOf(provider.baseUrl),
      temperature: setting.temperature,
      maxTokens: setting.maxTokens,
      contextSize: setting.contextSize,
      ...(setting.tools === false ? { tools: false } : {}),
      ...(setting.vision !== undefined ? { vision: setting.vision } : {}),
    };
  }

  /** The cloud host of a model its provider serves from elsewhere (an Ollama cloud model), else undefined. */
  private remoteHost(provider: ProviderConfig, model: string, info?: ModelInfo): string | undefined {
    return modelRemoteHost(provider, model, info ?? this.deps.providers.cachedModels(provider.id)?.find((m) => sameModel(provider, m.id, model)));
  }

  /**
   * A server on this machine that refused a connection may have started since (a user starting Ollama after VS Code):
   * asking again costs a refused loopback connect, well under a millisecond. A request (`fresh`) always asks again,
   * so it never fails with "no model" for a refusal it did not see itself; a plan (the status bar, Show Routes) trusts
   * a refusal for STALE_NEGATIVE_MS, however long the cool-down.
   */
  private staleNegative(p: ProviderConfig, fresh: boolean): boolean {
    const s = this.health.get(p.id);
    return !!s && !s.healthy && s.lastKind === 'unreachable' && isLoopbackHost(p.baseUrl) && (fresh || this.clock.now() - s.checkedAt > STALE_NEGATIVE_MS);
  }

  private async autoCandidates(task: TaskName, setting: CandidateSetting, signal?: AbortSignal, fresh = false): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const locals = this.deps.providers.list().filter((p) => p.local);
    const found = await Promise.all(
      locals.map(async (p) => {
        const cooling = this.health.coolingFor(p.id) > 0;
        if (cooling && !this.staleNegative(p, fresh)) return { p, models: this.deps.providers.cachedModels(p.id) ?? [] };
        try {
          let models = await this.deps.providers.discover(p.id, signal);
          // A list with no model for this task is trusted for STALE_NEGATIVE_MS only (a model pulled since).
          if (!models.some((m) => this.autoServes(task, p, m))) models = await this.deps.providers.discover(p.id, signal, STALE_NEGATIVE_MS);
          // It answered: the refusal that cooled it down is over.
          if (cooling) this.health.markHealthy(p.id);
          return { p, models };
        } catch (e) {
          if (isProviderError(e) && marksUnhealthy(e)) this.health.markFailed(p.id, e.kind, e.message);
          return { p, models: [] as ModelInfo[] };
        }
      }),
    );
    for (const { p, models } of found) {
      for (const m of models) if (this.autoServes(task, p, m)) out.push(this.candidateFor(p, m.id, setting, m));
    }
    // Completions: models that fill in the middle first (a stable sort keeps discovery's order within each group).
    if (task === 'complete') return out.sort((a, b) => Number(!this.fimChoice(a).usable) - Number(!this.fimChoice(b).usable));
    return out;
  }

  /**
   * A model the server lists that the missing one was probably meant to be: the same name with another tag
   * ("qwen2.5-coder" when only "qwen2.5-coder:7b" is pulled), or a typo away ("qwen2.5-coder:7").
   */
  private closeModel(c: Pick<Candidate, 'providerId' | 'model'>): string | undefined {
    const ids = (this.deps.providers.cachedModels(c.providerId) ?? []).map((m) => m.id);
    const base = (id: string) => id.split(':')[0]!.toLowerCase();
    const sameBase = ids.filter((id) => base(id) === base(c.model));
    return sameBase.length === 1 ? sameBase[0] : closest(c.model, ids);
  }

  /** Whether "auto" takes this discovered model for the task. */
  private autoServes(task: TaskName, p: ProviderConfig, m: ModelInfo): boolean {
    // "auto" means models on local servers: a model a local daemon serves from the cloud is never one.
    if (this.remoteHost(p, m.id, m) !== undefined) return false;
    return task === 'complete' ? !isEmbeddingModel(m) : task === 'embed' ? isEmbeddingModel(m) : m.capabilities.chat !== false && !isEmbeddingModel(m);
  }

  private knownMissing(c: Pick<Candidate, 'providerId' | 'model'>): boolean {
    const provider = this.deps.providers.list().find((p) => p.id === c.providerId);
    const models = this.deps.providers.cachedModels(c.providerId);
    if (!provider || !models || models.length === 0) return false;
    return !models.some((m) => sameModel(provider, m.id, c.model));
  }

  /**
   * What the router would use now and why the others are skipped. With `probe`, providers are health-checked
   * and local ones discovered first (for "Show Routes" and `switchyard route`).
   */
  async plan(requested: string, options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<RoutePlan> {
    const task = this.task(requested);
    const { list, unknownProviders } = await this.candidates(task, options.signal);
    const plan: RoutePlan = { task, candidate: null, skipped: [] };
    for (const id of unknownProviders) {
      plan.skipped.push({ providerId: id, model: '', local: false, reason: `no provider "${id}" in switchyard.providers`, kind: 'config' });
    }
    const canAsk = this.deps.askCloud !== undefined;
    if (options.probe) {
      // Never contact a cloud provider the policy has not allowed outright, not even for a health probe: under "ask"
      // the user has not said yes yet (a probe sends the key and reveals the machine, if not the code).
      const allowedCloud = this.cloudAllowedOutright() && (task !== 'complete' || this.deps.config().completion.allowCloud);
      const ids = [...new Set(list.filter((c) => c.local || allowedCloud).map((c) => c.providerId))];
      await Promise.all(ids.map((id) => this.probe(id, options.signal)));
      await Promise.all(
        ids
          .filter((id) => this.health.coolingFor(id) === 0 && list.some((c) => c.providerId === id && c.local))
          .map((id) => this.deps.providers.discover(id, options.signal).catch(() => undefined)),
      );
    }
    for (const c of list) {
      const skip = this.skipReason(c, canAsk, false, task) ?? this.fimGap(task, c);
      if (skip) {
        plan.skipped.push({ providerId: c.providerId, model: c.model, local: c.local, ...skip });
        continue;
      }
      if (!plan.candidate) {
        plan.candidate = c;
        if (!c.local && cloudVerdict(this.deps.privacy(), canAsk).allowed === 'ask') plan.asksFirst = true;
      }
    }
    return plan;
  }

  /** Cloud providers may be contacted without asking anyone (privacy "allow", nothing stricter applies). */
  cloudAllowedOutright(): boolean {
    return cloudVerdict(this.deps.privacy(), this.deps.askCloud !== undefined).allowed === true;
  }

  /**
   * Whether a request that is not a routed task (pulling or deleting a model) may go to a provider now, under the
   * same policy as routed requests: local providers always; a cloud one as the privacy mode says, asking first under
   * "ask" where someone can be asked.
   */
  async mayContact(providerId: string, what: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const provider = this.deps.providers.list().find((p) => p.id === providerId);
    if (!provider) return { ok: false, reason: `no provider "${providerId}" in switchyard.providers` };
    if (provider.local) return { ok: true };
    const verdict = cloudVerdict(this.deps.privacy(), this.deps.askCloud !== undefined);
    const refused = (why: string) => ({ ok: false as const, reason: `${providerId} is a cloud provider and ${why}: nothing was sent to it` });
    if (verdict.allowed === false) return refused(verdict.reason);
    if (verdict.allowed === 'ask' && !(await this.deps.askCloud!({ task: what, providerId, model: '' }))) return refused('you chose to stay local');
    return { ok: true };
  }

  /** Probes a provider's health now and records the result. */
  async probe(providerId: string, signal?: AbortSignal): Promise<boolean> {
    const provider = this.deps.providers.get(providerId);
    if (!provider) return false;
    const timeout = AbortSignal.timeout(this.deps.probeTimeoutMs ?? 2000);
    try {
      await provider.health(signal ? AbortSignal.any([signal, timeout]) : timeout);
      this.health.markHealthy(providerId);
      return true;
    } catch (e) {
      const kind = isProviderError(e) ? e.kind : 'unreachable';
      const message = e instanceof Error ? e.message : String(e);
      if (kind === 'auth') {
        // Reachable but our key is refused: not a health problem of the server.
        return true;
      }
      this.health.markFailed(providerId, kind, message);
      return false;
    }
  }

  private skipReason(c: Candidate, canAsk: boolean, ignoreCooldown = false, task?: TaskName): { reason: string; kind: ErrorKind } | undefined {
    if (!c.local) {
      if (task === 'complete' && !this.deps.config().completion.allowCloud) {
        return { reason: 'cloud completions are off (switchyard.completion.allowCloud): each one would send the code around the cursor', kind: 'policy' };
      }
      const verdict = cloudVerdict(this.deps.privacy(), canAsk);
      if (verdict.allowed === false) return { reason: verdict.reason, kind: 'policy' };
    }
    const cooling = this.health.coolingFor(c.providerId);
    if (cooling > 0 && !ignoreCooldown) {
      const s = this.health.get(c.providerId);
      return { reason: `${s?.lastReason ?? 'failed recently'} (cooling down, next try in ${Math.ceil(cooling / 1000)} s)`, kind: s?.lastKind ?? 'unreachable' };
    }
    if (this.knownMissing(c)) {
      const near = this.closeModel(c);
      return { reason: `model "${c.model}" is not on ${c.providerId}${near ? `; did you mean "${c.providerId}/${near}"?` : ''}`, kind: 'modelMissing' };
    }
    return undefined;
  }

  /**
   * Why a candidate cannot serve what the request needs, or undefined (also when nobody knows: unknown is tried).
   * The task setting's `"tools": false` first, then what discovery reported of the model, then, for cloud
   * models, the catalog.
   */
  private capabilityGap(c: Candidate, needs: RequestNeeds | undefined): { reason: string; missing: 'tools' | 'images' } | undefined {
    const images = needs?.images ? this.visionGap(c) : undefined;
    if (images) return { reason: images, missing: 'images' };
    const tools = this.toolsGap(c, needs);
    return tools ? { reason: tools, missing: 'tools' } : undefined;
  }

  /**
   * Why a candidate takes no images, or undefined (unknown is tried): the task setting's `"vision"`, then discovery
   * (Ollama /api/show, llama.cpp /props `modalities`), then the catalog.
   */
  private visionGap(c: Candidate): string | undefined {
    const v = this.visionOf(c);
    if (v?.takes !== false) return undefined;
    if (v.source === 'setting') return 'no image input ("vision": false in switchyard.tasks)';
    if (v.source === 'server') return `no image input (${c.providerId} reports that ${c.model} takes no images)`;
    return `no image input (the model catalog lists ${c.model} without vision)`;
  }

  /** Whether a candidate takes images and who says so (first of: the task setting, discovery, the catalog). */
  private visionOf(c: Candidate): { takes: boolean; source: 'setting' | 'server' | 'catalog' } | undefined {
    if (c.vision !== undefined) return { takes: c.vision, source: 'setting' };
    const provider = this.deps.providers.list().find((p) => p.id === c.providerId);
    if (!provider) return undefined;
    const known = this.deps.providers.cachedModels(c.providerId)?.find((m) => sameModel(provider, m.id, c.model))?.capabilities.vision;
    if (known !== undefined) return { takes: known, source: 'server' };
    // The catalog marks the models that take images (`vision: true`); an entry without it takes none.
    const listed = lookupModel(provider.preset ?? provider.kind, c.model);
    return listed === undefined ? undefined : { takes: listed.capabilities.vision === true, source: 'catalog' };
  }

  /**
   * Whether a task's route can take images (VS Code's `imageInput`): a candidate the privacy policy may reach is known
   * to take them (task setting, discovery or catalog; unknown does not count). Candidates without vision are skipped
   * for such requests, so one is enough.
   */
  async routeTakesImages(requested: string, signal?: AbortSignal): Promise<boolean> {
    const { list } = await this.candidates(this.task(requested), signal);
    const cloud = cloudVerdict(this.deps.privacy(), this.deps.askCloud !== undefined).allowed !== false;
    return list.some((c) => (c.local || cloud) && this.visionOf(c)?.takes === true);
  }

  /**
   * Whether a task's route can answer a request with tools (VS Code's `toolCalling`, which Agent mode needs): a
   * candidate the privacy policy may reach is not known to lack tool calling (unknown counts as able: the server
   * says so when asked). Candidates without it are skipped for such requests, so one is enough.
   */
  async routeCallsTools(requested: string, signal?: AbortSignal): Promise<boolean> {
    const { list } = await this.candidates(this.task(requested), signal);
    const cloud = cloudVerdict(this.deps.privacy(), this.deps.askCloud !== undefined).allowed !== false;
    return list.some((c) => (c.local || cloud) && this.toolsGap(c, { tools: true }) === undefined);
  }

  private toolsGap(c: Candidate, needs: RequestNeeds | undefined): string | undefined {
    if (!needs?.tools) return undefined;
    if (c.tools === false) return 'no tool calling ("tools": false in switchyard.tasks)';
    const provider = this.deps.providers.list().find((p) => p.id === c.providerId);
    if (!provider) return undefined;
    const known = this.deps.providers.cachedModels(c.providerId)?.find((m) => sameModel(provider, m.id, c.model));
    const discovered = known?.capabilities.tools;
    if (discovered === false) return `no tool calling (${c.providerId} reports that ${c.model} cannot call tools)`;
    if (discovered === undefined && !c.local && lookupModel(provider.preset ?? provider.kind, c.model)?.capabilities.tools === false) {
      return `no tool calling (the model catalog lists ${c.model} without tool support)`;
    }
    return undefined;
  }

  /**
   * How a candidate's model fills in the middle (templates.ts, from what discovery knows of it), or why it cannot:
   * an instruct-only model, or one whose server refused fill-in-the-middle (`unsupported`) for this router's life.
   */
  fimChoice(c: Candidate): FimChoice {
    const refused = this.noFim.get(`${c.providerId}/${c.model}`);
    if (refused) return { usable: false, reason: `${NOT_USABLE}: ${refused}` };
    const provider = this.deps.providers.list().find((p) => p.id === c.providerId);
    const info = provider && this.deps.providers.cachedModels(c.providerId)?.find((m) => sameModel(provider, m.id, c.model));
    return fimChoiceForModel(provider?.kind ?? '', c.model, info);
  }

  /** For the `complete` task: why the candidate cannot fill in the middle ("no fill-in-the-middle: …"), or undefined. */
  private fimGap(task: TaskName, c: Candidate): { reason: string; kind: ErrorKind } | undefined {
    if (task !== 'complete') return undefined;
    const choice = this.fimChoice(c);
    return choice.usable ? undefined : { reason: `no fill-in-the-middle: ${choice.reason.replace(`${NOT_USABLE}: `, '')}`, kind: 'unsupported' };
  }

  /**
   * The candidates to try, in order, recording every skipped one in `attempts`. When everything is cooling down
   * the cooled-down providers are probed (cheap) rather than failing without trying.
   */
  private async eligible(task: TaskName, attempts: RouteAttempt[], signal?: AbortSignal, only?: string, needs?: RequestNeeds): Promise<{ eligible: Candidate[]; order: Candidate[] }> {
    const all = await this.candidates(task, signal, true);
    const list = only === undefined ? all.list : all.list.filter((c) => `${c.providerId}/${c.model}` === only);
    const unknownProviders = only === undefined ? all.unknownProviders : [];
    for (const id of unknownProviders) {
      attempts.push({ providerId: id, model: '', local: false, outcome: 'skipped', reason: `no provider "${id}" in switchyard.providers`, kind: 'config' });
    }
    const canAsk = this.deps.askCloud !== undefined;
    const eligible: Candidate[] = [];
    const cooledDown: Candidate[] = [];
    if (needs?.tools || needs?.images) {
      // Whether a local model calls tools or takes images is discovery's answer (Ollama /api/show, llama.cpp /props):
      // ask servers not known yet (a loopback request, cached after).
      const ids = [...new Set(list.filter((c) => c.local && ((needs.images && c.vision === undefined) || (needs.tools && c.tools !== false)) && !this.deps.providers.cachedModels(c.providerId) && this.health.coolingFor(c.providerId) === 0).map((c) => c.providerId))];
      await Promise.all(ids.map((id) => this.deps.providers.discover(id, signal).catch(() => undefined)));
    }
    for (const c of list) {
      const policy = this.skipReason(c, canAsk, false, task);
      const fim = policy?.kind === 'policy' ? undefined : this.fimGap(task, c);
      const gap = policy?.kind === 'policy' ? undefined : this.capabilityGap(c, needs);
      const skip = gap ? { reason: gap.reason, kind: 'config' as const } : policy;
      if (fim) attempts.push({ ...c, outcome: 'skipped', reason: fim.reason, kind: fim.kind, missing: 'fim' });
      else if (!skip) eligible.push(c);
      else if (gap) attempts.push({ ...c, outcome: 'skipped', reason: skip.reason, kind: skip.kind, missing: gap.missing });
      else if (skip.kind !== 'policy' && skip.kind !== 'modelMissing' && this.health.coolingFor(c.providerId) > 0) cooledDown.push(c);
      else attempts.push({ ...c, outcome: 'skipped', reason: skip.reason, kind: skip.kind });
    }
    const probeAll = eligible.length === 0;
    for (const c of cooledDown) {
      if (probeAll && (await this.probe(c.providerId, signal))) eligible.push(c);
      else attempts.push({ ...c, outcome: 'skipped', reason: this.skipReason(c, canAsk, false, task)?.reason ?? 'unhealthy', kind: this.health.get(c.providerId)?.lastKind ?? 'unreachable' });
    }
    return { eligible: list.filter((c) => eligible.includes(c)), order: list };
  }

  /** Under privacy "ask", asks before a cloud candidate; records a refusal as a skip. */
  private async consented(task: TaskName, c: Candidate, attempts: RouteAttempt[]): Promise<boolean> {
    if (c.local || cloudVerdict(this.deps.privacy(), this.deps.askCloud !== undefined).allowed !== 'ask') return true;
    if (await this.deps.askCloud!({ task, providerId: c.providerId, model: c.model })) return true;
    attempts.push({ ...c, outcome: 'skipped', reason: 'you chose to stay local', kind: 'policy' });
    return false;
  }

  /** Streams a chat answer from the first candidate that can give one. Throws RouteError when none can. */
  async *chat(request: RoutedChatRequest): AsyncGenerator<RoutedChatEvent> {
    const startedAt = this.clock.now();
    const at = new Date().toISOString();
    const task = this.task(request.task);
    const config = this.deps.config();
    const attempts: RouteAttempt[] = [];
    const { eligible, order } = await this.eligible(task, attempts, request.signal, request.only, requestNeeds(request));
    const tools = request.tools?.length ? request.tools : undefined;

    let lastError: ProviderError | undefined;
    for (const c of eligible) {
      if (request.signal?.aborted) break;
      if (!(await this.consented(task, c, attempts))) continue;
      const provider = this.deps.providers.get(c.providerId);
      if (!provider) continue;
      let prompt: CandidatePrompt;
      try {
        prompt = request.promptFor ? await request.promptFor(c) : { messages: request.messages ?? [] };
      } catch (e) {
        const err = this.toProviderError(e, c, request.signal);
        attempts.push({ ...c, outcome: 'failed', reason: err.message, kind: err.kind });
        lastError = err;
        if (err.kind === 'canceled' || !FALLBACK_KINDS.has(err.kind)) break;
        continue;
      }
      const sent = this.outbound(task, c, messageTexts(prompt.messages), withImageNote(prompt.sources ?? request.sources, imageCount(prompt.messages)), attempts);
      if (!sent) continue;
      const messages = c.local ? prompt.messages : withTexts(prompt.messages, sent);
      const attemptStart = this.clock.now();
      const controller = new AbortController();
      const onAbort = () => controller.abort(request.signal?.reason);
      request.signal?.addEventListener('abort', onAbort, { once: true });
      let streamed = false;
      let finished = false;
      let inputTokens: number | undefined;
      let outputTokens: number | undefined;
      let text = '';
      let relayed: RelayedAnswer | undefined;
      let ttftMs: number | undefined;
      let finish: FinishReason | undefined;
      let callText = 0;
      try {
        const iterator = provider
          .chat({
            model: c.model,
            messages,
            temperature: request.temperature ?? c.temperature,
            maxTokens: request.maxTokens ?? c.maxTokens,
            contextSize: c.contextSize,
            sampling: request.sampling,
            signal: controller.signal,
            relay: request.relay ? { includeUsage: request.relay.includeUsage, model: `${c.providerId}/${c.model}` } : undefined,
            ...(tools ? { tools, toolChoice: request.toolChoice, parallelToolCalls: request.parallelToolCalls } : {}),
            ...(request.responseFormat ? { responseFormat: request.responseFormat } : {}),
          })
          [Symbol.asyncIterator]();
        let next = await this.firstEvent(iterator, controller, config.firstTokenTimeoutMs, c);
        ttftMs = this.clock.now() - startedAt;
        this.health.markHealthy(c.providerId);
        attempts.push({ ...c, outcome: 'answered', ms: this.clock.now() - attemptStart });
        const route: RouteEvent = {
          task,
          requested: request.task,
          providerId: c.providerId,
          model: c.model,
          local: c.local,
          fallback: fellBack(order, attempts, c, config.tasks[task]),
          attempts: attempts.map((a) => ({ ...a })),
        };
        this.logger.info(`route ${request.task}: ${describeCandidate(c)}${route.fallback ? ` after ${describeAttempts(attempts.slice(0, -1))}` : ''}`);
        yield { type: 'route', route };
        streamed = true;
        while (!next.done) {
          const ev = next.value;
          if (ev.type === 'text') {
            text += ev.text;
            yield { type: 'text', text: ev.text };
          } else if (ev.type === 'reasoning') {
            yield ev;
          } else if (ev.type === 'relay') {
            relayed = ev.answer;
            yield ev;
          } else if (ev.type === 'toolCall' || ev.type === 'toolCallEnd') {
            callText += ev.type === 'toolCall' ? ev.name.length : 0;
            yield ev;
          } else if (ev.type === 'toolCallArgs') {
            callText += ev.text.length;
            yield ev;
          } else if (ev.type === 'finish') {
            finish = ev.reason;
          } else if (ev.type === 'usage') {
            inputTokens = ev.inputTokens ?? inputTokens;
            outputTokens = ev.outputTokens ?? outputTokens;
          }
          next = await iterator.next();
        }
        if (request.signal?.aborted) throw new ProviderError('canceled', 'The request was canceled.', { providerId: c.providerId, model: c.model, afterOutput: true });
        const estimated = inputTokens === undefined || outputTokens === undefined;
        inputTokens ??= Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);
        outputTokens ??= Math.ceil((relayed?.textLength ?? text.length + callText) / 4);
        const usage = this.usage({ at, task, requested: request.task, c, outcome: 'ok', attempts: attempts.filter((a) => a.outcome !== 'skipped').length, ttftMs, startedAt, inputTokens, outputTokens, estimated });
        finished = true;
        yield finish ? { type: 'done', usage, finish } : { type: 'done', usage };
        return;
      } catch (e) {
        const err = this.toProviderError(e, c, request.signal);
        if (request.buffered && err.kind !== 'canceled') {
          // Nothing reached the caller: the answered attempt is a failed one, and the next candidate may answer.
          const i = attempts.findIndex((a) => a.outcome === 'answered');
          if (i >= 0) attempts.splice(i, 1);
          err.afterOutput = false;
        } else if (streamed || err.afterOutput) {
          err.afterOutput = true;
          this.usage({ at, task, requested: request.task, c, outcome: err.kind, attempts: attempts.filter((a) => a.outcome !== 'skipped').length, ttftMs, startedAt, inputTokens, outputTokens: outputTokens ?? Math.ceil((relayed?.textLength ?? text.length + callText) / 4), estimated: outputTokens === undefined });
          if (err.kind !== 'canceled') this.logger.warn(`route ${request.task}: ${c.providerId}/${c.model} failed after streaming: ${err.kind}: ${err.message}`);
          throw new RouteError(err.kind, err.kind === 'canceled' ? 'The request was canceled.' : `${c.providerId}/${c.model} failed mid-answer (${err.kind}): ${err.message}. The partial answer is kept; retry to ask again.`, task, attempts, err);
        }
        if (err.kind === 'canceled') {
          attempts.push({ ...c, outcome: 'failed', reason: 'canceled', kind: 'canceled', ms: this.clock.now() - attemptStart });
          lastError = err;
          break;
        }
        attempts.push({ ...c, outcome: 'failed', reason: err.message, kind: err.kind, ms: this.clock.now() - attemptStart });
        if (marksUnhealthy(err)) this.health.markFailed(c.providerId, err.kind, err.message, err.retryAfter);
        this.logger.warn(`route ${request.task}: ${c.providerId}/${c.model} failed (${err.kind}): ${err.message}`);
        lastError = err;
        if (!FALLBACK_KINDS.has(err.kind)) break;
      } finally {
        request.signal?.removeEventListener('abort', onAbort);
        // Cancels the provider's request when the consumer stopped early or it failed; a finished one has nothing to
        // cancel (and an abort costs a DOMException with a stack trace on every answer).
        if (!finished) controller.abort();
      }
    }
    const failure = this.noAnswer(task, request.task, attempts, lastError, request.signal);
    this.usage({ at, task, requested: request.task, c: lastTried(attempts), outcome: failure.kind, attempts: attempts.filter((a) => a.outcome !== 'skipped').length, startedAt });
    throw failure;
  }

  /**
   * Embeds texts with the first candidate of the task (default `embed`) that can. Vectors from different models
   * do not mix: the result names the model, and callers that store vectors must key them by it.
   */
  async embed(request: RoutedEmbedRequest): Promise<RoutedEmbedResult> {
    const startedAt = this.clock.now();
    const at = new Date().toISOString();
    const requested = request.task ?? 'embed';
    const task = this.task(requested);
    const timeoutMs = request.timeoutMs ?? this.deps.config().firstTokenTimeoutMs;
    const attempts: RouteAttempt[] = [];
    const { eligible, order } = await this.eligible(task, attempts, request.signal, request.only);
    let lastError: ProviderError | undefined;
    for (const c of eligible) {
      if (request.signal?.aborted) break;
      if (!(await this.consented(task, c, attempts))) continue;
      const provider = this.deps.providers.get(c.providerId);
      if (!provider) continue;
      const input = this.outbound(task, c, request.input, request.sources, attempts);
      if (!input) continue;
      const attemptStart = this.clock.now();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      try {
        const result = await provider.embed({ model: c.model, input: [...input], signal });
        this.health.markHealthy(c.providerId);
        attempts.push({ ...c, outcome: 'answered', ms: this.clock.now() - attemptStart });
        const route: RouteEvent = { task, requested, providerId: c.providerId, model: c.model, local: c.local, fallback: fellBack(order, attempts, c, this.deps.config().tasks[task]), attempts };
        const inputTokens = result.inputTokens ?? Math.ceil(request.input.reduce((n, t) => n + t.length, 0) / 4);
        const usage = this.usage({ at, task, requested, c, outcome: 'ok', attempts: attempts.filter((a) => a.outcome !== 'skipped').length, startedAt, inputTokens, outputTokens: 0, estimated: result.inputTokens === undefined });
        return { vectors: result.vectors, providerId: c.providerId, model: c.model, local: c.local, route, usage };
      } catch (e) {
        let err = this.toProviderError(e, c, request.signal);
        if (timeout.aborted && !request.signal?.aborted && err.kind !== 'timeout') {
          err = new ProviderError('timeout', `no answer within ${timeoutMs} ms`, { providerId: c.providerId, model: c.model, cause: e });
        }
        attempts.push({ ...c, outcome: 'failed', reason: err.message, kind: err.kind, ms: this.clock.now() - attemptStart });
        lastError = err;
        if (err.kind === 'canceled') break;
        if (marksUnhealthy(err)) this.health.markFailed(c.providerId, err.kind, err.message, err.retryAfter);
        this.logger.warn(`route ${requested}: ${c.providerId}/${c.model} failed (${err.kind}): ${err.message}`);
        if (!FALLBACK_KINDS.has(err.kind)) break;
      }
    }
    const failure = this.noAnswer(task, requested, attempts, lastError, request.signal);
    this.usage({ at, task, requested, c: lastTried(attempts), outcome: failure.kind, attempts: attempts.filter((a) => a.outcome !== 'skipped').length, startedAt });
    throw failure;
  }

  /**
   * One fill-in-the-middle completion (task `complete` by default) from the first candidate that can give one. Not
   * streamed: nothing reaches the user before the answer, so any failure but an abort hands over to the next
   * candidate. A candidate whose model cannot fill in the middle is skipped with that reason; cloud ones only when
   * the privacy policy and switchyard.completion.allowCloud both allow, with secrets redacted from what they get.
   * The usage record counts tokens and time, never the code.
   */
  async complete(request: RoutedCompleteRequest): Promise<RoutedCompleteResult> {
    const startedAt = this.clock.now();
    const at = new Date().toISOString();
    const requested = request.task ?? 'complete';
    const task = this.task(requested);
    const timeoutMs = request.timeoutMs ?? this.deps.config().firstTokenTimeoutMs;
    const attempts: RouteAttempt[] = [];
    const { eligible, order } = await this.eligible(task, attempts, request.signal, request.only);
    let lastError: ProviderError | undefined;
    for (const c of eligible) {
      if (request.signal?.aborted) break;
      const choice = this.fimChoice(c);
      if (!choice.usable) continue;
      if (!(await this.consented(task, c, attempts))) continue;
      const provider = this.deps.providers.get(c.providerId);
      if (!provider?.complete) {
        attempts.push({ ...c, outcome: 'skipped', reason: 'no fill-in-the-middle: this provider kind has no completions endpoint', kind: 'unsupported', missing: 'fim' });
        continue;
      }
      const built = request.prompt(choice, c);
      const extra = built.extra ?? [];
      const sent = this.outbound(task, c, [built.prompt, built.suffix ?? '', ...extra.map((s) => s.text)], request.sources, attempts);
      if (!sent) continue;
      const body: Omit<CompletionRequest, 'model' | 'signal'> = c.local
        ? built
        : { ...built, prompt: sent[0]!, ...(built.suffix !== undefined ? { suffix: sent[1]! } : {}), extra: extra.map((s, i) => ({ filename: s.filename, text: sent[2 + i]! })) };
      const attemptStart = this.clock.now();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      try {
        const result = await provider.complete({ ...body, model: c.model, temperature: request.temperature ?? body.temperature ?? c.temperature, signal });
        if (request.signal?.aborted) throw new ProviderError('canceled', 'The request was canceled.');
        this.health.markHealthy(c.providerId);
        attempts.push({ ...c, outcome: 'answered', ms: this.clock.now() - attemptStart });
        const route: RouteEvent = { task, requested, providerId: c.providerId, model: c.model, local: c.local, fallback: fellBack(order, attempts, c, this.deps.config().tasks[task]), attempts };
        const estimated = result.inputTokens === undefined || result.outputTokens === undefined;
        const inputTokens = result.inputTokens ?? Math.ceil(sent.reduce((n, t) => n + t.length, 0) / 4);
        const outputTokens = result.outputTokens ?? Math.ceil(result.text.length / 4);
        const elapsed = this.clock.now() - startedAt;
        const usage = this.usage({ at, task, requested, c, outcome: 'ok', attempts: attempts.filter((a) => a.outcome !== 'skipped').length, ttftMs: elapsed, startedAt, inputTokens, outputTokens, estimated });
        return { text: result.text, finishReason: result.finishReason, providerId: c.providerId, model: c.model, local: c.local, choice, sent: body, route, usage };
      } catch (e) {
        let err = this.toProviderError(e, c, request.signal);
        if (timeout.aborted && !request.signal?.aborted && err.kind !== 'timeout') {
          err = new ProviderError('timeout', `no answer within ${timeoutMs} ms`, { providerId: c.providerId, model: c.model, cause: e });
        }
        attempts.push({ ...c, outcome: 'failed', reason: err.kind === 'canceled' ? 'canceled' : err.message, kind: err.kind, ms: this.clock.now() - attemptStart });
        lastError = err;
        if (err.kind === 'canceled') break;
        if (err.kind === 'unsupported') this.noFim.set(`${c.providerId}/${c.model}`, err.message);
        // A 500 to one completion is about that answer (llama-server refuses generated text that is not valid
        // UTF-8 with one): the server is up, so the other tasks it serves, and the next keystroke, may still use it.
        if (marksUnhealthy(err) && !(err.kind === 'server' && err.status === 500)) this.health.markFailed(c.providerId, err.kind, err.message, err.retryAfter);
        // Nothing reached the user yet: whatever went wrong, the next candidate may answer.
        this.logger.warn(`route ${requested}: ${c.providerId}/${c.model} failed (${err.kind}): ${err.message}`);
      }
    }
    const failure = this.noAnswer(task, requested, attempts, lastError, request.signal);
    this.usage({ at, task, requested, c: lastTried(attempts), outcome: failure.kind, attempts: attempts.filter((a) => a.outcome !== 'skipped').length, startedAt });
    throw failure;
  }

  /**
   * Exact token counts for `ref` ("provider/model") by its server's own tokenizer, where it has one (llama.cpp
   * /tokenize, the embedded runtime) and runs on this machine (a count sends the texts); undefined otherwise.
   * Rejects with the provider's error.
   */
  async countTokens(ref: string, texts: readonly string[], signal?: AbortSignal): Promise<number[] | undefined> {
    const slash = ref.indexOf('/');
    const provider = slash > 0 ? this.deps.providers.get(ref.slice(0, slash)) : undefined;
    if (!provider?.countTokens || !provider.config.local) return undefined;
    return provider.countTokens(ref.slice(slash + 1), [...texts], signal);
  }

  /**
   * What a candidate receives. A local one: the texts unchanged. A cloud one: the texts with secrets redacted
   * (switchyard.redactSecrets), and an egress record of what left; or, under "block" when there are secrets,
   * nothing: the candidate is recorded as skipped and undefined returned.
   */
  private outbound(task: TaskName, c: Candidate, texts: readonly string[], sources: readonly EgressSource[] | undefined, attempts: RouteAttempt[]): readonly string[] | undefined {
    if (c.local) return texts;
    const mode = this.deps.config().redactSecrets;
    const out = outbound(texts, mode, this.deps.secretValues?.() ?? []);
    const found = redactionKinds(out.redactions);
    if (mode === 'block' && out.found > 0) {
      const reason = `the request carries secrets (${found}) and switchyard.redactSecrets is "block"`;
      attempts.push({ ...c, outcome: 'skipped', reason, kind: 'policy' });
      this.logger.warn(`route ${task}: ${c.providerId}/${c.model} not sent: ${reason}`);
      return undefined;
    }
    if (out.found > 0) this.logger.info(`route ${task}: redacted ${found} before sending to ${c.providerId}/${c.model}`);
    try {
      this.deps.usage?.egress?.({
        at: new Date().toISOString(),
        task,
        providerId: c.providerId,
        model: c.model,
        host: c.host ?? c.providerId,
        bytesSent: out.bytes,
        redactions: out.redactions,
        sources: uniqueSources(sources),
      });
    } catch (e) {
      this.logger.warn(`usage ledger (egress): ${e instanceof Error ? e.message : String(e)}`);
    }
    return out.texts;
  }

  /** Waits for the first event of a stream, or fails with `timeout` and aborts the request. */
  private async firstEvent<T>(iterator: AsyncIterator<T>, controller: AbortController, timeoutMs: number, c: Candidate): Promise<IteratorResult<T>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new ProviderError('timeout', `no first token within ${timeoutMs} ms`, { providerId: c.providerId, model: c.model });
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      return await Promise.race([iterator.next(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private toProviderError(e: unknown, c: Candidate, signal?: AbortSignal): ProviderError {
    if (signal?.aborted) return new ProviderError('canceled', 'The request was canceled.', { providerId: c.providerId, model: c.model, cause: e });
    if (isProviderError(e)) return e;
    const message = e instanceof Error ? e.message : String(e);
    return new ProviderError('server', redact(message), { providerId: c.providerId, model: c.model, cause: e });
  }

  private noAnswer(task: TaskName, requested: string, attempts: RouteAttempt[], lastError: ProviderError | undefined, signal?: AbortSignal): RouteError {
    if (signal?.aborted || lastError?.kind === 'canceled') return new RouteError('canceled', 'The request was canceled.', task, attempts, lastError);
    if (attempts.length === 0) {
      return new RouteError('config', `No model is configured or found for ${task}: start a local server (Ollama, llama.cpp, LM Studio, vLLM) or add candidates to switchyard.tasks.${task}.`, task, attempts);
    }
    const failed = attempts.filter((a) => a.outcome === 'failed');
    const kind: ErrorKind = lastError?.kind ?? (attempts.every((a) => a.kind === 'policy') ? 'policy' : failed.at(-1)?.kind ?? attempts.at(-1)?.kind ?? 'unreachable');
    return new RouteError(kind, `No model could answer ${requested}: ${describeAttempts(attempts)}.`, task, attempts, lastError);
  }

  private usage(a: {
    at: string;
    task: TaskName;
    requested: string;
    c: { providerId: string; model: string; local: boolean } | undefined;
    outcome: UsageRecord['outcome'];
    attempts: number;
    startedAt: number;
    ttftMs?: number;
    inputTokens?: number;
    outputTokens?: number;
    estimated?: boolean;
  }): UsageRecord {
    const record: UsageRecord = {
      at: a.at,
      task: a.task,
      requested: a.requested,
      providerId: a.c?.providerId ?? '',
      model: a.c?.model ?? '',
      local: a.c?.local ?? true,
      outcome: a.outcome,
      attempts: a.attempts,
      ttftMs: a.ttftMs,
      durationMs: this.clock.now() - a.startedAt,
      inputTokens: a.inputTokens,
      outputTokens: a.outputTokens,
      tokensEstimated: a.estimated || undefined,
    };
    if (a.c && a.inputTokens !== undefined && a.outputTokens !== undefined) {
      const provider = this.deps.providers.list().find((p) => p.id === a.c!.providerId);
      record.costUsd = a.c.local ? 0 : provider && this.deps.price?.(provider, a.c.model, a.inputTokens, a.outputTokens);
    }
    try {
      this.deps.usage?.record(record);
    } catch (e) {
      this.logger.warn(`usage ledger: ${e instanceof Error ? e.message : String(e)}`);
    }
    return record;
  }
}

/** Every text a chat request carries to a model, in order: each message's content, then its tool calls' arguments. */
function messageTexts(messages: readonly ChatMessage[]): string[] {
  return messages.flatMap((m) => [m.content, ...(m.toolCalls ?? []).map((t) => t.arguments)]);
}

/**
 * The egress record's sources with the images the request carries named too: redaction reads text only, so an image
 * leaves as it is, and the record says so ("2 images (not redacted)").
 */
function withImageNote(sources: readonly EgressSource[] | undefined, images: number): readonly EgressSource[] | undefined {
  if (images === 0) return sources;
  return [...(sources ?? []), { path: `${images} image${images === 1 ? '' : 's'} (not redacted)` }];
}

/** The messages with their texts replaced, in messageTexts' order. */
function withTexts(messages: readonly ChatMessage[], texts: readonly string[]): ChatMessage[] {
  let i = 0;
  return messages.map((m) => {
    const content = texts[i++]!;
    const toolCalls = m.toolCalls?.map((t) => ({ ...t, arguments: texts[i++]! }));
    return toolCalls ? { ...m, content, toolCalls } : { ...m, content };
  });
}

/** The host name of a base URL ("embedded:" and unparsable URLs give the URL itself). */
function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname || baseUrl;
  } catch {
    return baseUrl;
  }
}

/**
 * Whether the answering candidate is a fallback: one before it in the task's order was skipped or failed (skips are
 * recorded up front, for later candidates too). An unknown provider counts where its entry stands in the settings.
 */
function fellBack(order: readonly Candidate[], attempts: readonly RouteAttempt[], answering: Candidate, settings: readonly CandidateSetting[]): boolean {
  const key = (a: { providerId: string; model: string }) => `${a.providerId}/${a.model}`;
  const earlier = new Set(order.slice(0, order.indexOf(answering)).map(key));
  const at = settings.findIndex((s) => s.ref === key(answering));
  const answeringAt = at >= 0 ? at : settings.findIndex((s) => s.ref === 'auto');
  const unknownEarlier = (id: string) => {
    const i = settings.findIndex((s) => splitRef(s.ref)?.providerId === id);
    return i >= 0 && (answeringAt < 0 || i < answeringAt);
  };
  return attempts.some((a) => a.outcome === 'failed' || (a.outcome === 'skipped' && (a.model === '' ? unknownEarlier(a.providerId) : earlier.has(key(a)))));
}

function lastTried(attempts: RouteAttempt[]): RouteAttempt | undefined {
  return [...attempts].reverse().find((a) => a.outcome !== 'skipped');
}
