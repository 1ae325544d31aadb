/**
 * The index's work, as it runs inside the worker thread: walk the folder, hash, chunk and store files (one
 * transaction each), hand out chunks that need vectors and store the vectors that come back, and answer searches
 * (bm25 and KNN fused by reciprocal rank). Nothing here touches the network: embeddings come from the main thread,
 * where the router applies the privacy policy.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { estimateTokens } from '../providers/base';
import { Chunker, type WasmLocation } from './chunker';
import { languageOf } from './languages';
import { IndexStore, type FileRecord, type StoreCounts } from './store';
import { decode, isIncluded, walk, type Skip, type WalkEntry } from './walker';

export interface EngineOptions {
  root: string;
  dbPath: string;
  exclude: string[];
  maxFileSizeKb: number;
  /** Chunk budget in tokens of the embedding model. */
  chunkTokens: number;
  wasm?: WasmLocation;
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

/** Reciprocal-rank fusion constant (Cormack et al.): 60 damps the weight of the very top ranks. */
const RRF_K = 60;

export class IndexEngine {
  readonly store: IndexStore;
  private readonly chunker: Chunker;
  private readonly inFlight = new Set<string>();
  private canceled = false;

  constructor(readonly options: EngineOptions) {
    this.store = IndexStore.open(options.dbPath);
    this.chunker = new Chunker(options.wasm);
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
  async sync(onProgress: (p: SyncProgress) => void = () => {}, force = false): Promise<SyncSummary> {
    const started = performance.now();
    this.canceled = false;
    onProgress({ phase: 'scanning', filesDone: 0, filesTotal: 0, chunks: 0 });
    const { files, skipped } = walk(this.options.root, this.options, () => this.canceled);
    const known = this.store.files();
    const budgetChanged = this.store.meta('chunkTokens') !== String(this.options.chunkTokens);
    const summary: SyncSummary = { files: files.length, indexed: 0, unchanged: 0, removed: 0, chunks: 0, skipped, decoded: [], canceled: false, ms: 0 };
    let lastReport = 0;
    let lastYield = performance.now();
    for (let i = 0; i < files.length; i++) {
      if (this.canceled) break;
      const entry = files[i]!;
      const outcome = await this.indexEntry(entry, known.get(entry.rel), force || budgetChanged);
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
      if (budgetChanged) this.store.setMeta('chunkTokens', String(this.options.chunkTokens));
      if (summary.removed > 0 || summary.indexed > 0) this.store.pruneVectors();
    }
    summary.ms = performance.now() - started;
    onProgress({ phase: 'done', filesDone: files.length, filesTotal: files.length, chunks: summary.chunks });
    return summary;
  }

  /** Indexes one walked file. `chunks` undefined: unchanged. */
  private async indexEntry(entry: WalkEntry, known: FileRecord | undefined, force: boolean): Promise<{ chunks?: number; skip?: string; note?: string }> {
    if (!force && known && known.size === entry.size && known.mtimeMs === entry.mtimeMs) return {};
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(entry.abs);
    } catch (e) {
      return { skip: `unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
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
        const sub = walk(abs, this.options);
        for (const f of sub.files) {
          const r = `${rel}/${f.rel}`;
          if (!isIncluded(this.options.root, r, this.options)) continue;
          const o = await this.indexEntry({ ...f, rel: r }, known.get(r), false);
          if (o.chunks === undefined) out.unchanged++;
          else out.indexed++;
        }
        continue;
      }
      if (!stat || !stat.isFile() || stat.size > this.options.maxFileSizeKb * 1024 || !isIncluded(this.options.root, rel, this.options)) {
        if (this.store.removeFile(rel)) out.removed++;
        for (const p of known.keys()) if (p.startsWith(`${rel}/`) && this.store.removeFile(p)) out.removed++;
        continue;
      }
      const o = await this.indexEntry({ rel, abs, size: stat.size, mtimeMs: stat.mtimeMs }, known.get(rel), false);
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

  release(hashes: readonly string[]): void {
    for (const h of hashes) this.inFlight.delete(h);
  }

  /** Stores vectors from `model`; a different model than the stored one drops the old vectors first. */
  putVectors(model: string, dims: number, items: { hash: string; vector: number[] }[]): string | undefined {
    const message = this.store.useModel(model, dims);
    this.store.putVectors(items);
    this.release(items.map((i) => i.hash));
    return message;
  }

  search(req: SearchRequest): SearchHit[] {
    const pathMatch = req.paths?.length ? picomatch(req.paths, { dot: true }) : undefined;
    const depth = Math.max(50, req.k * (pathMatch ? 8 : 3));
    // Three ranked lists fused by reciprocal rank: chunks whose symbol the query names (so "resolveTaskName" finds
    // its definition before its callers), bm25 over the text, and vector similarity.
    const lists = [this.store.keyword(req.query, depth, req.languages, true), this.store.keyword(req.query, depth, req.languages)];
    if (req.vector) lists.push(this.store.nearest(req.vector, depth, req.languages, req.vectorMode));
    const fused = new Map<number, number>();
    for (const list of lists) {
      list.forEach((r, rank) => fused.set(r.id, (fused.get(r.id) ?? 0) + 1 / (RRF_K + rank + 1)));
    }
    const order = [...fused].sort((a, b) => b[1] - a[1]);
    const rows = this.store.chunksById(order.map(([id]) => id));
    const out: SearchHit[] = [];
    let used = 0;
    for (const [id, score] of order) {
      const row = rows.get(id);
      if (!row || (pathMatch && !pathMatch(row.path))) continue;
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
