/**
 * The index's keyword search: FTS5 bm25 over each chunk's symbol, body and path, with the column weights a query
 * calls for, the most common words dropped on a large index, and the thesaurus's synonyms as a query of their own.
 */
import type { Ranked } from './store';
import { TOKENIZER, type Db } from './storeSchema';
import { SYNONYMS } from './synonyms';
import { expansionTerms, ftsAll, ftsQuery, queryParts, queryTerms, symbolQuery, thesaurus, type Thesaurus } from './tokens';

/**
 * From this many chunks on, an OR query drops its most common words (see `selective`). Below it every word counts:
 * dropping "array" or "string" from a question about lodash (2,400 chunks) cost 3 of its 34 answers in the retrieval
 * bench, and an OR over every word costs a few ms at that size.
 */
const SELECTIVE_FROM = 20_000;

/**
 * From SELECTIVE_FROM chunks on, the synonyms a query is expanded with hold at most this share of the chunks between
 * them (rarest first), so the expansion's OR query stays cheap: at 100k chunks it cost 5 ms of a 14 ms hybrid p50
 * unbounded.
 */
const EXPANSION_POSTINGS = 0.05;

/** bm25 weights of the full-text columns, in their order: symbol, body, path. */
type FieldWeights = '4.0, 1.0, 2.0' | '1.0, 1.0, 1.0';
const IDENTIFIER_WEIGHTS: FieldWeights = '4.0, 1.0, 2.0';
const SENTENCE_WEIGHTS: FieldWeights = '1.0, 1.0, 1.0';

/**
 * The column weights for a query. One that names an identifier ("resolveTaskName", "parse_http_header", one word)
 * weighs the symbol 4 and the path 2: a match there is what it asks for. A sentence names no symbol (see
 * symbolQuery), and its words meet symbols by accident ("by" and "path" in cloneByPath, "set" in baseSet): a
 * symbol column is two or three words long, so bm25's length normalisation already lifts a match there far above
 * the same word in a body, and weighed 4 on top, one such word outranked the function whose text answers (lodash in
 * the retrieval bench: file recall@5 0.82 with 4/1/2, 0.88 with every column at 1, as for the whole-file baseline).
 */
export function fieldWeights(query: string): FieldWeights {
  return symbolQuery(query) === undefined ? SENTENCE_WEIGHTS : IDENTIFIER_WEIGHTS;
}

export class KeywordSearch {
  private chunkCount?: number;
  /** Document frequency by stem, until the chunks change (cleared with chunkCount). */
  private readonly dfCache = new Map<string, number>();
  private stemCache = new Map<string, string>();
  private thesaurus?: Thesaurus;

  constructor(private readonly db: Db) {}

  /** The chunks changed: counts and document frequencies are read again. */
  changed(): void {
    this.chunkCount = undefined;
    this.dfCache.clear();
  }

  /**
   * bm25 over symbol, body and path; best first. Chunks with every word of the query come first (an AND query is
   * several times cheaper than an OR on a large index), then, when they are fewer than `limit`, chunks with any word.
   * With `symbols`, only chunks whose symbol the query names.
   */
  keyword(query: string, limit: number, languages?: readonly string[], symbols = false): Ranked[] {
    if (symbols) return this.match(symbolQuery(query), limit, languages);
    const weights = fieldWeights(query);
    const parts = this.selective(queryParts(query));
    const all = parts.length > 1 ? this.match(ftsAll(parts), limit, languages, weights) : [];
    if (all.length >= limit) return all;
    const any = this.match(ftsQuery(this.selective(queryTerms(query))), limit, languages, weights);
    if (all.length === 0) return any;
    const seen = new Set(all.map((r) => r.id));
    return [...all, ...any.filter((r) => !seen.has(r.id))].slice(0, limit);
  }

  /**
   * bm25 over the thesaurus's words for the query's words (see synonyms.ts), any of them; best first. The caller
   * weighs these below the query's own words (rank.ts).
   */
  expanded(query: string, limit: number, languages?: readonly string[]): Ranked[] {
    const stem = (words: readonly string[]) => this.stems(words);
    this.thesaurus ??= thesaurus(SYNONYMS, stem);
    let terms = expansionTerms(query, this.thesaurus, stem);
    const n = this.chunks();
    if (terms.length > 1 && n >= SELECTIVE_FROM) {
      // An OR query costs what its terms' posting lists hold: the rarest synonyms first (they also weigh the most in
      // bm25) while all of them together are in at most EXPANSION_POSTINGS of the chunks.
      const df = this.docFrequencies(terms);
      let budget = n * EXPANSION_POSTINGS;
      terms = [...terms].sort((a, b) => df.get(a)! - df.get(b)!).filter((t) => df.get(t)! > 0 && (budget -= df.get(t)!) >= 0);
    }
    return terms.length ? this.match(ftsQuery(terms), limit, languages, fieldWeights(query)) : [];
  }

  private match(match: string | undefined, limit: number, languages?: readonly string[], weights = IDENTIFIER_WEIGHTS): Ranked[] {
    if (!match) return [];
    const langFilter = languages?.length ? `and c.language in (${languages.map(() => '?').join(',')})` : '';
    // `rank` with the weights configured lets FTS5 sort by bm25 itself (see fieldWeights).
    const join = langFilter ? 'join chunks c on c.id = f.rowid' : '';
    const sql = `select f.rowid as id, f.rank as raw from chunks_fts f
      ${join} where chunks_fts match ? and f.rank match 'bm25(${weights})' ${langFilter} order by f.rank limit ?`;
    return this.db.prepare(sql).all(match, ...(languages ?? []), limit) as Ranked[];
  }

  /**
   * Drops the terms that cannot help bm25 but cost the most: a term in more than half the chunks has an idf of ~0
   * (FTS5 clamps it), and one in more than a fifth of them weighs little next to a rarer term of the same query.
   * Scoring every chunk that has "function" is what makes an OR query slow on a large index.
   */
  private selective(terms: string[]): string[] {
    if (terms.length < 2) return terms;
    const n = this.chunks();
    if (n < SELECTIVE_FROM) return terms;
    const df = this.docFrequencies(terms);
    const rare = terms.filter((t) => df.get(t)! <= n / 5);
    if (rare.length > 0) return rare;
    const useful = terms.filter((t) => df.get(t)! <= n / 2);
    return useful.length > 0 ? useful : terms;
  }

  private chunks(): number {
    this.chunkCount ??= this.db.prepare('select count(*) from chunks').pluck().get() as number;
    return this.chunkCount;
  }

  /** How many chunks hold each term (looked up by the stem the index made of it; a phrase by its first word's). */
  private docFrequencies(terms: readonly string[]): Map<string, number> {
    const stem = this.stems(terms);
    const keys = [...new Set(terms.map((t) => stem.get(t) ?? t))].filter((k) => !this.dfCache.has(k));
    if (keys.length) {
      if (this.dfCache.size > 10_000) this.dfCache.clear();
      for (const k of keys) this.dfCache.set(k, 0);
      const sql = `select term, doc from temp.chunks_vocab where term in (${keys.map(() => '?').join(',')})`;
      for (const r of this.db.prepare(sql).all(...keys) as { term: string; doc: number }[]) this.dfCache.set(r.term, r.doc);
    }
    return new Map(terms.map((t) => [t, this.dfCache.get(stem.get(t) ?? t) ?? 0]));
  }

  /** The stem the index's tokenizer makes of each word, from a scratch FTS5 table with the same tokenizer (cached). */
  private stems(words: readonly string[]): Map<string, string> {
    const missing = words.filter((w) => !this.stemCache.has(w));
    if (missing.length) {
      if (this.stemCache.size > 10_000) this.stemCache.clear();
      this.db.exec(`create virtual table if not exists temp.stems using fts5(word, tokenize='${TOKENIZER}');
        create virtual table if not exists temp.stems_vocab using fts5vocab('temp', 'stems', 'instance');`);
      const insert = this.db.prepare('insert into temp.stems(rowid, word) values (?, ?)');
      missing.forEach((w, i) => insert.run(i + 1, w));
      const rows = this.db.prepare('select term, doc from temp.stems_vocab where offset = 0').all() as { term: string; doc: number }[];
      this.db.exec('delete from temp.stems');
      for (const w of missing) this.stemCache.set(w, w);
      for (const r of rows) if (missing[r.doc - 1] !== undefined) this.stemCache.set(missing[r.doc - 1]!, r.term);
    }
    return new Map(words.map((w) => [w, this.stemCache.get(w) ?? w]));
  }
}
