/**
 * The completion service: what an editor (the VS Code InlineCompletionItemProvider), the CLI (`switchyard complete`)
 * or a test uses to get one inline suggestion. It plans the `complete` route, picks the FIM template of the model
 * that serves it, and runs the Completer (cache, debounce and supersede, post-processing) with each request going
 * through `Router.complete` (health, cool-down, privacy with switchyard.completion.allowCloud, fallback, egress
 * redaction, the usage ledger).
 *
 * Built from the Switchyard core object: `new CompletionService(sy, { usage: ledger })`. Settings are read from
 * `sy.config` at each call, so a changed setting applies to the next keystroke; a changed config also clears the
 * cache (another model may serve now).
 *
 * Nothing here records or logs code: usage records carry counts and latencies only. What callers see of it (the
 * editor's context, a served suggestion, the status) is api.ts.
 */
import type { SwitchyardConfig } from '../config/config';
import { silentLogger, type Logger } from '../host';
import { RouteError, type RouteAttempt, type RoutePlan } from '../routing/router';
import { describeAttempts, describeSkip } from '../describe';
import type { EgressSource, SuggestionRecord } from '../usage/ledger';
import type {
  CompletionRoute,
  CompletionServiceApi,
  CompletionServiceOptions,
  CompletionSource,
  CompletionStatus,
  Disposable,
  EditorContext,
  ServedCompletion,
} from './api';
import { CompletionCache } from './cache';
import { Completer, type InfillAnswer } from './completer';
import {
  DEFAULT_MAX_EXTRA_TOKENS,
  buildFimPrompt,
  prefixWithin,
  snippetsWithin,
  suffixWithin,
  type CompletionContext,
  type FimPrompt,
} from './context';
import type { UsableFimChoice } from './templates';
import { systemClock, type SchedulerClock } from './scheduler';

export type * from './api';
export type { SuggestionRecord };

/** How long `snooze()` turns completions off by default. */
export const DEFAULT_SNOOZE_MS = 5 * 60_000;

/** How long the serving candidate found by a plan is trusted before planning again (a preferred server may be back). */
const SERVING_TTL_MS = 5000;

interface Serving {
  key: string;
  route: CompletionRoute;
  choice: UsableFimChoice;
  at: number;
}

/** The Completer's context plus what the egress record of a cloud candidate names. */
interface RoutedContext extends CompletionContext {
  sources: EgressSource[];
}

const routeOf = (c: { providerId: string; model: string; local: boolean }): CompletionRoute => ({
  providerId: c.providerId,
  model: c.model,
  local: c.local,
});
const keyOf = (c: { providerId: string; model: string }) => `${c.providerId}/${c.model}`;

/** What a cloud candidate would carry, for the egress record: the lines around the cursor, and the snippets' files. */
function sourcesOf(ctx: EditorContext, cut: CompletionContext): EgressSource[] {
  const cursorLine = (ctx.firstLine ?? 1) + lineCount(ctx.prefix) - 1;
  const startLine = cursorLine - lineCount(cut.prefix) + 1;
  const endLine = cursorLine + lineCount(cut.suffix) - 1 - (cut.suffix.endsWith('\n') ? 1 : 0);
  return [{ path: ctx.filePath, startLine, endLine: Math.max(startLine, endLine) }, ...cut.extra.map((e) => ({ path: e.filename }))];
}

/** No candidate can serve completions: the plan's reasons as the router's error (kind `config` when nothing was found). */
function noModelError(plan: RoutePlan): RouteError {
  const attempts: RouteAttempt[] = plan.skipped.map((k) => ({ ...k, outcome: 'skipped' as const }));
  if (attempts.length === 0) {
    return new RouteError('config', `No model for completions: ${NO_MODEL_HINT}.`, 'complete', attempts);
  }
  const kind = attempts.every((a) => a.kind === 'policy') ? 'policy' : attempts.at(-1)!.kind!;
  return new RouteError(kind, `No model can serve completions: ${describeAttempts(attempts)}.`, 'complete', attempts);
}

const NO_MODEL_HINT =
  'no local code model found; start Ollama, a llama.cpp server or LM Studio with a code model that fills in ' +
  'the middle (qwen2.5-coder, starcoder2, codegemma, deepseek-coder), or add one to switchyard.tasks.complete';

function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export class CompletionService implements CompletionServiceApi, Disposable {
  private readonly cache = new CompletionCache();
  private readonly logger: Logger;
  private readonly clock: SchedulerClock;
  private readonly listeners = new Set<(status: CompletionStatus) => void>();
  private completer!: Completer;
  private completerKey = '';
  private configSeen: SwitchyardConfig | undefined;
  private serving: Serving | undefined;
  /** Who each cache key is, for the route of a cached answer. */
  private readonly routes = new Map<string, CompletionRoute>();
  private snoozedUntil = 0;
  private snoozeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastStatus = '';
  private statusGen = 0;
  private seq = 0;

  constructor(
    private readonly source: CompletionSource,
    private readonly options: CompletionServiceOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.sync();
  }

  /** The settings now; a new config object forgets the serving model and the cache, and rebuilds the completer's options. */
  private sync(): SwitchyardConfig {
    const config = this.source.config;
    if (config === this.configSeen) return config;
    const s = config.completion;
    const key = JSON.stringify([this.options.debounceMs ?? s.debounceMs, s.multiline, s.maxLines]);
    if (this.configSeen !== undefined) {
      this.cache.clear();
      this.serving = undefined;
    }
    this.configSeen = config;
    if (key !== this.completerKey) {
      this.completer?.scheduler.cancelCurrent();
      this.completerKey = key;
      this.completer = new Completer({
        cache: this.cache,
        debounceMs: this.options.debounceMs ?? s.debounceMs,
        // A caller that asks for no debounce (the CLI, benches) gets none, however slow the model.
        ...(this.options.debounceMs === 0 ? { maxDebounceMs: 0 } : {}),
        clock: this.clock,
        multiline: s.multiline,
        maxLines: s.maxLines,
        fetchInfill: (model, prompt, signal, context) => this.fetch(model, prompt, signal, context),
      });
    }
    return config;
  }

  /** One scheduled completion's request: through the router, each candidate asked in its own FIM format. */
  private async fetch(model: string, prompt: FimPrompt, signal: AbortSignal, context: CompletionContext): Promise<InfillAnswer> {
    const multiline = this.source.config.completion.multiline;
    const result = await this.source.router.complete({
      prompt: (choice, c) => (keyOf(c) === model ? prompt : buildFimPrompt(choice, context, { multiline })),
      signal,
      sources: (context as RoutedContext).sources,
    });
    const key = keyOf(result);
    this.routes.set(key, routeOf(result));
    if (this.serving?.key !== key) {
      // Another candidate answered (the planned one failed or is cooling down): it serves until the next plan.
      this.serving = { key, route: routeOf(result), choice: result.choice, at: this.clock.now() };
      this.emitLater();
    }
    return { text: result.text, model: key, stop: result.sent.stop };
  }

  /** The candidate that serves now: the last plan's (or the last that answered), planned again when stale. Throws
   *  a RouteError when none can. */
  private async current(signal?: AbortSignal): Promise<Serving> {
    const now = this.clock.now();
    if (this.serving && now - this.serving.at < SERVING_TTL_MS) return this.serving;
    const plan = await this.source.router.plan('complete', { signal });
    const c = plan.candidate;
    const choice = c && this.source.router.fimChoice(c);
    if (!c || !choice?.usable) {
      this.serving = undefined;
      throw noModelError(plan);
    }
    const key = keyOf(c);
    const changed = this.serving?.key !== key;
    this.serving = { key, route: routeOf(c), choice, at: now };
    this.routes.set(key, routeOf(c));
    if (changed) this.emitLater();
    return this.serving;
  }

  isExcluded(languageId: string): boolean {
    return this.sync().completion.excludeLanguages.some((l) => l.toLowerCase() === languageId.toLowerCase());
  }

  private snoozed(): boolean {
    return this.snoozedUntil > Date.now();
  }

  async complete(ctx: EditorContext, signal?: AbortSignal): Promise<ServedCompletion | undefined> {
    const t0 = this.clock.now();
    const config = this.sync();
    const s = config.completion;
    if (!s.enabled || this.snoozed() || this.isExcluded(ctx.languageId) || signal?.aborted) {
      this.completer.scheduler.cancelCurrent();
      return undefined;
    }
    const cut: CompletionContext = {
      prefix: prefixWithin(ctx.prefix, ctx.prefix.length, s.maxPrefixTokens),
      suffix: suffixWithin(ctx.suffix, 0, s.maxSuffixTokens),
      extra: snippetsWithin(ctx.extra ?? [], DEFAULT_MAX_EXTRA_TOKENS),
      filename: ctx.filePath,
      ...(ctx.repo !== undefined ? { repo: ctx.repo } : {}),
    };
    const context: RoutedContext = { ...cut, sources: sourcesOf(ctx, cut) };
    let serving = this.serving && t0 - this.serving.at < SERVING_TTL_MS ? this.serving : undefined;
    // A cache hit needs no plan: only the key of who serves.
    const hit = serving && this.completer.cached(serving.key, context);
    if (hit) {
      this.completer.scheduler.cancelCurrent();
      return this.served(hit.text, hit.source, hit.model, t0);
    }
    serving ??= await this.current(signal);
    try {
      const answer = await this.completer.complete(serving.key, serving.choice, context, signal);
      return answer ? this.served(answer.text, answer.source, answer.model, t0) : undefined;
    } catch (e) {
      // The route failed: plan afresh next time, and let the status bar say so.
      this.serving = undefined;
      this.emitLater();
      throw e;
    }
  }

  private served(text: string, source: ServedCompletion['source'], key: string, t0: number): ServedCompletion {
    const route = this.routes.get(key) ?? this.serving!.route;
    return { id: `c${++this.seq}`, text, source, route, latencyMs: this.clock.now() - t0 };
  }

  cancel(): void {
    this.completer.scheduler.cancelCurrent();
  }

  async status(options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<CompletionStatus> {
    const gen = ++this.statusGen;
    const status = await this.computeStatus(options);
    if (gen === this.statusGen) this.emit(status);
    return status;
  }

  private async computeStatus(options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<CompletionStatus> {
    const config = this.sync();
    if (!config.completion.enabled) return { state: 'disabled' };
    if (this.snoozed()) return { state: 'snoozed', until: this.snoozedUntil };
    const plan = await this.source.router.plan('complete', options);
    if (!plan.candidate) {
      const why = plan.skipped.length ? plan.skipped.map(describeSkip).join('; ') : NO_MODEL_HINT;
      return { state: 'noModel', reason: why };
    }
    const choice = this.source.router.fimChoice(plan.candidate);
    if (choice.usable) {
      const key = keyOf(plan.candidate);
      this.routes.set(key, routeOf(plan.candidate));
      this.serving = { key, route: routeOf(plan.candidate), choice, at: this.clock.now() };
    }
    return { state: 'enabled', route: routeOf(plan.candidate), debounceMs: this.completer.scheduler.debounceMs() };
  }

  onDidChangeStatus(listener: (status: CompletionStatus) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private emit(status: CompletionStatus): void {
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    for (const l of this.listeners) {
      try {
        l(status);
      } catch (e) {
        this.logger.warn(`completion status listener: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** Recomputes the status (no probe) and tells listeners if it changed; never fails. */
  private emitLater(): void {
    if (this.listeners.size === 0) return;
    // Only the newest computation tells: an older one that finishes later must not overwrite it.
    const gen = ++this.statusGen;
    this.computeStatus().then(
      (s) => {
        if (gen === this.statusGen) this.emit(s);
      },
      () => undefined,
    );
  }

  snooze(ms: number = DEFAULT_SNOOZE_MS): void {
    this.snoozedUntil = Date.now() + ms;
    this.completer.scheduler.cancelCurrent();
    clearTimeout(this.snoozeTimer);
    this.snoozeTimer = setTimeout(() => this.resume(), ms);
    this.snoozeTimer.unref?.();
    this.statusGen++;
    this.emit({ state: 'snoozed', until: this.snoozedUntil });
  }

  resume(): void {
    clearTimeout(this.snoozeTimer);
    this.snoozeTimer = undefined;
    this.snoozedUntil = 0;
    this.emitLater();
  }

  shown(completion: ServedCompletion): void {
    this.record('shown', completion, completion.text, false);
  }

  accepted(completion: ServedCompletion, acceptedText?: string): void {
    const text = acceptedText ?? completion.text;
    this.record('accepted', completion, text, acceptedText !== undefined && acceptedText.length < completion.text.length);
  }

  private record(event: SuggestionRecord['event'], c: ServedCompletion, text: string, partial: boolean): void {
    const record: SuggestionRecord = {
      at: new Date().toISOString(),
      event,
      providerId: c.route.providerId,
      model: c.route.model,
      local: c.route.local,
      source: c.source,
      latencyMs: c.latencyMs,
      chars: text.length,
      lines: lineCount(text),
      ...(partial ? { partial: true } : {}),
    };
    try {
      this.options.usage?.suggestion?.(record);
    } catch (e) {
      this.logger.warn(`usage ledger (suggestion): ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    this.completer.scheduler.cancelCurrent();
    clearTimeout(this.snoozeTimer);
    this.listeners.clear();
  }
}
