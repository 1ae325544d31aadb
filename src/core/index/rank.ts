/**
 * How the index orders what its lists found (measured with `npm run bench -- retrieval`, issue 17):
 *  - bm25 keeps its scores: each chunk's bm25 is divided by the best one's, so a clear keyword winner stays ahead.
 *    (Reciprocal-rank fusion flattened it: rank 1 and rank 10 differed by less than a small vector weight moved.)
 *  - a chunk whose symbol the query names (an identifier query) gets a bonus on top;
 *  - the thesaurus's words for the question's words (synonyms.ts) count at EXPANSION_WEIGHT of the question's own;
 *  - vectors keep keyword's order unless one chunk stands out among them (see blend). Adding them as a weighted
 *    score (0.3 of a min-max normalised similarity, scaled by how far the lists agreed) still ranked below
 *    keyword-only: with the test servers' lexical vectors they agree with bm25 on the wrong file as often as on the
 *    right one (zod: file MRR@10 0.769 against 0.773; with the thesaurus, recall@5 0.91 against 0.94);
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

/**
 * Weight of the thesaurus's words (synonyms.ts) next to the question's own: their bm25, divided by the best bm25 of
 * the question's words, counts this much (and never more than that). bm25 is a sum over the query's terms, so this is
 * one bm25 in which the expansion terms weigh EXPANSION_WEIGHT and the question's words 1. Measured: 0.1, 0.2 and 0.3
 * all gave keyword-only file recall@5 0.90 over the three sets (0.89 without); 0.5 cost lodash 3 of 34 answers.
 */
export const EXPANSION_WEIGHT = 0.2;

/**
 * A vector outlier: similarity this many standard deviations above the mean of the vector list's similarities. With
 * the test servers' lexical vectors every lift measured cost something: at 2.5 they changed the first 10 of 81 of
 * 101 questions (zod lost 2 answers, lodash 1), at 4 of 22 (a cookie README and a regexp module passed answers at 4th:
 * express and lodash file MRR@10 0.0005 and 0.0015 below keyword-only), at 5 of 3 (lodash); at 6 of none. So only a
 * chunk the vectors set far apart, as a real embedding model does for a paraphrase of the question, comes in (one
 * chunk alone above 49 others that are alike is sqrt(49) = 7 deviations out: 6 needs nearly that).
 */
export const LIFT_Z = 6;

/** Only the vector list's first LIFT_DEPTH chunks may be lifted. */
export const LIFT_DEPTH = 3;

/** A lifted chunk comes in at this position (1-based): keyword's first LIFT_TO - 1 results stay where they are. */
export const LIFT_TO = 4;

/** Vector similarity breaks keyword scores this close (exact ties: the same chunk text twice, say) and no others. */
const TIE = 1e-9;

/** Chunks of one file among the results before the other files' chunks come first. */
export const MAX_PER_FILE = 3;

const PROSE_LANGUAGES = new Set(['markdown', 'text', 'restructuredtext', 'asciidoc']);
const DATA_LANGUAGES = new Set(['json', 'yaml', 'toml', 'xml', 'csv', 'ini']);
const PROSE_NAME = new RegExp(
  String.raw`(^|\/)(readme|changelog|changes|history|license|licence|copying|` +
    String.raw`notice|authors|contributors|contributing|code_of_conduct|security)(\.[^/]*)?$`,
  'i',
);
const DATA_NAME = /\.(json|jsonc|json5|ya?ml|toml|xml|csv|ini|lock|cfg|conf|properties)$/i;
const TEST_PATH =
  /(^|\/)(tests?|__tests__|specs?|__mocks__|fixtures?)\/|[._-](test|spec)\.[a-z0-9]+$|(^|\/)test_[^/]*\.py$|_test\.(go|py|rb|exs?)$/i;

/** What kind of file a path is: source code, a test, prose (docs, changelog, licence) or data (config, JSON). */
export function fileKind(filePath: string, language?: string): FileKind {
  if (PROSE_NAME.test(filePath) || (language !== undefined && PROSE_LANGUAGES.has(language))) return 'prose';
  if (DATA_NAME.test(filePath) || (language !== undefined && DATA_LANGUAGES.has(language))) return 'data';
  if (TEST_PATH.test(filePath)) return 'test';
  return 'code';
}

const ASKS: Record<Exclude<FileKind, 'code'>, RegExp> = {
  prose: new RegExp(
    String.raw`\b(readme|docs?|documentation|documented|changelog|change ?log|changes|history|` +
      String.raw`release notes?|licen[cs]e[sd]?|copyright|guide|tutorial|faq|markdown|\w+\.md)\b`,
    'i',
  ),
  test: /\b(tests?|tested|testing|specs?|unit ?tests?|fixtures?|mocks?|assert(ion)?s?)\b/i,
  data: new RegExp(
    String.raw`\b(config(uration)?s?|settings?|package\.json|tsconfig|manifest|\w+\.(json|ya?ml|toml|lock)|` +
      String.raw`json files?|yaml|toml|lock ?files?|dependenc(y|ies))\b`,
    'i',
  ),
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
 * One keyword score per chunk from the keyword lists: bm25 divided by the best bm25 of the question's words, plus the
 * thesaurus's words at EXPANSION_WEIGHT, plus the symbol bonus; scaled into 0..1. Higher is better.
 */
export function fuse(lists: {
  words: readonly RankedList[];
  expanded?: readonly RankedList[];
  symbols?: readonly RankedList[];
}): Map<number, number> {
  const out = new Map<number, number>();
  const add = (id: number, x: number) => out.set(id, (out.get(id) ?? 0) + x);
  const expanded = lists.expanded ?? [];
  const best = Math.max(1e-9, ...(lists.words.length ? lists.words : expanded).map((r) => -r.raw));
  for (const r of lists.words) add(r.id, Math.max(0, -r.raw) / best);
  // At most EXPANSION_WEIGHT: a synonym rarer than the question's words (whose idf is near 0 when every chunk has
  // them) must not outweigh them.
  for (const r of expanded) add(r.id, EXPANSION_WEIGHT * Math.min(1, Math.max(0, -r.raw) / best));
  lists.symbols?.forEach((r, i) => add(r.id, SYMBOL_BONUS / (1 + i)));
  // Scaled into 0..1 (1: the best match of every word, its synonyms and the named symbol at once).
  for (const [id, x] of out) out.set(id, x / (1 + SYMBOL_BONUS + EXPANSION_WEIGHT));
  return out;
}

/**
 * Adds the vectors to the keyword scores (after the file-kind prior) so that hybrid keeps keyword-only's order
 * wherever the vectors bring no evidence of their own (with a lexical embedding they mostly say what bm25 says, and
 * adding them as a weighted score moved near-ties past the answer):
 *  - among keyword hits, vector similarity only breaks ties (scores within TIE);
 *  - a chunk the vectors find clearly nearer than the rest (among their first LIFT_DEPTH, LIFT_Z standard deviations
 *    above their mean similarity) that keyword ranks below LIFT_TO or not at all comes in at position LIFT_TO;
 *  - every other chunk only the vectors found comes after the keyword hits, in the vectors' order;
 *  - with no keyword hit at all, the vectors' order is the order.
 * So where no vector chunk stands out, hybrid's order is keyword-only's; where one does, keyword's first LIFT_TO - 1
 * stay first. Scores stay in 0..1.
 */
export function blend(keyword: ReadonlyMap<number, number>, vectors: readonly RankedList[]): Map<number, number> {
  const out = new Map(keyword);
  if (vectors.length === 0) return out;
  const sims = vectors.map((r) => 1 - r.raw);
  const hi = Math.max(...sims);
  const lo = Math.min(...sims);
  const norm = (i: number) => (hi > lo ? (sims[i]! - lo) / (hi - lo) : 1);
  if (keyword.size === 0) {
    vectors.forEach((r, i) => out.set(r.id, norm(i)));
    return out;
  }
  const mean = sims.reduce((a, b) => a + b, 0) / sims.length;
  const sd = Math.sqrt(sims.reduce((a, b) => a + (b - mean) ** 2, 0) / sims.length);
  const order = [...keyword.values()].sort((a, b) => b - a);
  // A lifted chunk goes just below keyword's result at position LIFT_TO - 1, so above the one at LIFT_TO.
  const prev = order[Math.min(LIFT_TO - 1, order.length) - 1]!;
  const at = order[LIFT_TO - 1] ?? -1;
  vectors.forEach((r, i) => {
    const k = keyword.get(r.id);
    const outlier = i < LIFT_DEPTH && sd > 0 && (sims[i]! - mean) / sd >= LIFT_Z;
    if (outlier && (k === undefined || k < at || order.length < LIFT_TO)) out.set(r.id, Math.max(0, prev - TIE * (1 - 0.25 * norm(i))));
    else if (k === undefined) out.set(r.id, TIE * norm(i) * 0.5);
    else out.set(r.id, k + TIE * norm(i) * 0.5);
  });
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
