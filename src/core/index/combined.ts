/**
 * One Retriever over several folders' indexes (a multi-root workspace): each is searched, the lists are merged and
 * cut to k and the token budget. Every index scores relative to its own best match, so the merge interleaves the
 * folders' lists by rank (ties by score).
 */
import { estimateTokens } from '../providers/tokenEstimate';
import type { IndexStatus, RetrievedChunk, RetrieveOptions, Retriever } from './types';

export class CombinedRetriever implements Retriever {
  constructor(private readonly parts: () => readonly Retriever[]) {}

  async search(query: string, options: RetrieveOptions = {}): Promise<RetrievedChunk[]> {
    const parts = this.parts();
    if (parts.length === 1) return parts[0]!.search(query, options);
    const k = options.k ?? 10;
    const lists = await Promise.all(parts.map((p) => p.search(query, { ...options, tokenBudget: undefined, k })));
    // Each index's scores are relative to its own best match: interleave the lists by rank, then by score.
    const merged = lists
      .flatMap((list) => list.map((c, rank) => ({ c, rank })))
      .sort((a, b) => a.rank - b.rank || b.c.score - a.c.score)
      .map((x) => x.c);
    const out: RetrievedChunk[] = [];
    let used = 0;
    for (const c of merged) {
      const tokens = estimateTokens(c.text);
      if (options.tokenBudget !== undefined && used + tokens > options.tokenBudget) break;
      used += tokens;
      out.push(c);
      if (out.length >= k) break;
    }
    return out;
  }

  status(): IndexStatus {
    const all = this.parts().map((p) => p.status());
    if (all.length === 0) return { state: 'disabled', filesDone: 0, filesTotal: 0, chunks: 0, embeddingsPending: 0, keywordOnly: true };
    const state = all.some((s) => s.state === 'error') ? 'error' : all.some((s) => s.state === 'indexing') ? 'indexing' : all[0]!.state;
    return {
      state,
      filesDone: all.reduce((n, s) => n + s.filesDone, 0),
      filesTotal: all.reduce((n, s) => n + s.filesTotal, 0),
      chunks: all.reduce((n, s) => n + s.chunks, 0),
      embeddingsPending: all.reduce((n, s) => n + s.embeddingsPending, 0),
      keywordOnly: all.some((s) => s.keywordOnly),
      message: all.find((s) => s.message)?.message,
    };
  }
}
