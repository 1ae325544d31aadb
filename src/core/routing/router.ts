/**
 * The router: task → ordered candidates → the first one that can answer.
 *
 * A candidate is skipped when its provider is cooling down after a failure, when the privacy policy forbids it,
 * when discovery says the model is not there, or when the request offers tools and the model is known not to call
 * them (discovery, the catalog, or `"tools": false` in the task's settings). A tried candidate that fails before its
 * first token with a fallback kind (refused, timeout, 5xx, 429, missing model, context overflow, auth) hands over to
 * the next. A failure after tokens (or a tool call) have streamed is reported, never spliced with another model's
 * answer.
 *
 * This class is the front: the parts live in modules of their own. candidates.ts (a task's candidates, "auto"),
 * capabilities.ts (tools, vision, fill-in-the-middle), policy.ts (privacy, consent, health, redaction), fallback.ts
 * (the candidate loop every request kind runs through), chatAttempt.ts and attempts.ts (each kind's attempt at one
 * candidate), types.ts (the requests, routes and errors, re-exported here).
 */
import { ProviderError } from '../errors';
import { silentLogger, systemClock } from '../host';
import { TASKS, type TaskName } from '../config/config';
import type { FimChoice } from '../complete/templates';
import { completeAttempt, completeRules, embedAttempt } from './attempts';
import { fimChoice, fimGap, toolsGap, visionOf } from './capabilities';
import { taskCandidates } from './candidates';
import { chatAttempt } from './chatAttempt';
import { answerOf, runWithFallback } from './fallback';
import { HealthCache } from './health';
import { cloudPolicy, probe, skipReason, unknownProvider } from './policy';
import {
  requestNeeds,
  resolveTaskName,
  type Candidate,
  type RoutedChatEvent,
  type RoutedChatRequest,
  type RoutedCompleteRequest,
  type RoutedCompleteResult,
  type RoutedEmbedRequest,
  type RoutedEmbedResult,
  type RoutePlan,
  type RouterDeps,
  type RoutingContext,
} from './types';

export * from './types';

export class Router {
  readonly health: HealthCache;
  private readonly ctx: RoutingContext;

  constructor(private readonly deps: RouterDeps) {
    const clock = deps.clock ?? systemClock;
    this.health = deps.health ?? new HealthCache(deps.config().cooldownMs, clock);
    this.ctx = { deps, health: this.health, logger: deps.logger ?? silentLogger, clock, noFim: new Map() };
  }

  private task(requested: string): TaskName {
    const task = resolveTaskName(requested, this.deps.config().aliases);
    if (!task) {
      const aliases = Object.keys(this.deps.config().aliases);
      throw new ProviderError(
        'config',
        `Unknown task or model name "${requested}": use one of ${TASKS.map((t) => `switchyard/${t}`).join(', ')}` +
          `${aliases.length ? ` or an alias (${aliases.map((a) => `switchyard/${a}`).join(', ')})` : ''}` +
          ', or add an alias in switchyard.aliases.',
      );
    }
    return task;
  }

  /**
   * The task's candidates in order, with "auto" expanded to the models found on local servers
   * (discovery is attempted for local providers not yet known, with a short timeout).
   */
  candidates(task: TaskName, signal?: AbortSignal, fresh = false): Promise<{ list: Candidate[]; unknownProviders: string[] }> {
    return taskCandidates(this.ctx, task, signal, fresh);
  }

  /**
   * What the router would use now and why the others are skipped. With `probe`, providers are health-checked
   * and local ones discovered first (for "Show Routes" and `switchyard route`).
   */
  async plan(requested: string, options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<RoutePlan> {
    const task = this.task(requested);
    const { list, unknownProviders } = await this.candidates(task, options.signal);
    const plan: RoutePlan = { task, candidate: null, skipped: unknownProviders.map(unknownProvider) };
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
      const skip = skipReason(this.ctx, c, task) ?? fimGap(this.ctx, task, c);
      if (skip) {
        plan.skipped.push({ providerId: c.providerId, model: c.model, local: c.local, ...skip });
        continue;
      }
      if (!plan.candidate) {
        plan.candidate = c;
        if (!c.local && cloudPolicy(this.ctx).allowed === 'ask') plan.asksFirst = true;
      }
    }
    return plan;
  }

  /** Cloud providers may be contacted without asking anyone (privacy "allow", nothing stricter applies). */
  cloudAllowedOutright(): boolean {
    return cloudPolicy(this.ctx).allowed === true;
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
    const verdict = cloudPolicy(this.ctx);
    const refused = (why: string) => ({
      ok: false as const,
      reason: `${providerId} is a cloud provider and ${why}: nothing was sent to it`,
    });
    if (verdict.allowed === false) return refused(verdict.reason);
    if (verdict.allowed === 'ask' && !(await this.deps.askCloud!({ task: what, providerId, model: '' }))) {
      return refused('you chose to stay local');
    }
    return { ok: true };
  }

  /** Probes a provider's health now and records the result. */
  probe(providerId: string, signal?: AbortSignal): Promise<boolean> {
    return probe(this.ctx, providerId, signal);
  }

  /**
   * Whether a task's route can take images (VS Code's `imageInput`): a candidate the privacy policy may reach is known
   * to take them (task setting, discovery or catalog; unknown does not count). Candidates without vision are skipped
   * for such requests, so one is enough.
   */
  async routeTakesImages(requested: string, signal?: AbortSignal): Promise<boolean> {
    const { list } = await this.candidates(this.task(requested), signal);
    const cloud = cloudPolicy(this.ctx).allowed !== false;
    return list.some((c) => (c.local || cloud) && visionOf(this.ctx, c)?.takes === true);
  }

  /**
   * Whether a task's route can answer a request with tools (VS Code's `toolCalling`, which Agent mode needs): a
   * candidate the privacy policy may reach is not known to lack tool calling (unknown counts as able: the server
   * says so when asked). Candidates without it are skipped for such requests, so one is enough.
   */
  async routeCallsTools(requested: string, signal?: AbortSignal): Promise<boolean> {
    const { list } = await this.candidates(this.task(requested), signal);
    const cloud = cloudPolicy(this.ctx).allowed !== false;
    return list.some((c) => (c.local || cloud) && toolsGap(this.ctx, c, { tools: true }) === undefined);
  }

  /**
   * How a candidate's model fills in the middle (templates.ts, from what discovery knows of it), or why it cannot:
   * an instruct-only model, or one whose server refused fill-in-the-middle (`unsupported`) for this router's life.
   */
  fimChoice(c: Candidate): FimChoice {
    return fimChoice(this.ctx, c);
  }

  /** Streams a chat answer from the first candidate that can give one. Throws RouteError when none can. */
  async *chat(request: RoutedChatRequest): AsyncGenerator<RoutedChatEvent> {
    const task = this.task(request.task);
    const { only, signal, buffered } = request;
    const run = { task, requested: request.task, signal, only, buffered, needs: requestNeeds(request), logRoute: true };
    yield* runWithFallback(this.ctx, run, chatAttempt(request, this.deps.config().firstTokenTimeoutMs));
  }

  /**
   * Embeds texts with the first candidate of the task (default `embed`) that can. Vectors from different models
   * do not mix: the result names the model, and callers that store vectors must key them by it.
   */
  async embed(request: RoutedEmbedRequest): Promise<RoutedEmbedResult> {
    const requested = request.task ?? 'embed';
    const task = this.task(requested);
    const timeoutMs = request.timeoutMs ?? this.deps.config().firstTokenTimeoutMs;
    const run = { task, requested, signal: request.signal, only: request.only };
    return answerOf(runWithFallback(this.ctx, run, embedAttempt(request, timeoutMs)));
  }

  /**
   * One fill-in-the-middle completion (task `complete` by default) from the first candidate that can give one. Not
   * streamed: nothing reaches the user before the answer, so any failure but an abort hands over to the next
   * candidate. A candidate whose model cannot fill in the middle is skipped with that reason; cloud ones only when
   * the privacy policy and switchyard.completion.allowCloud both allow, with secrets redacted from what they get.
   * The usage record counts tokens and time, never the code.
   */
  async complete(request: RoutedCompleteRequest): Promise<RoutedCompleteResult> {
    const requested = request.task ?? 'complete';
    const task = this.task(requested);
    const timeoutMs = request.timeoutMs ?? this.deps.config().firstTokenTimeoutMs;
    const run = { task, requested, signal: request.signal, only: request.only, ...completeRules(this.ctx) };
    return answerOf(runWithFallback(this.ctx, run, completeAttempt(this.ctx, request, timeoutMs)));
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
}
