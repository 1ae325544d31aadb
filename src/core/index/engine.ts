/**
 * The index's work, as it runs inside the worker thread: walk the folder, hash, chunk and store files (one
 * transaction each), hand out chunks that need vectors and store the vectors that come back, and answer searches
 * (bm25, symbols and KNN fused by score: see rank.ts). Nothing here touches the network: embeddings come from the
 * main thread, where the router applies the privacy policy.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { estimateTokens } from '../providers/tokenEstimate';
import { CHUNK_MEASURE } from './budget';
import { Chunker, type WasmLocation } from './chunker';
import { languageOf } from './languages';
import { blend, diversify, fileKind, fuse, prior, queryAsks } from './rank';
import { IndexStore, type FileRecord, type StoreCounts, type StoredChunkRow } from './store';
import { decode, isIncluded, readBounded, walk, type Skip, type WalkEntry } from './walker';

export interface EngineOptions {
  root: string;
  dbPath: string;
  exclude: string[];
  maxFileSizeKb: number;
  /** Chunk budget in tokens of the embedding model. */
  chunkTokens: number;
  wasm?: WasmLocation;
  /**
   * Shared with the host: Int32 slot 0 holds the id of the last sync the host canceled. Read between entries of the
   * walk and between files, so a cancel lands even while the worker is busy in synchronous code (a big walk).
   */
  cancelFlag?: SharedArrayBuffer;
}

export interface SyncProgress {
  phase: 'scanning' | 'indexing' | 'done';
  filesDone: number;
  filesTotal: number;
  chunks: number;
}

export interface SyncSummary {
  /** Files the walk found (indexed, unchanged or skipped after reading). */
  files: number;
  /** Files (re-)chunked and stored. */
  indexed: number;
  unchanged: number;
  removed: number;
  chunks: number;
  /** Files not indexed and why (binary, too large, generated, symlink loop…). */
  skipped: Skip[];
  /** Files decoded from something other than UTF-8. */
  decoded: Skip[];
  canceled: boolean;
  ms: number;
}

export interface SearchRequest {
  query: string;
  vector?: number[];
  k: number;
  languages?: string[];
  paths?: string[];
  tokenBudget?: number;
  /** KNN strategy: 'auto' (exact up to 20k vectors, then binary first pass + float re-score), or forced. */
  vectorMode?: 'auto' | 'exact' | 'binary';
}

export interface SearchHit {
  path: string;
  language: string;
  startLine: number;
  endLine: number;
  symbol?: string;
  kind?: string;
  text: string;
  score: number;
  tokens: number;
}

export interface EngineCounts extends StoreCounts {
  model: string;
  dims: number;
}

/** Whether a path is a symbolic link (a link is never indexed at its own path: see walk). */
function isLink(abs: string): boolean {
  try {
    return fs.lstatSync(abs).isSymbolicLink();
  } catch {
    return false;
  }
}

export class IndexEngine {
  readonly store: IndexStore;
  private readonly chunker: Chunker;
  private readonly inFlight = new Set<string>();
  private canceled = false;
  private readonly cancelFlag?: Int32Array;
  /** The real path of the root: every file read must be inside it. */
  private readonly rootReal: string;

  constructor(readonly options: EngineOptions) {
    this.store = IndexStore.open(options.dbPath);
    this.chunker = new Chunker(options.wasm);
    this.cancelFlag = options.cancelFlag ? new Int32Array(options.cancelFlag) : undefined;
    try {
      this.rootReal = fs.realpathSync(options.root);
    } catch {
      this.rootReal = path.resolve(options.root);
    }
  }

  get messages(): string[] {
    return this.store.messages;
  }

  cancel(): void {
    this.canceled = true;
  }

  close(): void {
    this.store.close();
  }

  counts(): EngineCounts {
    return { ...this.store.counts(), model: this.store.embeddingModel, dims: this.store.embeddingDims };
  }

  /** Brings the index in line with the folder: new and changed files re-chunked, vanished ones removed. */
  async sync(onProgress: (p: SyncProgress) => void = () => {}, force = false, cancelToken = 0): Promise<SyncSummary> {
    const started = performance.now();
    this.canceled = false;
    const flag = this.cancelFlag;
    const isCanceled = () => this.canceled || (flag !== undefined && cancelToken > 0 && Atomics.load(flag, 0) >= cancelToken);
    onProgress({ phase: 'scanning', filesDone: 0, filesTotal: 0, chunks: 0 });
    const { files, skipped } = walk(this.options.root, this.options, isCanceled, this.rootReal);
    if (isCanceled()) this.canceled = true;
    // A new chunk budget re-chunks every file. It is recorded before the first file, with every file marked stale
    // in the same transaction, so a run killed midway resumes with only the files it had not committed yet.
    const budget = `${this.options.chunkTokens}/${CHUNK_MEASURE}`;
    if (!this.canceled && this.store.meta('chunkTokens') !== budget) this.store.setChunkBudget(budget);
    const known = this.store.files();
    const summary: SyncSummary = {
      files: files.length,
      indexed: 0,
      unchanged: 0,
      removed: 0,
      chunks: 0,
      skipped,
      decoded: [],
      canceled: false,
      ms: 0,
    };
    let lastReport = 0;
    let lastYield = performance.now();
    for (let i = 0; i < files.length; i++) {
      if (isCanceled()) {
        this.canceled = true;
        break;
      }
      const entry = files[i]!;
      const outcome = await this.indexEntry(entry, known.get(entry.rel), force);
      known.delete(entry.rel);
      if (outcome.note) summary.decoded.push({ rel: entry.rel, reason: outcome.note });
      if (outcome.skip) summary.skipped.push({ rel: entry.rel, reason: outcome.skip });
      else if (outcome.chunks === undefined) summary.unchanged++;
      else {
        summary.indexed++;
        summary.chunks += outcome.chunks;
      }
      const now = performance.now();
      if (now - lastReport > 100) {
        lastReport = now;
        onProgress({ phase: 'indexing', filesDone: i + 1, filesTotal: files.length, chunks: summary.chunks });
      }
      // Let searches, vectors and cancel messages in between files.
      if (now - lastYield > 25) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    if (this.canceled) summary.canceled = true;
    else {
      for (const gone of known.keys()) if (this.store.removeFile(gone)) summary.removed++;
      if (summary.removed > 0 || summary.indexed > 0) this.store.pruneVectors();
    }
    summary.ms = performance.now() - started;
    onProgress({ phase: 'done', filesDone: files.length, filesTotal: files.length, chunks: summary.chunks });
    return summary;
  }

  /** Indexes one walked file. `chunks` undefined: unchanged. */
  private async indexEntry(
    entry: WalkEntry,
    known: FileRecord | undefined,
    force: boolean,
  ): Promise<{ chunks?: number; skip?: string; note?: string }> {
    if (!force && known && known.hash !== '' && known.size === entry.size && known.mtimeMs === entry.mtimeMs) return {};
    // Bounded, regular files only, inside the root: the file may have grown, or been replaced by a FIFO or a link
    // to elsewhere, since the walk saw it.
    const read = readBounded(entry.abs, this.options.maxFileSizeKb * 1024, this.rootReal, this.options.maxFileSizeKb);
    if ('skip' in read) {
      if (known) this.store.removeFile(entry.rel);
      return { skip: read.skip };
    }
    const bytes = read.bytes;
    const hash = createHash('sha1').update(bytes).digest('hex');
    if (!force && known && known.hash === hash) {
      this.store.touch(entry.rel, entry.mtimeMs, entry.size);
      return {};
    }
    const language = languageOf(entry.rel);
    const record: FileRecord = { path: entry.rel, hash, size: entry.size, mtimeMs: entry.mtimeMs, language };
    const decoded = decode(entry.rel, bytes);
    if ('skip' in decoded) {
      this.store.putFile({ ...record, skipped: decoded.skip }, []);
      return { chunks: 0, skip: decoded.skip };
    }
    let chunks;
    try {
      chunks = await this.chunker.chunk(decoded.text, language, this.options.chunkTokens);
    } catch {
      // A grammar that fails on this file: line windows instead.
      chunks = await this.chunker.chunk(decoded.text, 'text', this.options.chunkTokens);
    }
    this.store.putFile(record, chunks);
    return { chunks: chunks.length, note: decoded.note };
  }

  /** Re-indexes changed paths (relative to the root); a path that is gone removes its file or its folder's files. */
  async update(rels: readonly string[]): Promise<{ indexed: number; removed: number; unchanged: number }> {
    const out = { indexed: 0, removed: 0, unchanged: 0 };
    const known = this.store.files();
    for (const raw of rels) {
      const rel = raw.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
      const abs = path.join(this.options.root, rel);
      let stat: fs.Stats | undefined;
      try {
        stat = fs.statSync(abs);
      } catch {
        stat = undefined;
      }
      if (stat?.isDirectory()) {
        const sub = walk(abs, this.options, undefined, this.rootReal);
        for (const f of sub.files) {
          const r = `${rel}/${f.rel}`;
          if (!isIncluded(this.options.root, r, this.options)) continue;
          const o = await this.indexEntry({ ...f, rel: r }, known.get(r), false);
          if (o.skip && o.chunks === undefined) continue; // not read (not a regular file, outside the root)
          if (o.chunks === undefined) out.unchanged++;
          else out.indexed++;
        }
        continue;
      }
      if (
        !stat ||
        !stat.isFile() ||
        stat.size > this.options.maxFileSizeKb * 1024 ||
        !isIncluded(this.options.root, rel, this.options) ||
        isLink(abs)
      ) {
        if (this.store.removeFile(rel)) out.removed++;
        for (const p of known.keys()) if (p.startsWith(`${rel}/`) && this.store.removeFile(p)) out.removed++;
        continue;
      }
      const o = await this.indexEntry({ rel, abs, size: stat.size, mtimeMs: stat.mtimeMs }, known.get(rel), false);
      if (o.skip && o.chunks === undefined) {
        if (known.has(rel)) out.removed++;
        continue;
      }
      if (o.chunks === undefined) out.unchanged++;
      else out.indexed++;
    }
    return out;
  }

  /** Forgets every file so the next sync re-reads all of them (vectors are kept by content hash). */
  clear(): void {
    this.store.clearFiles();
  }

  /** Chunks that need a vector, not already handed out. */
  pending(limit: number): { hash: string; text: string }[] {
    const batch = this.store.pending(limit, this.inFlight);
    for (const b of batch) this.inFlight.add(b.hash);
    return batch;
  }

  /** Hands chunks back after a failed batch: they are offered again (the scan restarts from the first chunk). */
  release(hashes: readonly string[]): void {
    for (const h of hashes) this.inFlight.delete(h);
    if (hashes.length) this.store.rewind();
  }

  /** Stores vectors from `model`; a different model than the stored one drops the old vectors first. */
  putVectors(model: string, dims: number, items: { hash: string; vector: number[] }[]): string | undefined {
    const message = this.store.useModel(model, dims);
    this.store.putVectors(items);
    for (const i of items) this.inFlight.delete(i.hash);
    return message;
  }

  search(req: SearchRequest): SearchHit[] {
    const pathMatch = req.paths?.length ? picomatch(req.paths, { dot: true }) : undefined;
    const depth = Math.max(50, req.k * (pathMatch ? 8 : 3));
    // Chunks whose symbol the query names (so "resolveTaskName" finds its definition before its callers), bm25 over
    // the text and over the thesaurus's words for the query's, fused by score and weighed by the kind of file; then
    // the vectors (see blend in rank.ts), then diversified.
    const keyword = fuse({
      symbols: this.store.keyword(req.query, depth, req.languages, true),
      words: this.store.keyword(req.query, depth, req.languages),
      expanded: this.store.expanded(req.query, depth, req.languages),
    });
    const vectors = req.vector ? this.store.nearest(req.vector, depth, req.languages, req.vectorMode) : [];
    const rows = this.store.chunksById([...new Set([...keyword.keys(), ...vectors.map((v) => v.id)])]);
    const asks = queryAsks(req.query);
    const weighed = new Map<number, number>();
    for (const [id, score] of keyword) {
      const row = rows.get(id);
      if (row && (!pathMatch || pathMatch(row.path))) weighed.set(id, score * prior(fileKind(row.path, row.language), asks));
    }
    const ranked: { row: StoredChunkRow; score: number }[] = [];
    for (const [id, score] of blend(weighed, vectors)) {
      const row = rows.get(id);
      if (!row || (pathMatch && !pathMatch(row.path))) continue;
      ranked.push({ row, score });
    }
    ranked.sort((a, b) => b.score - a.score || a.row.id - b.row.id);
    const order = diversify(ranked, (r) => r.row.path);
    const out: SearchHit[] = [];
    let used = 0;
    for (const { row, score } of order) {
      const tokens = estimateTokens(row.text);
      if (req.tokenBudget !== undefined && used + tokens > req.tokenBudget) {
        if (out.length === 0) continue;
        break;
      }
      used += tokens;
      out.push({
        path: row.path,
        language: row.language,
        startLine: row.startLine,
        endLine: row.endLine,
        symbol: row.symbol ?? undefined,
        kind: row.kind ?? undefined,
        text: row.text,
        score,
        tokens,
      });
      if (out.length >= req.k) break;
    }
    return out;
  }
}
