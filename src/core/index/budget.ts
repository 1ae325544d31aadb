/**
 * The chunk budget comes from the embedding model's context window: a chunk must fit one embedding request. The
 * router's route for `embed` names the model; its context comes from the task setting (`contextSize`) or discovery.
 * Capped at 400 tokens (retrieval works best with focused chunks) and never under 64.
 */
import type { Switchyard } from '../switchyard';

export const MAX_CHUNK_TOKENS = 400;
const MIN_CHUNK_TOKENS = 64;

/** Tokens per chunk for an embedding context of `contextTokens` (unknown: assume a 512-token model). */
export function chunkBudgetFor(contextTokens: number | undefined): number {
  const ctx = contextTokens && contextTokens > 0 ? contextTokens : 512;
  return Math.max(MIN_CHUNK_TOKENS, Math.min(MAX_CHUNK_TOKENS, Math.floor(ctx * 0.8)));
}

/** The budget for the model the router would embed with now (no probe; discovery only as routing does it). */
export async function chunkBudget(sy: Switchyard, signal?: AbortSignal): Promise<number> {
  try {
    const plan = await sy.router.plan('embed', { signal });
    const c = plan.candidate;
    if (!c) return chunkBudgetFor(undefined);
    const discovered = sy.registry.cachedModels(c.providerId)?.find((m) => m.id === c.model)?.contextLength;
    return chunkBudgetFor(c.contextSize ?? discovered);
  } catch {
    return chunkBudgetFor(undefined);
  }
}
