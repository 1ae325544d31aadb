/**
 * The index's SQLite file: better-sqlite3 + sqlite-vec + FTS5, one file per workspace folder. It is a rebuildable
 * cache: a file that cannot be opened or fails its check is moved aside (never deleted) and rebuilt; a schema version
 * mismatch rebuilds; an embedding model mismatch drops the vectors so they are re-embedded.
 *
 * WAL, and one transaction per file: after a crash at any point the index holds, for each file, either all of its
 * old chunks or all of its new ones. Vectors are keyed by chunk content hash, so an unchanged chunk keeps its vector
 * across edits, moves and rebuilds of its file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Chunk } from './chunker';
import { SYNONYMS } from './synonyms';
import { expansionTerms, ftsAll, ftsBody, ftsQuery, queryParts, queryTerms, symbolQuery, thesaurus, type Thesaurus } from './tokens';

/**
 * What an embedding model was learned to take, once it refused an input as too long: `cut`, the size of the longest
 * start of a refused input it took, and `accepted`, the largest input it took whole, both in `embedTokens` units;
 * `exact`, where the server counts tokens itself, the longest input it took in its own tokens.
 */
export interface EmbedLimit {
  cut?: number;
  accepted: number;
  exact?: number;
}

/**
 * 3: the full-text index stems words (FTS5's porter tokenizer over unicode61), so "arrays", "cloning" and "parsed"
 * meet "array", "clone" and "parse". A version-2 database keeps its files, chunks and vectors: only the full-text
 * index is rebuilt from the stored chunks, once, when it is opened.
 */
export const SCHEMA_VERSION = 3;

/** FTS5 tokenizer of the chunks' full-text index (and of the scratch table that stems query words the same way). */
const TOKENIZER = 'porter unicode61 remove_diacritics 2';

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

/** Below this many vectors KNN is an exact scan; above it, a binary-quantized first pass re-scored with floats. */
const EXACT_SCAN_LIMIT = 20_000;

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

export interface FileRecord {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  language: string;
  /** Why it is not indexed (binary, too large, …), or undefined. */
  skipped?: string;
}

export interface StoredChunkRow {
  id: number;
  path: string;
  language: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  kind: string | null;
  text: string;
}

export interface Ranked {
  id: number;
  /** Raw score: bm25 (lower is better) or cosine distance. */
  raw: number;
}

export interface StoreCounts {
  files: number;
  indexedFiles: number;
  chunks: number;
  vectors: number;
  pending: number;
}

type Db = BetterSqlite3.Database;

function loadNative(): { Database: typeof BetterSqlite3; vec: { load(db: Db): void } } {
  // Native modules stay external to the bundle; required lazily so activation never loads them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vec = require('sqlite-vec') as { load(db: Db): void };
  return { Database, vec };
}

function toBlob(v: Float32Array | number[]): Buffer {
  const f = v instanceof Float32Array ? v : Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

export class IndexStore {
  readonly db: Db;
  /** What happened on open (moved aside, rebuilt), for the user. */
  readonly messages: string[] = [];
  private dims = 0;
  private model = '';
  private bits?: BitIndex;

  private constructor(db: Db, messages: string[]) {
    this.db = db;
    this.messages.push(...messages);
    this.dims = Number(this.meta('dims') ?? 0);
    this.model = this.meta('model') ?? '';
  }

  /** Opens (or creates) the index at `file`; moves an unreadable or corrupt file aside and starts afresh. */
  static open(file: string): IndexStore {
    const { Database, vec } = loadNative();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const messages: string[] = [];
    const attempt = (): Db => {
      const db = new Database(file, { timeout: 5000 });
      try {
        vec.load(db);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw Object.assign(new Error(`integrity check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
        const hasMeta = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'meta'").get() !== undefined;
        const version = hasMeta ? (db.prepare("select value from meta where key = 'schema'").pluck().get() as string | undefined) : undefined;
        const upgradeFts = version !== undefined && Number(version) === 2;
        if (version !== undefined && Number(version) !== SCHEMA_VERSION && !upgradeFts) {
          messages.push(`The index was built by another version of Switchyard (schema ${version}, now ${SCHEMA_VERSION}): rebuilding it.`);
          dropAll(db);
        }
        if (upgradeFts) {
          const n = rebuildFts(db);
          messages.push(`The keyword index was upgraded to stem words (schema 2 to ${SCHEMA_VERSION}): rebuilt from ${n} stored chunks, nothing re-embedded.`);
        }
        createSchema(db);
        db.exec("create virtual table if not exists temp.chunks_vocab using fts5vocab(main, 'chunks_fts', 'row')");
        return db;
      } catch (e) {
        db.close();
        throw e;
      }
    };
    let db: Db;
    try {
      db = attempt();
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (!/^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN|FORMAT)/.test(code) && !(e instanceof RangeError)) throw e;
      const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      for (const suffix of ['', '-wal', '-shm']) {
        if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
      }
      messages.push(`The index database could not be read (${code || (e as Error).message}); it was moved aside to ${aside} and the index is being rebuilt.`);
      db = attempt();
    }
    return new IndexStore(db, messages);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  meta(key: string): string | undefined {
    return (this.db.prepare('select value from meta where key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('insert into meta(key, value) values (?, ?) on conflict(key) do update set value = excluded.value').run(key, value);
  }

  /**
   * Records a new chunk budget and marks every stored file stale (its hash cleared), in one transaction: a sync
   * re-chunks the stale files, and one killed midway leaves the files it committed current and the rest stale.
   */
  setChunkBudget(value: string): void {
    this.db.transaction(() => {
      this.db.exec("update files set hash = ''");
      this.setMeta('chunkTokens', value);
    })();
  }

  /** What each embedding model ("provider/model") was learned to take (see EmbedLimit), kept as "cut/accepted[/exact]". */
  embedLimits(): Record<string, EmbedLimit> {
    const rows = this.db.prepare("select key, value from meta where key like 'embedLimit:%'").all() as { key: string; value: string }[];
    const out: Record<string, EmbedLimit> = {};
    for (const r of rows) {
      const [cut, accepted, exact] = r.value.split('/').map(Number);
      if (!(cut! > 0)) continue;
      out[r.key.slice('embedLimit:'.length)] = { cut, accepted: accepted! > 0 ? accepted! : 0, ...(exact! > 0 ? { exact } : {}) };
    }
    return out;
  }

  setEmbedLimit(model: string, limit: EmbedLimit): void {
    if (limit.cut === undefined) return;
    const exact = limit.exact !== undefined && limit.exact > 0 ? `/${Math.floor(limit.exact)}` : '';
    this.setMeta(`embedLimit:${model}`, `${Math.floor(limit.cut)}/${Math.floor(limit.accepted)}${exact}`);
  }

  get embeddingModel(): string {
    return this.model;
  }

  get embeddingDims(): number {
    return this.dims;
  }

  /** Every file the index knows, by path. */
  files(): Map<string, FileRecord> {
    const rows = this.db.prepare('select path, hash, size, mtime as mtimeMs, language, skipped from files').all() as (FileRecord & { skipped: string | null })[];
    return new Map(rows.map((r) => [r.path, { ...r, skipped: r.skipped ?? undefined }]));
  }

  private stmts?: ReturnType<IndexStore['prepare']>;

  private prepare() {
    const db = this.db;
    return {
      fileId: db.prepare('select id from files where path = ?').pluck(),
      chunkIds: db.prepare('select id from chunks where file_id = ?').pluck(),
      deleteFts: db.prepare('delete from chunks_fts where rowid = ?'),
      deleteChunks: db.prepare('delete from chunks where file_id = ?'),
      deleteFile: db.prepare('delete from files where id = ?'),
      upsertFile: db.prepare(
        `insert into files(path, hash, size, mtime, language, skipped, chunks) values (@path, @hash, @size, @mtimeMs, @language, @skipped, @chunks)
         on conflict(path) do update set hash = excluded.hash, size = excluded.size, mtime = excluded.mtime, language = excluded.language, skipped = excluded.skipped, chunks = excluded.chunks
         returning id`,
      ).pluck(),
      insertChunk: db.prepare(
        'insert into chunks(file_id, start_line, end_line, symbol, kind, language, hash, tokens, text) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertFts: db.prepare('insert into chunks_fts(rowid, symbol, body, path) values (?, ?, ?, ?)'),
      touch: db.prepare('update files set mtime = ?, size = ? where path = ?'),
    };
  }

  private get s() {
    this.stmts ??= this.prepare();
    return this.stmts;
  }

  /** Replaces a file's chunks in one transaction (all old or all new, whatever happens). */
  readonly putFile = (record: FileRecord, chunks: readonly Chunk[]): void => {
    this.chunkCount = undefined;
    this.dfCache.clear();
    this.pendingCount = undefined;
    this.db.transaction(() => {
      const s = this.s;
      const old = s.fileId.get(record.path) as number | undefined;
      if (old !== undefined) this.deleteChunksOf(old);
      const id = s.upsertFile.get({ ...record, skipped: record.skipped ?? null, chunks: chunks.length }) as number;
      for (const c of chunks) {
        const r = s.insertChunk.run(id, c.startLine, c.endLine, c.symbol ?? null, c.kind ?? null, record.language, c.hash, c.tokens, c.text);
        // A chunk id at or below the hand-out cursor (ids are reused after deletes) must be found by a rescan.
        if (Number(r.lastInsertRowid) <= this.cursor) this.rescan = true;
        s.insertFts.run(r.lastInsertRowid, c.symbol ? ftsBody(c.symbol) : '', ftsBody(c.text), ftsBody(record.path));
      }
    })();
  };

  /** Records a new mtime for a file whose content did not change. */
  touch(filePath: string, mtimeMs: number, size: number): void {
    this.s.touch.run(mtimeMs, size, filePath);
  }

  private deleteChunksOf(fileId: number): void {
    for (const id of this.s.chunkIds.all(fileId) as number[]) this.s.deleteFts.run(id);
    this.s.deleteChunks.run(fileId);
  }

  removeFile(filePath: string): boolean {
    this.chunkCount = undefined;
    this.dfCache.clear();
    this.pendingCount = undefined;
    let removed = false;
    this.db.transaction(() => {
      const id = this.s.fileId.get(filePath) as number | undefined;
      if (id === undefined) return;
      this.deleteChunksOf(id);
      this.s.deleteFile.run(id);
      removed = true;
    })();
    return removed;
  }

  /** Drops every chunk and file (vectors stay: they are keyed by content and will be reused). */
  clearFiles(): void {
    this.chunkCount = undefined;
    this.dfCache.clear();
    this.pendingCount = undefined;
    this.cursor = 0;
    this.db.transaction(() => {
      this.db.exec("delete from chunks; delete from files; delete from chunks_fts;");
    })();
  }

  counts(): StoreCounts {
    const one = (sql: string) => (this.db.prepare(sql).pluck().get() as number) ?? 0;
    return {
      files: one('select count(*) from files'),
      indexedFiles: one('select count(*) from files where skipped is null'),
      chunks: one('select count(*) from chunks'),
      vectors: one('select count(*) from vectors'),
      pending: (this.pendingCount ??= one('select count(*) from (select distinct c.hash from chunks c where not exists (select 1 from vectors v where v.hash = c.hash))')),
    };
  }

  /** Where the last `pending` scan stopped (a chunk id): chunks are handed out in id order, so the next starts there. */
  private cursor = 0;
  /** Set when chunks below the cursor may need a vector again (released after a failure, ids reused after deletes). */
  private rescan = false;
  /** Distinct chunk hashes without a vector, kept while only vectors are added (recounted after file changes). */
  private pendingCount?: number;

  /** Hand-out of `pending` is restarting from the first chunk (after a failed batch is released). */
  rewind(): void {
    this.rescan = true;
  }

  /**
   * Up to `limit` distinct chunk texts without a vector, skipping hashes already being embedded. A scan in chunk id
   * order from where the last one stopped, so each call costs about its batch, not the whole table (a `group by
   * hash` over every chunk cost ~10 ms a batch at 100k chunks).
   */
  pending(limit: number, exclude: ReadonlySet<string>): { hash: string; text: string }[] {
    const stmt = (this.pendingStmt ??= this.db.prepare(
      'select c.id, c.hash, c.text from chunks c where c.id > ? and not exists (select 1 from vectors v where v.hash = c.hash) order by c.id limit ?',
    ));
    const out: { hash: string; text: string }[] = [];
    const taken = new Set<string>();
    const page = Math.max(64, limit * 2);
    const scan = (from: number): boolean => {
      for (;;) {
        const rows = stmt.all(from, page) as { id: number; hash: string; text: string }[];
        for (const r of rows) {
          from = r.id;
          this.cursor = r.id;
          if (exclude.has(r.hash) || taken.has(r.hash)) continue;
          taken.add(r.hash);
          out.push({ hash: r.hash, text: r.text });
          if (out.length >= limit) return false;
        }
        if (rows.length < page) return true; // reached the last chunk
      }
    };
    const atEnd = scan(this.cursor);
    if (atEnd && this.rescan) {
      this.rescan = false;
      this.cursor = 0;
      scan(0);
    }
    return out;
  }

  private pendingStmt?: BetterSqlite3.Statement;
  private insertVectorStmt?: BetterSqlite3.Statement;
  private hashUsedStmt?: BetterSqlite3.Statement;

  /**
   * Sets the embedding model the stored vectors belong to. A different model or dimension drops every vector (they
   * would not be comparable); returns a message saying so, or undefined when nothing changed.
   */
  useModel(model: string, dims: number): string | undefined {
    if (model === this.model && dims === this.dims) return undefined;
    const previous = this.model;
    this.db.transaction(() => {
      this.db.exec('delete from vectors');
      this.setMeta('model', model);
      this.setMeta('dims', String(dims));
    })();
    this.model = model;
    this.dims = dims;
    this.bits = undefined;
    this.pendingCount = undefined;
    this.rescan = true;
    return previous ? `The embedding model changed from ${previous} to ${model}: re-embedding the index.` : undefined;
  }

  /** Stores vectors of the current model, keyed by chunk hash, with their 1-bit quantization for the first pass. */
  putVectors(items: readonly { hash: string; vector: number[] }[]): void {
    const dims = this.dims;
    const insert = (this.insertVectorStmt ??= this.db.prepare('insert into vectors(hash, vec, bits) values (?, ?, ?) on conflict(hash) do nothing returning id').pluck());
    const used = (this.hashUsedStmt ??= this.db.prepare('select 1 from chunks where hash = ? limit 1').pluck());
    const added: { id: number; bits: Uint32Array }[] = [];
    let resolved = 0;
    this.db.transaction(() => {
      for (const { hash, vector } of items) {
        if (vector.length !== dims) throw new Error(`a vector of ${vector.length} dimensions for a ${dims}-dimension index`);
        const bits = quantize(vector);
        const id = insert.get(hash, toBlob(vector), Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength)) as number | undefined;
        if (id === undefined) continue;
        added.push({ id, bits });
        if (this.pendingCount !== undefined && used.get(hash) !== undefined) resolved++;
      }
    })();
    if (this.pendingCount !== undefined) this.pendingCount = Math.max(0, this.pendingCount - resolved);
    if (this.bits) for (const a of added) this.bits.add(a.id, a.bits);
  }

  /** Vectors no chunk uses any more (after edits): dropped now and then. */
  pruneVectors(): number {
    if (!this.dims) return 0;
    let n = 0;
    this.db.transaction(() => {
      const ids = this.db.prepare('select id from vectors v where not exists (select 1 from chunks c where c.hash = v.hash)').pluck().all() as number[];
      const delVec = this.db.prepare('delete from vectors where id = ?');
      for (const id of ids) delVec.run(id);
      n = ids.length;
    })();
    if (n > 0) this.bits = undefined;
    return n;
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

  private thesaurus?: Thesaurus;

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

  private match(match: string | undefined, limit: number, languages?: readonly string[], weights: FieldWeights = IDENTIFIER_WEIGHTS): Ranked[] {
    if (!match) return [];
    const langFilter = languages?.length ? `and c.language in (${languages.map(() => '?').join(',')})` : '';
    // `rank` with the weights configured lets FTS5 sort by bm25 itself (see fieldWeights).
    const sql = `select f.rowid as id, f.rank as raw from chunks_fts f
      ${langFilter ? 'join chunks c on c.id = f.rowid' : ''} where chunks_fts match ? and f.rank match 'bm25(${weights})' ${langFilter} order by f.rank limit ?`;
    return this.db.prepare(sql).all(match, ...(languages ?? []), limit) as Ranked[];
  }

  private chunkCount?: number;

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
      for (const r of this.db.prepare(`select term, doc from temp.chunks_vocab where term in (${keys.map(() => '?').join(',')})`).all(...keys) as { term: string; doc: number }[]) this.dfCache.set(r.term, r.doc);
    }
    return new Map(terms.map((t) => [t, this.dfCache.get(stem.get(t) ?? t) ?? 0]));
  }

  /** Document frequency by stem, until the chunks change (cleared with chunkCount). */
  private readonly dfCache = new Map<string, number>();

  private stemCache = new Map<string, string>();

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

  /** Nearest chunks to a query vector by cosine distance; best first. */
  nearest(vector: number[], limit: number, languages?: readonly string[], mode: 'auto' | 'exact' | 'binary' = 'auto'): Ranked[] {
    if (!this.dims || vector.length !== this.dims) return [];
    const count = this.db.prepare('select count(*) from vectors').pluck().get() as number;
    if (count === 0) return [];
    const q = toBlob(vector);
    let hashes: { hash: string; raw: number }[];
    if (mode === 'exact' || (mode === 'auto' && count <= EXACT_SCAN_LIMIT)) {
      hashes = this.db.prepare('select hash, vec_distance_cosine(vec, ?) as raw from vectors order by raw limit ?').all(q, limit * 4) as { hash: string; raw: number }[];
    } else {
      // First pass on 1-bit vectors (Hamming distance, scanned in memory), then the float re-score of the survivors.
      this.bits ??= BitIndex.load(this.db, this.dims);
      const ids = this.bits.nearest(quantize(vector), Math.max(200, limit * 8));
      hashes = ids.length
        ? (this.db.prepare(`select hash, vec_distance_cosine(vec, ?) as raw from vectors where id in (${ids.join(',')}) order by raw limit ?`).all(q, limit * 4) as { hash: string; raw: number }[])
        : [];
    }
    if (hashes.length === 0) return [];
    const langFilter = languages?.length ? `and language in (${languages.map(() => '?').join(',')})` : '';
    const byHash = this.db.prepare(`select id from chunks where hash = ? ${langFilter}`).pluck();
    const out: Ranked[] = [];
    for (const h of hashes) {
      for (const id of byHash.all(h.hash, ...(languages ?? [])) as number[]) out.push({ id, raw: h.raw });
      if (out.length >= limit) break;
    }
    return out.slice(0, limit);
  }

  chunksById(ids: readonly number[]): Map<number, StoredChunkRow> {
    if (ids.length === 0) return new Map();
    const rows = this.db
      .prepare(
        `select c.id, f.path, c.language, c.start_line as startLine, c.end_line as endLine, c.symbol, c.kind, c.text
         from chunks c join files f on f.id = c.file_id where c.id in (${ids.map(() => '?').join(',')})`,
      )
      .all(...ids) as StoredChunkRow[];
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** Consistency of what a crash could have torn: every file's chunk count matches, FTS has exactly the chunks. */
  verify(): string[] {
    const problems: string[] = [];
    const torn = this.db
      .prepare('select f.path, f.chunks as expected, (select count(*) from chunks c where c.file_id = f.id) as actual from files f where expected != actual')
      .all() as { path: string; expected: number; actual: number }[];
    for (const t of torn) problems.push(`${t.path}: ${t.actual} chunks stored, ${t.expected} expected`);
    const orphans = this.db.prepare('select count(*) from chunks c where not exists (select 1 from files f where f.id = c.file_id)').pluck().get() as number;
    if (orphans) problems.push(`${orphans} chunks without a file`);
    const chunks = this.db.prepare('select count(*) from chunks').pluck().get() as number;
    const fts = this.db.prepare('select count(*) from chunks_fts').pluck().get() as number;
    if (chunks !== fts) problems.push(`${chunks} chunks but ${fts} full-text rows`);
    const check = this.db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') problems.push(`integrity_check: ${String(check)}`);
    return problems;
  }
}

function dropAll(db: Db): void {
  const objects = db.prepare("select type, name from sqlite_master where type in ('table') and name not like 'sqlite_%' and name not like '%_fts_%'").all() as { type: string; name: string }[];
  for (const o of objects) db.exec(`drop table if exists "${o.name}"`);
}

/** Schema 2 to 3: the full-text index again with the stemming tokenizer, from the chunks table, in one transaction. */
function rebuildFts(db: Db): number {
  let n = 0;
  db.transaction(() => {
    db.exec('drop table if exists chunks_fts');
    createSchema(db);
    const insert = db.prepare('insert into chunks_fts(rowid, symbol, body, path) values (?, ?, ?, ?)');
    // In pages by id (a statement cannot write while another one iterates on the same connection).
    const page = db.prepare('select c.id, c.symbol, c.text, f.path from chunks c join files f on f.id = c.file_id where c.id > ? order by c.id limit 1000');
    for (let from = 0; ; ) {
      const rows = page.all(from) as { id: number; symbol: string | null; text: string; path: string }[];
      for (const r of rows) insert.run(r.id, r.symbol ? ftsBody(r.symbol) : '', ftsBody(r.text), ftsBody(r.path));
      n += rows.length;
      if (rows.length < 1000) break;
      from = rows[rows.length - 1]!.id;
    }
    db.prepare("update meta set value = ? where key = 'schema'").run(String(SCHEMA_VERSION));
  })();
  return n;
}

function createSchema(db: Db): void {
  db.exec(`
    create table if not exists meta(key text primary key, value text not null);
    create table if not exists files(
      id integer primary key, path text not null unique, hash text not null, size integer not null, mtime real not null,
      language text not null, skipped text, chunks integer not null);
    create table if not exists chunks(
      id integer primary key, file_id integer not null, start_line integer not null, end_line integer not null,
      symbol text, kind text, language text not null, hash text not null, tokens integer not null, text text not null);
    create index if not exists chunks_file on chunks(file_id);
    create index if not exists chunks_hash on chunks(hash);
    create table if not exists vectors(id integer primary key, hash text not null unique, vec blob not null, bits blob not null);
    create virtual table if not exists chunks_fts using fts5(symbol, body, path, content='', contentless_delete=1, tokenize='${TOKENIZER}');
  `);
  db.prepare("insert into meta(key, value) values ('schema', ?) on conflict(key) do nothing").run(String(SCHEMA_VERSION));
}

/** Sign bits of a vector, packed into 32-bit words (bit j of the vector is bit j%32 of word j/32). */
export function quantize(vector: readonly number[]): Uint32Array {
  const out = new Uint32Array(Math.ceil(vector.length / 32));
  for (let j = 0; j < vector.length; j++) if (vector[j]! > 0) out[j >>> 5]! |= 1 << (j & 31);
  return out;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Every vector's sign bits in one typed array: a Hamming scan of 100k 384-dimension vectors takes a few ms in the
 * worker (sqlite-vec's vec0 KNN slows down sharply as k grows, measured here: 25 ms at k=200, 230 ms at k=1000).
 */
class BitIndex {
  private ids: Int32Array;
  private data: Uint32Array;
  private n = 0;

  private constructor(private readonly words: number, capacity: number) {
    this.ids = new Int32Array(Math.max(16, capacity));
    this.data = new Uint32Array(Math.max(16, capacity) * words);
  }

  static load(db: BetterSqlite3.Database, dims: number): BitIndex {
    const words = Math.ceil(dims / 32);
    const count = db.prepare('select count(*) from vectors').pluck().get() as number;
    const index = new BitIndex(words, count + 1024);
    for (const row of db.prepare('select id, bits from vectors').iterate() as Iterable<{ id: number; bits: Buffer }>) {
      index.add(row.id, new Uint32Array(row.bits.buffer.slice(row.bits.byteOffset, row.bits.byteOffset + words * 4)));
    }
    return index;
  }

  add(id: number, bits: Uint32Array): void {
    if (this.n === this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      const data = new Uint32Array(this.data.length * 2);
      data.set(this.data);
      this.ids = ids;
      this.data = data;
    }
    this.ids[this.n] = id;
    this.data.set(bits.subarray(0, this.words), this.n * this.words);
    this.n++;
  }

  /** Ids of the `count` vectors nearest to `query` by Hamming distance (a counting sort on the distance). */
  nearest(query: Uint32Array, count: number): number[] {
    const { n, words, data } = this;
    const dist = new Uint16Array(n);
    const buckets = new Uint32Array(words * 32 + 2);
    for (let i = 0; i < n; i++) {
      let d = 0;
      const o = i * words;
      for (let w = 0; w < words; w++) d += popcount(data[o + w]! ^ query[w]!);
      dist[i] = d;
      buckets[d]!++;
    }
    let cutoff = 0;
    for (let seen = 0; cutoff < buckets.length && seen < count; cutoff++) seen += buckets[cutoff]!;
    const out: number[] = [];
    for (let i = 0; i < n && out.length < count; i++) if (dist[i]! < cutoff) out.push(this.ids[i]!);
    return out;
  }
}
