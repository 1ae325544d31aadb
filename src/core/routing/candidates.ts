/**
 * A task's candidates: its settings' models in order, "auto" expanded to what local servers have, each marked local
 * or cloud by where its prompt goes, with the lookups the router's checks share (is the model there, which one was
 * meant, what does discovery know of it).
 */
import { isProviderError, marksUnhealthy } from '../errors';
import { closest, splitRef, type CandidateSetting, type TaskName } from '../config/config';
import { modelRemoteHost } from '../providers/cloudModels';
import { isLoopbackHost } from '../providers/index';
import type { ModelInfo, ProviderConfig } from '../providers/types';
import { fimChoice, modelInfo, providerConfig } from './capabilities';
import { STALE_NEGATIVE_MS, type Candidate, type RoutingContext } from './types';
import { sameModel } from './window';

/**
 * The task's candidates in order, with "auto" expanded to the models found on local servers (discovery is attempted
 * for local providers not yet known, with a short timeout). A model named twice (explicitly and through "auto") is
 * tried once.
 */
export async function taskCandidates(
  ctx: RoutingContext,
  task: TaskName,
  signal?: AbortSignal,
  fresh = false,
): Promise<{ list: Candidate[]; unknownProviders: string[] }> {
  const { providers } = ctx.deps;
  const list: Candidate[] = [];
  const unknownProviders: string[] = [];
  const byId = new Map(providers.list().map((p) => [p.id, p]));
  for (const setting of ctx.deps.config().tasks[task]) {
    if (setting.ref === 'auto') {
      list.push(...(await autoCandidates(ctx, task, setting, signal, fresh)));
      continue;
    }
    const ref = splitRef(setting.ref);
    if (!ref) continue;
    const provider = byId.get(ref.providerId);
    if (!provider) {
      unknownProviders.push(ref.providerId);
      continue;
    }
    const healthy = ctx.health.coolingFor(provider.id) === 0;
    // Whether a model a local daemon lists is really local is discovery's answer (Ollama cloud models under any
    // name): ask it first when it is not known yet. A server that cannot answer fails the request anyway.
    if (provider.local && provider.kind === 'ollama' && !providers.cachedModels(provider.id) && healthy) {
      await providers.discover(provider.id, signal).catch(() => undefined);
    }
    // A local server's list that lacks the model is trusted for STALE_NEGATIVE_MS only: it may have been pulled
    // from a terminal since, and "model not found" must not rest on an older list.
    if (provider.local && knownMissing(ctx, { providerId: provider.id, model: ref.model }) && ctx.health.coolingFor(provider.id) === 0) {
      await providers.discover(provider.id, signal, STALE_NEGATIVE_MS).catch(() => undefined);
    }
    list.push(candidateFor(ctx, provider, ref.model, setting));
  }
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

function candidateFor(
  ctx: RoutingContext,
  provider: ProviderConfig,
  model: string,
  setting: CandidateSetting,
  info?: ModelInfo,
): Candidate {
  const remote = remoteHost(ctx, provider, model, info);
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
function remoteHost(ctx: RoutingContext, provider: ProviderConfig, model: string, info?: ModelInfo): string | undefined {
  return modelRemoteHost(provider, model, info ?? modelInfo(ctx, { providerId: provider.id, model }).info);
}

/**
 * A server on this machine that refused a connection may have started since (a user starting Ollama after VS Code):
 * asking again costs a refused loopback connect, well under a millisecond. A request (`fresh`) always asks again,
 * so it never fails with "no model" for a refusal it did not see itself; a plan (the status bar, Show Routes) trusts
 * a refusal for STALE_NEGATIVE_MS, however long the cool-down.
 */
function staleNegative(ctx: RoutingContext, p: ProviderConfig, fresh: boolean): boolean {
  const s = ctx.health.get(p.id);
  if (!s || s.healthy || s.lastKind !== 'unreachable' || !isLoopbackHost(p.baseUrl)) return false;
  return fresh || ctx.clock.now() - s.checkedAt > STALE_NEGATIVE_MS;
}

async function autoCandidates(
  ctx: RoutingContext,
  task: TaskName,
  setting: CandidateSetting,
  signal?: AbortSignal,
  fresh = false,
): Promise<Candidate[]> {
  const { providers } = ctx.deps;
  const out: Candidate[] = [];
  const found = await Promise.all(
    providers
      .list()
      .filter((p) => p.local)
      .map(async (p) => {
        const cooling = ctx.health.coolingFor(p.id) > 0;
        if (cooling && !staleNegative(ctx, p, fresh)) return { p, models: providers.cachedModels(p.id) ?? [] };
        try {
          let models = await providers.discover(p.id, signal);
          // A list with no model for this task is trusted for STALE_NEGATIVE_MS only (a model pulled since).
          if (!models.some((m) => autoServes(ctx, task, p, m))) models = await providers.discover(p.id, signal, STALE_NEGATIVE_MS);
          // It answered: the refusal that cooled it down is over.
          if (cooling) ctx.health.markHealthy(p.id);
          return { p, models };
        } catch (e) {
          if (isProviderError(e) && marksUnhealthy(e)) ctx.health.markFailed(p.id, e.kind, e.message);
          return { p, models: [] as ModelInfo[] };
        }
      }),
  );
  for (const { p, models } of found) {
    for (const m of models) if (autoServes(ctx, task, p, m)) out.push(candidateFor(ctx, p, m.id, setting, m));
  }
  // Completions: models that fill in the middle first (a stable sort keeps discovery's order within each group).
  if (task === 'complete') return out.sort((a, b) => Number(!fimChoice(ctx, a).usable) - Number(!fimChoice(ctx, b).usable));
  return out;
}

function isEmbeddingModel(m: ModelInfo): boolean {
  return m.capabilities.embeddings === true || /embed/i.test(m.id);
}

/** Whether "auto" takes this discovered model for the task. */
function autoServes(ctx: RoutingContext, task: TaskName, p: ProviderConfig, m: ModelInfo): boolean {
  // "auto" means models on local servers: a model a local daemon serves from the cloud is never one.
  if (remoteHost(ctx, p, m.id, m) !== undefined) return false;
  if (task === 'complete') return !isEmbeddingModel(m);
  return task === 'embed' ? isEmbeddingModel(m) : m.capabilities.chat !== false && !isEmbeddingModel(m);
}

/** The provider's discovered models (known, not empty) do not include the candidate's. */
export function knownMissing(ctx: RoutingContext, c: Pick<Candidate, 'providerId' | 'model'>): boolean {
  const provider = providerConfig(ctx, c.providerId);
  const models = ctx.deps.providers.cachedModels(c.providerId);
  if (!provider || !models || models.length === 0) return false;
  return !models.some((m) => sameModel(provider, m.id, c.model));
}

/**
 * A model the server lists that the missing one was probably meant to be: the same name with another tag
 * ("qwen2.5-coder" when only "qwen2.5-coder:7b" is pulled), or a typo away ("qwen2.5-coder:7").
 */
export function closeModel(ctx: RoutingContext, c: Pick<Candidate, 'providerId' | 'model'>): string | undefined {
  const ids = (ctx.deps.providers.cachedModels(c.providerId) ?? []).map((m) => m.id);
  const base = (id: string) => id.split(':')[0]!.toLowerCase();
  const sameBase = ids.filter((id) => base(id) === base(c.model));
  return sameBase.length === 1 ? sameBase[0] : closest(c.model, ids);
}

/** The host name of a base URL ("embedded:" and unparsable URLs give the URL itself). */
function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname || baseUrl;
  } catch {
    return baseUrl;
  }
}
