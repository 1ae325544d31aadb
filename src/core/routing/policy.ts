/**
 * Which of a task's candidates a request may try, and what each may receive: the privacy policy (and, under "ask",
 * the user's consent), the providers' health (cool-down after a failure, a probe when everything is cooling down),
 * models known to be missing, what the request needs of a model, and secrets redacted from what a cloud candidate
 * is sent (with its egress record).
 */
import { isProviderError, type ErrorKind } from '../errors';
import type { TaskName } from '../config/config';
import { redactionKinds, type EgressSource } from '../usage/ledger';
import { capabilityGap, fimGap } from './capabilities';
import { closeModel, knownMissing, taskCandidates } from './candidates';
import { outbound, uniqueSources } from './egress';
import { cloudVerdict, type CloudVerdict } from './privacy';
import type { Candidate, RequestNeeds, RouteAttempt, RoutingContext } from './types';

/** The privacy policy's word on cloud candidates now (asking counts only where someone can be asked). */
export function cloudPolicy(ctx: RoutingContext): CloudVerdict {
  return cloudVerdict(ctx.deps.privacy(), ctx.deps.askCloud !== undefined);
}

/** A candidate naming a provider that is not configured: skipped, and said so. */
export function unknownProvider(id: string): { providerId: string; model: ''; local: false; reason: string; kind: 'config' } {
  return { providerId: id, model: '', local: false, reason: `no provider "${id}" in switchyard.providers`, kind: 'config' };
}

/** Why a candidate is not tried now (policy, cool-down, a model the server does not have), or undefined. */
export function skipReason(ctx: RoutingContext, c: Candidate, task?: TaskName): { reason: string; kind: ErrorKind } | undefined {
  if (!c.local) {
    if (task === 'complete' && !ctx.deps.config().completion.allowCloud) {
      const reason = 'cloud completions are off (switchyard.completion.allowCloud): each one would send the code around the cursor';
      return { reason, kind: 'policy' };
    }
    const verdict = cloudPolicy(ctx);
    if (verdict.allowed === false) return { reason: verdict.reason, kind: 'policy' };
  }
  const cooling = ctx.health.coolingFor(c.providerId);
  if (cooling > 0) {
    const s = ctx.health.get(c.providerId);
    const reason = `${s?.lastReason ?? 'failed recently'} (cooling down, next try in ${Math.ceil(cooling / 1000)} s)`;
    return { reason, kind: s?.lastKind ?? 'unreachable' };
  }
  if (knownMissing(ctx, c)) {
    const near = closeModel(ctx, c);
    const guess = near ? `; did you mean "${c.providerId}/${near}"?` : '';
    return { reason: `model "${c.model}" is not on ${c.providerId}${guess}`, kind: 'modelMissing' };
  }
  return undefined;
}

/** Probes a provider's health now and records the result. */
export async function probe(ctx: RoutingContext, providerId: string, signal?: AbortSignal): Promise<boolean> {
  const provider = ctx.deps.providers.get(providerId);
  if (!provider) return false;
  const timeout = AbortSignal.timeout(ctx.deps.probeTimeoutMs ?? 2000);
  try {
    await provider.health(signal ? AbortSignal.any([signal, timeout]) : timeout);
    ctx.health.markHealthy(providerId);
    return true;
  } catch (e) {
    const kind = isProviderError(e) ? e.kind : 'unreachable';
    const message = e instanceof Error ? e.message : String(e);
    if (kind === 'auth') {
      // Reachable but our key is refused: not a health problem of the server.
      return true;
    }
    ctx.health.markFailed(providerId, kind, message);
    return false;
  }
}

/**
 * The candidates to try, in order, recording every skipped one in `attempts` (`order`: all of the task's, for telling
 * a fallback). When everything is cooling down the cooled-down providers are probed (cheap) rather than failing
 * without trying.
 */
export async function eligible(
  ctx: RoutingContext,
  task: TaskName,
  attempts: RouteAttempt[],
  signal?: AbortSignal,
  only?: string,
  needs?: RequestNeeds,
): Promise<{ eligible: Candidate[]; order: Candidate[] }> {
  const all = await taskCandidates(ctx, task, signal, true);
  const list = only === undefined ? all.list : all.list.filter((c) => `${c.providerId}/${c.model}` === only);
  for (const id of only === undefined ? all.unknownProviders : []) attempts.push({ ...unknownProvider(id), outcome: 'skipped' });
  const ok: Candidate[] = [];
  const cooledDown: Candidate[] = [];
  if (needs?.tools || needs?.images) await discoverCapabilities(ctx, list, needs, signal);
  for (const c of list) {
    const policy = skipReason(ctx, c, task);
    const fim = policy?.kind === 'policy' ? undefined : fimGap(ctx, task, c);
    const gap = policy?.kind === 'policy' ? undefined : capabilityGap(ctx, c, needs);
    const skip = gap ? { reason: gap.reason, kind: 'config' as const } : policy;
    if (fim) attempts.push({ ...c, outcome: 'skipped', reason: fim.reason, kind: fim.kind, missing: 'fim' });
    else if (!skip) ok.push(c);
    else if (gap) attempts.push({ ...c, outcome: 'skipped', reason: skip.reason, kind: skip.kind, missing: gap.missing });
    else if (skip.kind !== 'policy' && skip.kind !== 'modelMissing' && ctx.health.coolingFor(c.providerId) > 0) cooledDown.push(c);
    else attempts.push({ ...c, outcome: 'skipped', reason: skip.reason, kind: skip.kind });
  }
  const probeAll = ok.length === 0;
  for (const c of cooledDown) {
    if (probeAll && (await probe(ctx, c.providerId, signal))) ok.push(c);
    else {
      const reason = skipReason(ctx, c, task)?.reason ?? 'unhealthy';
      attempts.push({ ...c, outcome: 'skipped', reason, kind: ctx.health.get(c.providerId)?.lastKind ?? 'unreachable' });
    }
  }
  return { eligible: list.filter((c) => ok.includes(c)), order: list };
}

/**
 * Whether a local model calls tools or takes images is discovery's answer (Ollama /api/show, llama.cpp /props): asks
 * the servers not known yet (a loopback request, cached after).
 */
async function discoverCapabilities(
  ctx: RoutingContext,
  list: readonly Candidate[],
  needs: RequestNeeds,
  signal?: AbortSignal,
): Promise<void> {
  const unknown = (c: Candidate) =>
    c.local &&
    ((needs.images && c.vision === undefined) || (needs.tools && c.tools !== false)) &&
    !ctx.deps.providers.cachedModels(c.providerId) &&
    ctx.health.coolingFor(c.providerId) === 0;
  const ids = [...new Set(list.filter(unknown).map((c) => c.providerId))];
  await Promise.all(ids.map((id) => ctx.deps.providers.discover(id, signal).catch(() => undefined)));
}

/** Under privacy "ask", asks before a cloud candidate; records a refusal as a skip. */
export async function consented(ctx: RoutingContext, task: TaskName, c: Candidate, attempts: RouteAttempt[]): Promise<boolean> {
  if (c.local || cloudPolicy(ctx).allowed !== 'ask') return true;
  if (await ctx.deps.askCloud!({ task, providerId: c.providerId, model: c.model })) return true;
  attempts.push({ ...c, outcome: 'skipped', reason: 'you chose to stay local', kind: 'policy' });
  return false;
}

/**
 * What a candidate receives. A local one: the texts unchanged. A cloud one: the texts with secrets redacted
 * (switchyard.redactSecrets), and an egress record of what left; or, under "block" when there are secrets,
 * nothing: the candidate is recorded as skipped and undefined returned.
 */
export function sendable(
  ctx: RoutingContext,
  task: TaskName,
  c: Candidate,
  texts: readonly string[],
  sources: readonly EgressSource[] | undefined,
  attempts: RouteAttempt[],
): readonly string[] | undefined {
  if (c.local) return texts;
  const mode = ctx.deps.config().redactSecrets;
  const out = outbound(texts, mode, ctx.deps.secretValues?.() ?? []);
  const found = redactionKinds(out.redactions);
  if (mode === 'block' && out.found > 0) {
    const reason = `the request carries secrets (${found}) and switchyard.redactSecrets is "block"`;
    attempts.push({ ...c, outcome: 'skipped', reason, kind: 'policy' });
    ctx.logger.warn(`route ${task}: ${c.providerId}/${c.model} not sent: ${reason}`);
    return undefined;
  }
  if (out.found > 0) ctx.logger.info(`route ${task}: redacted ${found} before sending to ${c.providerId}/${c.model}`);
  try {
    ctx.deps.usage?.egress?.({
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
    ctx.logger.warn(`usage ledger (egress): ${e instanceof Error ? e.message : String(e)}`);
  }
  return out.texts;
}
