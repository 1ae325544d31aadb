/**
 * The chunk budget comes from the embedding model's context window: a chunk must fit one embedding request. The
 * router's route for `embed` names the model; its context comes from the task setting (`contextSize`) or discovery.
 * Capped at 400 tokens (retrieval works best with focused chunks) and never under 64.
 */
import { estimateTokens } from '../providers/tokenEstimate';
import { knownContextWindow } from '../routing/window';
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
    return chunkBudgetFor(knownContextWindow(c, sy.registry));
  } catch {
    return chunkBudgetFor(undefined);
  }
}

/**
 * A conservative count of an embedding model's tokens for code, in the way WordPiece/BPE vocabularies split it:
 * every punctuation mark and digit is a token, a run of letters is about one per 4 letters (camelCase parts and
 * rare identifiers split), anything else one per character. Measured against a bge WordPiece vocabulary, code
 * runs well over the ~3 characters per token that prose gets; this errs high. Used to cut inputs to a limit learned
 * from the model's own refusals (the same units in and out, so the estimate need not be exact).
 */
export function embedTokens(text: string): number {
  let n = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      run++;
      continue;
    }
    if (run) {
      n += Math.ceil(run / 4);
      run = 0;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    if (c >= 0xdc00 && c <= 0xdfff) continue; // the second half of a surrogate pair: counted with the first
    n++;
  }
  return run ? n + Math.ceil(run / 4) : n;
}

/**
 * Tokens a chunk is budgeted by: the router's estimate (~3 characters per token) or the code-aware count, whichever
 * is higher, so dense code (operators, brackets, digits) is not cut into chunks several times the model's limit.
 */
export function chunkTokens(text: string): number {
  return Math.max(estimateTokens(text), embedTokens(text));
}

/** Recorded with the chunk budget in the index: a change of how chunks are measured re-chunks every file once. */
export const CHUNK_MEASURE = 'code1';

/** The longest start of `text` within `limit` embedTokens (cut at a line end where one is near), or `text` itself. */
export function fitTokens(text: string, limit: number): string {
  const total = embedTokens(text);
  if (total <= limit) return text;
  let len = Math.floor((text.length * limit) / total);
  while (len > 0 && embedTokens(text.slice(0, len)) > limit) len = Math.floor(len * 0.9);
  const nl = text.lastIndexOf('\n', len);
  return text.slice(0, nl > len * 0.8 ? nl : len);
}
