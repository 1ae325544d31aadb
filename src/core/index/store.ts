/**
 * The index's SQLite file: better-sqlite3 + sqlite-vec + FTS5, one file per workspace folder. It is a rebuildable
 * cache: a file that cannot be opened or fails its check is moved aside (never deleted) and rebuilt; a schema version
 * mismatch rebuilds; an embedding model mismatch drops the vectors so they are re-embedded.
 *
 * WAL, and one transaction per file: after a crash at any point the index holds, for each file, either all of its
 * old chunks or all of its new ones. Vectors are keyed by chunk content hash, so an unchanged chunk keeps its vector
 * across edits, moves and rebuilds of its file.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Chunk } from './chunker';
import { KeywordSearch } from './keywordSearch';
import { openIndexDatabase, type Db } from './storeSchema';
import { ftsBody } from './tokens';
import { VectorSearch, type VectorMode } from './vectorSearch';

export { fieldWeights } from './keywordSearch';
export { SCHEMA_VERSION } from './storeSchema';

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

export class IndexStore {
  readonly db: Db;
  /** What happened on open (moved aside, rebuilt), for the user. */
  readonly messages: string[] = [];
  private dims = 0;
  private model = '';
  private readonly fts: KeywordSearch;
  private readonly vectors: VectorSearch;

  private constructor(db: Db, messages: string[]) {
    this.db = db;
    this.fts = new KeywordSearch(db);
    this.vectors = new VectorSearch(db);
    this.messages.push(...messages);
    this.dims = Number(this.meta('dims') ?? 0);
    this.model = this.meta('model') ?? '';
  }

  /** Opens (or creates) the index at `file`; moves an unreadable or corrupt file aside and starts afresh. */
  static open(file: string): IndexStore {
    const { db, messages } = openIndexDatabase(file);
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
    const rows = this.db.prepare('select path, hash, size, mtime as mtimeMs, language, skipped from files').all() as (FileRecord & {
      skipped: string | null;
    })[];
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
      upsertFile: db
        .prepare(
          `insert into files(path, hash, size, mtime, language, skipped, chunks) ` +
            `values (@path, @hash, @size, @mtimeMs, @language, @skipped, @chunks)
         on conflict(path) do update set hash = excluded.hash, size = excluded.size, mtime = excluded.mtime, ` +
            `language = excluded.language, skipped = excluded.skipped, chunks = excluded.chunks
         returning id`,
        )
        .pluck(),
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
    this.fts.changed();
    this.pendingCount = undefined;
    this.db.transaction(() => {
      const s = this.s;
      const old = s.fileId.get(record.path) as number | undefined;
      if (old !== undefined) this.deleteChunksOf(old);
      const id = s.upsertFile.get({ ...record, skipped: record.skipped ?? null, chunks: chunks.length }) as number;
      for (const c of chunks) {
        const r = s.insertChunk.run(
          id,
          c.startLine,
          c.endLine,
          c.symbol ?? null,
          c.kind ?? null,
          record.language,
          c.hash,
          c.tokens,
          c.text,
        );
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
    this.fts.changed();
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
    this.fts.changed();
    this.pendingCount = undefined;
    this.cursor = 0;
    this.db.transaction(() => {
      this.db.exec('delete from chunks; delete from files; delete from chunks_fts;');
    })();
  }

  counts(): StoreCounts {
    const one = (sql: string) => (this.db.prepare(sql).pluck().get() as number) ?? 0;
    return {
      files: one('select count(*) from files'),
      indexedFiles: one('select count(*) from files where skipped is null'),
      chunks: one('select count(*) from chunks'),
      vectors: one('select count(*) from vectors'),
      pending: (this.pendingCount ??= one(
        'select count(*) from (select distinct c.hash from chunks c where not exists (select 1 from vectors v where v.hash = c.hash))',
      )),
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
      'select c.id, c.hash, c.text from chunks c where c.id > ? and not exists ' +
        '(select 1 from vectors v where v.hash = c.hash) order by c.id limit ?',
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
    this.vectors.reset();
    this.pendingCount = undefined;
    this.rescan = true;
    return previous ? `The embedding model changed from ${previous} to ${model}: re-embedding the index.` : undefined;
  }

  /** Stores vectors of the current model, keyed by chunk hash, with their 1-bit quantization for the first pass. */
  putVectors(items: readonly { hash: string; vector: number[] }[]): void {
    const used = (this.hashUsedStmt ??= this.db.prepare('select 1 from chunks where hash = ? limit 1').pluck());
    let resolved = 0;
    this.vectors.insert(this.dims, items, (hash) => {
      if (this.pendingCount !== undefined && used.get(hash) !== undefined) resolved++;
    });
    if (this.pendingCount !== undefined) this.pendingCount = Math.max(0, this.pendingCount - resolved);
  }

  /** Vectors no chunk uses any more (after edits): dropped now and then. */
  pruneVectors(): number {
    if (!this.dims) return 0;
    return this.vectors.prune();
  }

  /**
   * bm25 over symbol, body and path; best first. Chunks with every word of the query come first, then, when they are
   * fewer than `limit`, chunks with any word. With `symbols`, only chunks whose symbol the query names (keywordSearch.ts).
   */
  keyword(query: string, limit: number, languages?: readonly string[], symbols = false): Ranked[] {
    return this.fts.keyword(query, limit, languages, symbols);
  }

  /** bm25 over the thesaurus's words for the query's words, any of them; best first (keywordSearch.ts). */
  expanded(query: string, limit: number, languages?: readonly string[]): Ranked[] {
    return this.fts.expanded(query, limit, languages);
  }

  /** Nearest chunks to a query vector by cosine distance; best first. */
  nearest(vector: number[], limit: number, languages?: readonly string[], mode: VectorMode = 'auto'): Ranked[] {
    if (!this.dims || vector.length !== this.dims) return [];
    return this.vectors.nearest(this.dims, vector, limit, languages, mode);
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
      .prepare(
        'select f.path, f.chunks as expected, (select count(*) from chunks c ' +
          'where c.file_id = f.id) as actual from files f where expected != actual',
      )
      .all() as { path: string; expected: number; actual: number }[];
    for (const t of torn) problems.push(`${t.path}: ${t.actual} chunks stored, ${t.expected} expected`);
    const orphans = this.db
      .prepare('select count(*) from chunks c where not exists (select 1 from files f where f.id = c.file_id)')
      .pluck()
      .get() as number;
    if (orphans) problems.push(`${orphans} chunks without a file`);
    const chunks = this.db.prepare('select count(*) from chunks').pluck().get() as number;
    const fts = this.db.prepare('select count(*) from chunks_fts').pluck().get() as number;
    if (chunks !== fts) problems.push(`${chunks} chunks but ${fts} full-text rows`);
    const check = this.db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') problems.push(`integrity_check: ${String(check)}`);
    return problems;
  }
}
