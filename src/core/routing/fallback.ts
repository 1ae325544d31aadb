/**
 * The candidate loop, once for every request kind (chat and tool calls, embeddings, completions): `runWithFallback`
 * walks a task's eligible candidates in order and owns everything but the request itself. It records why each
 * candidate was skipped, asks before a cloud one under privacy "ask", times and records each attempt, marks the
 * providers' health, hands over to the next candidate on a fallback kind before the first output (never after it:
 * a tool call is output, as text is), and writes the usage record of the answer or of the failure.
 *
 * A request kind gives it `attemptOne`: what to send one candidate and how to read its answer, through `Attempt`
 * (what the candidate may receive, when the request went out, when its first output came, the usage of a complete
 * answer). Streaming kinds return an async generator whose events reach the caller as they come.
 */
import { FALLBACK_KINDS, ProviderError, isProviderError, marksUnhealthy, type ErrorKind } from '../errors';
import { redact } from '../host';
import { describeAttempts, describeCandidate } from '../describe';
import { splitRef, type CandidateSetting, type TaskName } from '../config/config';
import type { Provider } from '../providers/types';
import type { EgressSource, UsageRecord } from '../usage/ledger';
import { consented, eligible, sendable } from './policy';
import { RouteError, type Candidate, type RequestNeeds, type RouteAttempt, type RouteEvent, type RoutingContext } from './types';

/** One request to route: which task, under which name, and the loop's rules where a request kind differs. */
export interface FallbackRequest {
  task: TaskName;
  /** The name the caller used ("switchyard/fast"), for logs, the route event and the usage record. */
  requested: string;
  signal?: AbortSignal;
  /** Only this one of the task's candidates ("providerId/model"), with the same checks. */
  only?: string;
  /** What the request needs of a model (tool calling, image input): candidates known to lack it are skipped. */
  needs?: RequestNeeds;
  /** The caller keeps the answer until it is done (see RoutedChatRequest.buffered): a failure mid-answer falls back too. */
  buffered?: boolean;
  /** Log each answer's route at info (chat; embedding batches and completions come too often for that). */
  logRoute?: boolean;
  /** Whether a failure hands over to the next candidate; default: its kind is one of FALLBACK_KINDS. */
  fallsBack?: (err: ProviderError) => boolean;
  /** Whether a failure cools the provider down; default `marksUnhealthy`. */
  cools?: (err: ProviderError) => boolean;
  /** Told of every failure of a tried candidate but a cancel, once classified. */
  onFailure?: (c: Candidate, err: ProviderError) => void;
}

/**
 * One candidate's try: undefined when it was not tried after all (what it may receive was blocked, or the kind
 * cannot ask it; a skip it records through `attempt.skip`), else the answer. A ProviderError it throws is this
 * candidate's failure: before `attempt.start()` it says nothing of the server's health.
 */
export type AttemptOne<E, R> = (attempt: Attempt, provider: Provider) => Promise<R | undefined> | AsyncGenerator<E, R | undefined, void>;

interface Run {
  ctx: RoutingContext;
  request: FallbackRequest;
  attempts: RouteAttempt[];
  order: Candidate[];
  at: string;
  startedAt: number;
}

/** What an attempt counted of an answer so far, for the usage record of one cut short. */
export interface PartialCount {
  inputTokens?: number;
  outputTokens?: number;
  /** Characters of output (text and tool calls), estimated at four a token when the server sent no count. */
  outputChars: number;
}

/** One candidate's attempt, as `attemptOne` sees it. */
export class Attempt {
  private startedAt: number | undefined;
  /** The route event, once the candidate's first output came (or its whole answer, for kinds that do not stream). */
  route: RouteEvent | undefined;
  /** From the request's start to the first output. */
  ttftMs: number | undefined;
  /** What the answer has counted so far (streaming kinds), for the usage record of a failure mid-answer. */
  partial: () => PartialCount = () => ({ outputChars: 0 });

  constructor(
    readonly c: Candidate,
    private readonly run: Run,
  ) {}

  get started(): boolean {
    return this.startedAt !== undefined;
  }

  /** What the candidate may receive of these texts (redacted for a cloud one), or undefined: it must not (skipped). */
  outbound(texts: readonly string[], sources: readonly EgressSource[] | undefined): readonly string[] | undefined {
    return sendable(this.run.ctx, this.run.request.task, this.c, texts, sources, this.run.attempts);
  }

  /** Records the candidate as skipped (return undefined after). */
  skip(reason: string, kind: ErrorKind, missing?: RouteAttempt['missing']): void {
    this.run.attempts.push({ ...this.c, outcome: 'skipped', reason, kind, ...(missing ? { missing } : {}) });
  }

  /** The request goes out now: from here the attempt is timed and its failure tells of the server's health. */
  start(): void {
    this.startedAt = this.run.ctx.clock.now();
  }

  /** Milliseconds since start(). */
  elapsed(): number {
    return this.run.ctx.clock.now() - (this.startedAt ?? this.run.ctx.clock.now());
  }

  /** The candidate's first output came: it answers. Marks it healthy, records the attempt, returns the route event. */
  answered(): RouteEvent {
    const { ctx, request, attempts, order } = this.run;
    const c = this.c;
    this.ttftMs = ctx.clock.now() - this.run.startedAt;
    ctx.health.markHealthy(c.providerId);
    attempts.push({ ...c, outcome: 'answered', ms: this.elapsed() });
    const fallback = fellBack(order, attempts, c, ctx.deps.config().tasks[request.task]);
    const { task, requested } = request;
    const { providerId, model, local } = c;
    const route: RouteEvent = { task, requested, providerId, model, local, fallback, attempts: attempts.map((a) => ({ ...a })) };
    if (request.logRoute) {
      // Logged after this turn of the event loop: the first token goes out before the log line is written.
      const tried = fallback ? ` after ${describeAttempts(route.attempts.slice(0, -1))}` : '';
      setImmediate(() => ctx.logger.info(`route ${requested}: ${describeCandidate(c)}${tried}`));
    }
    this.route = route;
    return route;
  }

  /** The answer is complete: its usage record (outcome ok), written to the ledger. */
  done(u: { inputTokens: number; outputTokens: number; estimated: boolean; ttftMs?: number }): UsageRecord {
    return recordUsage(this.run, this.c, 'ok', u);
  }
}

/**
 * Routes one request: the first eligible candidate that answers, its output events passed on as `attemptOne` yields
 * them. Throws RouteError when none can (or when the one answering fails after its first output).
 */
export async function* runWithFallback<E, R>(
  ctx: RoutingContext,
  request: FallbackRequest,
  attemptOne: AttemptOne<E, R>,
): AsyncGenerator<E, R, void> {
  const run: Run = { ctx, request, attempts: [], order: [], at: new Date().toISOString(), startedAt: ctx.clock.now() };
  const { attempts } = run;
  const found = await eligible(ctx, request.task, attempts, request.signal, request.only, request.needs);
  run.order = found.order;
  const fallsBack = request.fallsBack ?? ((err: ProviderError) => FALLBACK_KINDS.has(err.kind));
  let lastError: ProviderError | undefined;
  for (const c of found.eligible) {
    if (request.signal?.aborted) break;
    if (!(await consented(ctx, request.task, c, attempts))) continue;
    const provider = ctx.deps.providers.get(c.providerId);
    if (!provider) continue;
    const attempt = new Attempt(c, run);
    try {
      const out = attemptOne(attempt, provider);
      const answer = out instanceof Promise ? await out : yield* out;
      if (answer !== undefined) return answer;
      continue;
    } catch (e) {
      const err = toProviderError(e, c, request.signal);
      lastError = err;
      if (!attempt.started) {
        // The request could not be built for this candidate (a prompt that does not fit it): its failure, not its server's.
        attempts.push({ ...c, outcome: 'failed', reason: err.message, kind: err.kind });
        if (err.kind === 'canceled' || !fallsBack(err)) break;
        continue;
      }
      if (request.buffered && err.kind !== 'canceled') {
        // Nothing reached the caller: the answered attempt is a failed one, and the next candidate may answer.
        const i = attempts.findIndex((a) => a.outcome === 'answered');
        if (i >= 0) attempts.splice(i, 1);
        err.afterOutput = false;
      } else if (attempt.route || err.afterOutput) {
        throw failedMidAnswer(run, attempt, err);
      }
      const reason = err.kind === 'canceled' ? 'canceled' : err.message;
      attempts.push({ ...c, outcome: 'failed', reason, kind: err.kind, ms: attempt.elapsed() });
      if (err.kind === 'canceled') break;
      request.onFailure?.(c, err);
      if ((request.cools ?? marksUnhealthy)(err)) ctx.health.markFailed(c.providerId, err.kind, err.message, err.retryAfter);
      ctx.logger.warn(`route ${request.requested}: ${c.providerId}/${c.model} failed (${err.kind}): ${err.message}`);
      if (!fallsBack(err)) break;
    }
  }
  const failure = noAnswer(run, lastError);
  recordUsage(run, lastTried(attempts), failure.kind);
  throw failure;
}

/** Drains a run whose attempts yield nothing (embeddings, completions): its answer. */
export async function answerOf<R>(run: AsyncGenerator<never, R, void>): Promise<R> {
  for (;;) {
    const next = await run.next();
    if (next.done) return next.value;
  }
}

/** An answer that failed after its first output reached the caller: reported, never spliced with another's. */
function failedMidAnswer(run: Run, attempt: Attempt, err: ProviderError): RouteError {
  const { ctx, request } = run;
  const c = attempt.c;
  err.afterOutput = true;
  const p = attempt.partial();
  const outputTokens = p.outputTokens ?? Math.ceil(p.outputChars / 4);
  const estimated = p.outputTokens === undefined;
  recordUsage(run, c, err.kind, { ttftMs: attempt.ttftMs, inputTokens: p.inputTokens, outputTokens, estimated });
  if (err.kind !== 'canceled') {
    ctx.logger.warn(`route ${request.requested}: ${c.providerId}/${c.model} failed after streaming: ${err.kind}: ${err.message}`);
  }
  const message =
    err.kind === 'canceled'
      ? 'The request was canceled.'
      : `${c.providerId}/${c.model} failed mid-answer (${err.kind}): ${err.message}. The partial answer is kept; retry to ask again.`;
  return new RouteError(err.kind, message, request.task, run.attempts, err);
}

function toProviderError(e: unknown, c: Candidate, signal?: AbortSignal): ProviderError {
  const { providerId, model } = c;
  if (signal?.aborted) return new ProviderError('canceled', 'The request was canceled.', { providerId, model, cause: e });
  if (isProviderError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ProviderError('server', redact(message), { providerId, model, cause: e });
}

function noAnswer(run: Run, lastError: ProviderError | undefined): RouteError {
  const { task, requested, signal } = run.request;
  const attempts = run.attempts;
  if (signal?.aborted || lastError?.kind === 'canceled') {
    return new RouteError('canceled', 'The request was canceled.', task, attempts, lastError);
  }
  if (attempts.length === 0) {
    const message =
      `No model is configured or found for ${task}: start a local server (Ollama, llama.cpp, LM Studio, vLLM) ` +
      `or add candidates to switchyard.tasks.${task}.`;
    return new RouteError('config', message, task, attempts);
  }
  const failed = attempts.filter((a) => a.outcome === 'failed');
  const allPolicy = attempts.every((a) => a.kind === 'policy');
  const kind: ErrorKind = lastError?.kind ?? (allPolicy ? 'policy' : (failed.at(-1)?.kind ?? attempts.at(-1)?.kind ?? 'unreachable'));
  return new RouteError(kind, `No model could answer ${requested}: ${describeAttempts(attempts)}.`, task, attempts, lastError);
}

/** Writes the usage record of a routed request (an answer, one cut short, or none) and returns it. */
function recordUsage(
  run: Run,
  c: { providerId: string; model: string; local: boolean } | undefined,
  outcome: UsageRecord['outcome'],
  u: { ttftMs?: number; inputTokens?: number; outputTokens?: number; estimated?: boolean } = {},
): UsageRecord {
  const { ctx, request } = run;
  const record: UsageRecord = {
    at: run.at,
    task: request.task,
    requested: request.requested,
    providerId: c?.providerId ?? '',
    model: c?.model ?? '',
    local: c?.local ?? true,
    outcome,
    attempts: run.attempts.filter((a) => a.outcome !== 'skipped').length,
    ttftMs: u.ttftMs,
    durationMs: ctx.clock.now() - run.startedAt,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    tokensEstimated: u.estimated || undefined,
  };
  if (c && u.inputTokens !== undefined && u.outputTokens !== undefined) {
    const provider = ctx.deps.providers.list().find((p) => p.id === c.providerId);
    record.costUsd = c.local ? 0 : provider && ctx.deps.price?.(provider, c.model, u.inputTokens, u.outputTokens);
  }
  try {
    ctx.deps.usage?.record(record);
  } catch (e) {
    ctx.logger.warn(`usage ledger: ${e instanceof Error ? e.message : String(e)}`);
  }
  return record;
}

/**
 * Whether the answering candidate is a fallback: one before it in the task's order was skipped or failed (skips are
 * recorded up front, for later candidates too). An unknown provider counts where its entry stands in the settings.
 */
function fellBack(
  order: readonly Candidate[],
  attempts: readonly RouteAttempt[],
  answering: Candidate,
  settings: readonly CandidateSetting[],
): boolean {
  const key = (a: { providerId: string; model: string }) => `${a.providerId}/${a.model}`;
  const earlier = new Set(order.slice(0, order.indexOf(answering)).map(key));
  const at = settings.findIndex((s) => s.ref === key(answering));
  const answeringAt = at >= 0 ? at : settings.findIndex((s) => s.ref === 'auto');
  const unknownEarlier = (id: string) => {
    const i = settings.findIndex((s) => splitRef(s.ref)?.providerId === id);
    return i >= 0 && (answeringAt < 0 || i < answeringAt);
  };
  const skippedEarlier = (a: RouteAttempt) => (a.model === '' ? unknownEarlier(a.providerId) : earlier.has(key(a)));
  return attempts.some((a) => a.outcome === 'failed' || (a.outcome === 'skipped' && skippedEarlier(a)));
}

function lastTried(attempts: RouteAttempt[]): RouteAttempt | undefined {
  return [...attempts].reverse().find((a) => a.outcome !== 'skipped');
}
