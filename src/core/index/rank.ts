/**
 * How the index orders what its lists found (measured with `npm run bench -- retrieval`, issue 17):
 *  - bm25 keeps its scores: each chunk's bm25 is divided by the best one's, so a clear keyword winner stays ahead.
 *    (Reciprocal-rank fusion flattened it: rank 1 and rank 10 differed by less than a small vector weight moved.)
 *  - a chunk whose symbol the query names (an identifier query) gets a bonus on top;
 *  - vectors add a weighted, min-max normalised similarity, so they reorder chunks bm25 scores alike and bring in
 *    chunks it missed, without overturning a clear keyword match (0.3: with the test servers' hashed bag-of-words
 *    vectors, 0.5 cost lodash 3 of 34 answers against keyword-only; 0.3 kept recall@5 equal on every set);
 *  - that weight is scaled, per question, by how far the two lists agree: the share of bm25's first AGREEMENT_DEPTH
 *    chunks that are among the vectors' first AGREEMENT_DEPTH. Min-max makes the nearest vector worth the full weight
 *    however weak the vector side is: where the nearest chunks are other things than the words found (express's
 *    route-layer question: a cookie README first), they moved a near-tie past the answer and hybrid ranked below
 *    keyword-only (file MRR@10 0.70 against 0.71). With no keyword hit at all, vectors are all there is (agreement 1);
 *  - a prior by kind of file: prose (README, changelog, licence), data (JSON, YAML, lock files) and tests weigh less
 *    than source code unless the question asks for them ("readme", "changelog", "tests", "config"…): they may
 *    answer, but they no longer crowd the code out (express's dependency tree has a README and a changelog per package);
 *  - diversity: at most MAX_PER_FILE chunks of one file before every other file's chunks. One per file measured
 *    worse (chunk-level recall@5 0.71 → 0.66): in a 5,000-line module the answer is often a file's second chunk.
 */

export type FileKind = 'code' | 'test' | 'prose' | 'data';

/** Weight of each kind of file when the question does not ask for that kind. */
const PRIOR: Record<FileKind, number> = { code: 1, test: 0.7, prose: 0.5, data: 0.5 };

/** Bonus for the chunks whose symbol the query names, divided by (1 + rank in that list). */
const SYMBOL_BONUS = 0.5;

/** Weight of the (min-max normalised) vector similarity next to the (max-normalised) bm25 score. */
export const VECTOR_WEIGHT = 0.3;

/** How many of each list's first chunks the agreement between bm25 and vectors is measured on. */
export const AGREEMENT_DEPTH = 20;

/** Chunks of one file among the results before the other files' chunks come first. */
export const MAX_PER_FILE = 3;

const PROSE_LANGUAGES = new Set(['markdown', 'text', 'restructuredtext', 'asciidoc']);
const DATA_LANGUAGES = new Set(['json', 'yaml', 'toml', 'xml', 'csv', 'ini']);
const PROSE_NAME = /(^|\/)(readme|changelog|changes|history|license|licence|copying|notice|authors|contributors|contributing|code_of_conduct|security)(\.[^/]*)?$/i;
const DATA_NAME = /\.(json|jsonc|json5|ya?ml|toml|xml|csv|ini|lock|cfg|conf|properties)$/i;
const TEST_PATH = /(^|\/)(tests?|__tests__|specs?|__mocks__|fixtures?)\/|[._-](test|spec)\.[a-z0-9]+$|(^|\/)test_[^/]*\.py$|_test\.(go|py|rb|exs?)$/i;

/** What kind of file a path is: source code, a test, prose (docs, changelog, licence) or data (config, JSON). */
export function fileKind(filePath: string, language?: string): FileKind {
  if (PROSE_NAME.test(filePath) || (language !== undefined && PROSE_LANGUAGES.has(language))) return 'prose';
  if (DATA_NAME.test(filePath) || (language !== undefined && DATA_LANGUAGES.has(language))) return 'data';
  if (TEST_PATH.test(filePath)) return 'test';
  return 'code';
}

const ASKS: Record<Exclude<FileKind, 'code'>, RegExp> = {
  prose: /\b(readme|docs?|documentation|documented|changelog|change ?log|changes|history|release notes?|licen[cs]e[sd]?|copyright|guide|tutorial|faq|markdown|\w+\.md)\b/i,
  test: /\b(tests?|tested|testing|specs?|unit ?tests?|fixtures?|mocks?|assert(ion)?s?)\b/i,
  data: /\b(config(uration)?s?|settings?|package\.json|tsconfig|manifest|\w+\.(json|ya?ml|toml|lock)|json files?|yaml|toml|lock ?files?|dependenc(y|ies))\b/i,
};

/** The kinds of file a question asks for by name (their prior is lifted); code is always wanted. */
export function queryAsks(query: string): Set<FileKind> {
  const out = new Set<FileKind>(['code']);
  for (const [kind, re] of Object.entries(ASKS) as [FileKind, RegExp][]) if (re.test(query)) out.add(kind);
  return out;
}

/** The prior of a kind of file for a question that asks for `asks`. */
export function prior(kind: FileKind, asks: ReadonlySet<FileKind>): number {
  return asks.has(kind) ? 1 : PRIOR[kind];
}

export interface RankedList {
  id: number;
  /** bm25 (lower is better) for keyword lists, cosine distance for vectors. */
  raw: number;
}

/**
 * The share (0..1) of the keyword list's first AGREEMENT_DEPTH chunks that the vector list's first AGREEMENT_DEPTH
 * also holds (out of as many as the shorter list has); 1 when there are no keyword hits (vectors alone decide).
 */
export function agreement(words: readonly RankedList[], vectors: readonly RankedList[]): number {
  const n = Math.min(AGREEMENT_DEPTH, words.length, vectors.length);
  if (words.length === 0) return 1;
  if (n === 0) return 0;
  const near = new Set(vectors.slice(0, AGREEMENT_DEPTH).map((r) => r.id));
  return words.slice(0, AGREEMENT_DEPTH).filter((r) => near.has(r.id)).length / n;
}

/**
 * One score per chunk from the three lists: bm25 divided by the best bm25, plus the symbol bonus, plus the vector
 * similarity normalised between the list's worst and best and weighted by the lists' agreement; scaled into 0..1.
 * Higher is better.
 */
export function fuse(lists: { words: readonly RankedList[]; symbols?: readonly RankedList[]; vectors?: readonly RankedList[] }): Map<number, number> {
  const out = new Map<number, number>();
  const add = (id: number, x: number) => out.set(id, (out.get(id) ?? 0) + x);
  const best = Math.max(1e-9, ...lists.words.map((r) => -r.raw));
  for (const r of lists.words) add(r.id, Math.max(0, -r.raw) / best);
  lists.symbols?.forEach((r, i) => add(r.id, SYMBOL_BONUS / (1 + i)));
  const vectors = lists.vectors ?? [];
  if (vectors.length) {
    const sims = vectors.map((r) => 1 - r.raw);
    const hi = Math.max(...sims);
    const lo = Math.min(...sims);
    const weight = VECTOR_WEIGHT * agreement(lists.words, vectors);
    vectors.forEach((r, i) => add(r.id, weight * (hi > lo ? (sims[i]! - lo) / (hi - lo) : 1)));
  }
  // Scaled into 0..1 (1: the best keyword match, the named symbol and the nearest vector at once).
  for (const [id, x] of out) out.set(id, x / (1 + SYMBOL_BONUS + VECTOR_WEIGHT));
  return out;
}

/**
 * Reorders a best-first list so no file has more than `perFile` items before every other file's items: the extra
 * chunks of a file keep their order but move after the rest.
 */
export function diversify<T>(items: readonly T[], fileOf: (item: T) => string, perFile = MAX_PER_FILE): T[] {
  const seen = new Map<string, number>();
  const first: T[] = [];
  const rest: T[] = [];
  for (const item of items) {
    const f = fileOf(item);
    const n = seen.get(f) ?? 0;
    seen.set(f, n + 1);
    (n < perFile ? first : rest).push(item);
  }
  return rest.length ? [...first, ...rest] : first;
}
