/**
 * The context window of a candidate: the one lookup every caller uses (the chat turn sizing its prompt, VS Code's
 * model picker, the index's chunk budget). The task setting's `contextSize` caps it; the size comes from what the
 * provider's discovery reported for the model (an Ollama name without a tag is its `:latest`), else the catalog's
 * entry for it. Unknown is undefined: each caller picks its own assumption (DEFAULT_CONTEXT_WINDOW for prompts).
 */
import { lookupModel } from '../config/catalog';
import type { ProviderConfig } from '../providers/types';
import type { Candidate, ProviderSource } from './router';

/** Ollama names without a tag mean ":latest". */
export function sameModel(provider: ProviderConfig, a: string, b: string): boolean {
  if (a === b) return true;
  if (provider.kind !== 'ollama') return false;
  const norm = (s: string) => (s.includes(':') ? s : `${s}:latest`);
  return norm(a) === norm(b);
}

/** The window assumed for a model nobody knows the size of. */
export const DEFAULT_CONTEXT_WINDOW = 8192;

/** From what is known now (no request): discovery's cache, then the catalog; capped by `contextSize`. */
export function knownContextWindow(c: Candidate, providers: ProviderSource): number | undefined {
  return windowFrom(c, providers, providers.cachedModels(c.providerId));
}

/**
 * As knownContextWindow, asking a local candidate's server first when its models are not known yet (a cloud provider
 * is never asked: its models come from the catalog). A server that cannot answer leaves the catalog's word.
 */
export async function contextWindow(c: Candidate, providers: ProviderSource, signal?: AbortSignal): Promise<number | undefined> {
  let models = providers.cachedModels(c.providerId);
  if (!models && c.local) models = await providers.discover(c.providerId, signal).catch(() => undefined);
  return windowFrom(c, providers, models);
}

function windowFrom(
  c: Candidate,
  providers: ProviderSource,
  models: readonly { id: string; contextLength?: number }[] | undefined,
): number | undefined {
  const provider = providers.list().find((p) => p.id === c.providerId);
  const discovered = provider ? models?.find((m) => sameModel(provider, m.id, c.model))?.contextLength : undefined;
  const size = discovered ?? lookupModel(provider ? (provider.preset ?? provider.kind) : undefined, c.model)?.contextWindow;
  if (size === undefined) return c.contextSize;
  return c.contextSize === undefined ? size : Math.min(size, c.contextSize);
}
