/**
 * The workspace index as the rest of Switchyard sees it: a `Retriever` over one folder. The heavy work runs in a
 * worker thread (engine.ts); this side only sends messages, and runs the embedding loop, because embeddings go
 * through the router (`embed` task) on the host, where privacy policy, consent and fallback apply.
 *
 * Embedding never stalls the index: chunking and keyword search go on without it; batches have a timeout and bounded
 * concurrency; a batch the server fails is retried in halves; a timeout, a refusal or a busy server pauses embedding
 * with a growing back-off (status "embeddings paused: <reason>") until a later try succeeds, then it catches up.
 * The loop is embedLoop.ts, one batch's embedding (refusals, cutting inputs to fit) embedBatch.ts.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { silentLogger, type Logger } from '../host';
import type { RoutedEmbedRequest, RoutedEmbedResult } from '../routing/router';
import { MAX_CHUNK_TOKENS } from './budget';
import { BatchEmbedding } from './embedBatch';
import { EmbedLoop } from './embedLoop';
import type { EmbedLimit } from './store';
import type { EngineCounts, EngineOptions, SearchHit, SearchRequest, SyncProgress, SyncSummary } from './engine';
import type { IndexStatus, RetrievedChunk, RetrieveOptions, Retriever } from './types';

export type { SyncSummary, SyncProgress } from './engine';
export { describeEmbedFailure } from './embedLoop';

export interface Embedder {
  embed(request: RoutedEmbedRequest): Promise<RoutedEmbedResult>;
  /**
   * Exact token counts for a model ("provider/model") by its server's tokenizer (llama.cpp /tokenize, the embedded
   * runtime); undefined where it has none. Used to cut inputs to a refused model's limit in its own tokens.
   */
  countTokens?(ref: string, texts: readonly string[], signal?: AbortSignal): Promise<number[] | undefined>;
}

export interface WorkspaceIndexOptions {
  root: string;
  dbPath: string;
  /** The router (or anything with its `embed`); absent: keyword-only. */
  embedder?: Embedder;
  exclude?: string[];
  maxFileSizeKb?: number;
  /** Chunk budget in tokens of the embedding model (default 400, within a 512-token embedding context). */
  chunkTokens?: number;
  logger?: Logger;
  /** Texts per embedding request (halved after failures, grown back after successes). Default 32. */
  batchSize?: number;
  /** Embed pending chunks in the background (default true); false for a search-only process (`switchyard search`). */
  embedInBackground?: boolean;
  /** Embedding requests in flight at once. Default 1. */
  concurrency?: number;
  /** Per-batch timeout. Default: the router's (switchyard.routing.firstTokenTimeoutMs). */
  embedTimeoutMs?: number;
  /** How long a search waits for the query's vector before answering from keywords alone. Default 2 s. */
  queryTimeoutMs?: number;
  /** Back-off after a failed batch: first delay and cap. Default 2 s and 2 min. */
  backoffMs?: { initial: number; max: number };
  /** Status changes (throttled by the caller as it likes). */
  onStatus?: (status: IndexStatus) => void;
  /** Things the user should be told (database moved aside, model changed). */
  onMessage?: (message: string) => void;
}

/** Where the worker script is: next to the bundle, or the TypeScript source when run through tsx. */
function workerScript(): string {
  return __filename.endsWith('.ts') ? path.join(__dirname, 'worker.ts') : path.join(__dirname, 'indexWorker.js');
}

export class WorkspaceIndex implements Retriever {
  readonly root: string;
  private readonly worker: Worker;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  private readonly logger: Logger;
  private closed = false;
  private failure?: string;

  private state: IndexStatus['state'] = 'idle';
  private progress: SyncProgress = { phase: 'done', filesDone: 0, filesTotal: 0, chunks: 0 };
  private known: EngineCounts = { files: 0, indexedFiles: 0, chunks: 0, vectors: 0, pending: 0, model: '', dims: 0 };
  private syncing?: Promise<SyncSummary>;

  /** Slot 0: the id of the last sync call canceled (the worker reads it even while busy in a synchronous walk). */
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private syncId = 0;
  private countsAt = 0;
  private readonly closeController = new AbortController();
  private readonly batches: BatchEmbedding;
  private readonly embedding: EmbedLoop;

  private constructor(private readonly options: WorkspaceIndexOptions) {
    this.root = path.resolve(options.root);
    this.logger = options.logger ?? silentLogger;
    this.batches = new BatchEmbedding({
      logger: this.logger,
      signal: this.closeController.signal,
      isClosed: () => this.closed,
      model: () => this.known.model,
      call: (method, params) => this.call(method, params),
      halveBatch: (size) => this.embedding.halveBatch(size),
      stored: (model, dims, count, message) => this.stored(model, dims, count, message),
    });
    this.embedding = new EmbedLoop(
      {
        logger: this.logger,
        isClosed: () => this.closed,
        hasFailed: () => Boolean(this.failure),
        call: (method, params) => this.call(method, params),
        embed: (items) => this.batches.embed(options.embedder!, items, options.embedTimeoutMs),
        pending: () => this.known.pending,
        countsAt: () => this.countsAt,
        refreshCounts: () => this.refreshCounts(),
        emit: () => this.emit(),
      },
      { batchSize: options.batchSize ?? 32, backoffMs: options.backoffMs ?? { initial: 2000, max: 120_000 } },
    );
    const engineOptions: EngineOptions = {
      root: this.root,
      dbPath: options.dbPath,
      exclude: options.exclude ?? [],
      maxFileSizeKb: options.maxFileSizeKb ?? 512,
      chunkTokens: options.chunkTokens ?? MAX_CHUNK_TOKENS,
      cancelFlag: this.cancelFlag.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(workerScript(), { workerData: engineOptions });
    this.worker.on(
      'message',
      (msg: { id?: number; result?: unknown; error?: { message: string; code?: string }; type?: string; progress?: SyncProgress }) => {
        if (msg.type === 'progress' && msg.progress) {
          this.progress = msg.progress;
          this.known.chunks = Math.max(this.known.chunks, msg.progress.chunks);
          this.emit();
          return;
        }
        const call = msg.id !== undefined ? this.calls.get(msg.id) : undefined;
        if (!call) return;
        this.calls.delete(msg.id!);
        if (msg.error) call.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
        else call.resolve(msg.result);
      },
    );
    const fail = (reason: string) => {
      if (this.closed) return;
      this.failure = reason;
      this.state = 'error';
      for (const c of this.calls.values()) c.reject(new Error(`the index worker stopped: ${reason}`));
      this.calls.clear();
      this.emit();
    };
    this.worker.on('error', (e) => fail(e.message));
    this.worker.on('exit', (code) => fail(`exit code ${code}`));
  }

  /** Starts the worker and opens (or creates, or rebuilds) the database. */
  static async open(options: WorkspaceIndexOptions): Promise<WorkspaceIndex> {
    const index = new WorkspaceIndex(options);
    try {
      const messages = await index.call<string[]>('messages', {});
      for (const m of messages) {
        index.logger.warn(`index: ${m}`);
        options.onMessage?.(m);
      }
      await index.refreshCounts();
      index.batches.limits = new Map(Object.entries(await index.call<Record<string, EmbedLimit>>('embedLimits', {})));
    } catch (e) {
      await index.close();
      throw e;
    }
    if (options.embedder && options.embedInBackground !== false) index.embedding.start(Math.max(1, options.concurrency ?? 1));
    return index;
  }

  private call<T>(method: string, params: unknown): Promise<T> {
    if (this.closed && method !== 'close') return Promise.reject(new Error('the index is closed'));
    if (this.failure) return Promise.reject(new Error(`the index worker stopped: ${this.failure}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, params });
    });
  }

  private emit(): void {
    this.options.onStatus?.(this.status());
  }

  private async refreshCounts(): Promise<void> {
    this.countsAt = Date.now();
    this.known = await this.call<EngineCounts>('counts', {});
    this.emit();
  }

  status(): IndexStatus {
    const pausedReason = this.embedding.pausedReason;
    const keywordOnly = pausedReason !== undefined || this.known.vectors === 0 || !this.options.embedder;
    let message: string | undefined;
    if (this.failure) message = `the index stopped: ${this.failure}`;
    else if (!this.options.embedder) message = 'keyword-only: no embedding model';
    else if (pausedReason) message = `embeddings paused: ${pausedReason}`;
    return {
      state: this.failure ? 'error' : this.state,
      filesDone: this.state === 'indexing' ? this.progress.filesDone : this.known.indexedFiles,
      filesTotal: this.state === 'indexing' ? this.progress.filesTotal : this.known.indexedFiles,
      chunks: this.known.chunks,
      embeddingsPending: this.known.pending,
      keywordOnly,
      message,
    };
  }

  /** Counts as the store has them now (files, chunks, vectors, pending, model). */
  async counts(): Promise<EngineCounts> {
    await this.refreshCounts();
    return { ...this.known };
  }

  /**
   * Brings the index in line with the folder. One sync at a time: a second call while one runs gets the same
   * promise. Aborting the signal stops between two files; what was indexed stays.
   */
  sync(options: { signal?: AbortSignal; onProgress?: (p: SyncProgress) => void; force?: boolean } = {}): Promise<SyncSummary> {
    if (this.syncing) return this.syncing;
    const onAbort = () => this.cancelSync();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const listener = (msg: { type?: string; progress?: SyncProgress }) => {
      if (msg.type === 'progress' && msg.progress) options.onProgress?.(msg.progress);
    };
    this.worker.on('message', listener);
    this.state = 'indexing';
    this.emit();
    this.syncId = this.nextId;
    this.syncing = this.call<SyncSummary>('sync', { force: options.force ?? false }).finally(() => {
      options.signal?.removeEventListener('abort', onAbort);
      this.worker.off('message', listener);
      this.syncing = undefined;
      this.state = 'idle';
    });
    // Aborted before it began (Ctrl+C while the index was opening): the listener above never fires.
    if (options.signal?.aborted) onAbort();
    return this.syncing.then(async (summary) => {
      await this.refreshCounts().catch(() => undefined);
      this.embedding.nudge();
      return summary;
    });
  }

  /** Stops the running sync between two walk entries or two files (what was committed stays). */
  private cancelSync(): void {
    Atomics.store(this.cancelFlag, 0, Math.max(this.syncId, Atomics.load(this.cancelFlag, 0)));
    this.worker.postMessage({ type: 'cancel' });
  }

  /** Re-indexes paths that changed (absolute, or relative to the folder); paths outside the folder are ignored. */
  async update(paths: readonly string[]): Promise<{ indexed: number; removed: number; unchanged: number }> {
    const rels = paths
      .map((p) => (path.isAbsolute(p) ? path.relative(this.root, p) : p))
      .filter((r) => r !== '' && !r.startsWith('..') && !path.isAbsolute(r))
      .map((r) => r.split(path.sep).join('/'));
    if (rels.length === 0) return { indexed: 0, removed: 0, unchanged: 0 };
    const r = await this.call<{ indexed: number; removed: number; unchanged: number }>('update', { paths: rels });
    await this.refreshCounts().catch(() => undefined);
    this.embedding.nudge();
    return r;
  }

  /** Drops every file's chunks and indexes the folder again (vectors of unchanged chunks are kept). */
  async rebuild(options: { signal?: AbortSignal; onProgress?: (p: SyncProgress) => void } = {}): Promise<SyncSummary> {
    if (this.syncing) {
      this.cancelSync();
      await this.syncing.catch(() => undefined);
    }
    await this.call('clear', {});
    return this.sync({ ...options, force: true });
  }

  /** Retries paused embedding now (settings or health changed). */
  resumeEmbeddings(): void {
    this.embedding.resume();
  }

  /** Vectors were stored (BatchEmbedding): the counts the status shows, until the store is asked again. */
  private stored(model: string, dims: number, count: number, message: string | undefined): void {
    if (message) {
      this.logger.info(`index: ${message}`);
      this.options.onMessage?.(message);
      this.known.vectors = 0;
    }
    if (this.known.model !== model) this.known.model = model;
    this.known.dims = dims;
    this.known.vectors += count;
    this.known.pending = Math.max(0, this.known.pending - count);
  }

  /**
   * Resolves when every chunk has a vector, or (with `untilPaused`) as soon as embedding pauses: the CLI's
   * `index` waits this way, so a dead embedding server ends the run keyword-only instead of hanging it.
   */
  async embeddingsSettled(options: { untilPaused?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    if (!this.options.embedder) return;
    await this.embedding.settled(options);
  }

  /** Whether the last search used vectors too (false: keyword-only). */
  lastSearchHybrid = false;

  async search(query: string, options: RetrieveOptions = {}): Promise<RetrievedChunk[]> {
    const k = options.k ?? 10;
    let vector: number[] | undefined;
    if (this.options.embedder && !this.embedding.pausedReason && this.known.vectors > 0 && this.known.model) {
      vector = await this.queryVector(query, options.signal);
    }
    this.lastSearchHybrid = vector !== undefined;
    const request: SearchRequest = {
      query,
      vector,
      k,
      languages: options.languages,
      paths: options.paths,
      tokenBudget: options.tokenBudget,
    };
    const hits = await this.call<SearchHit[]>('search', request);
    return hits.map((h) => ({
      path: h.path,
      root: this.root,
      startLine: h.startLine,
      endLine: h.endLine,
      symbol: h.symbol,
      language: h.language,
      text: h.text,
      score: h.score,
    }));
  }

  /** The query's vector from the index's own model, or undefined (then the search is keyword-only). */
  private async queryVector(query: string, signal?: AbortSignal): Promise<number[] | undefined> {
    try {
      const r = await this.options.embedder!.embed({ input: [query], timeoutMs: this.options.queryTimeoutMs ?? 2000, signal });
      if (`${r.providerId}/${r.model}` !== this.known.model) return undefined;
      return r.vectors[0];
    } catch (e) {
      this.logger.debug(`index: query embedding failed, keyword-only: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort();
    this.embedding.nudge();
    this.cancelSync();
    const id = this.nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closedInWorker = new Promise<void>((resolve) => {
      this.calls.set(id, { resolve: () => resolve(), reject: () => resolve() });
      this.worker.postMessage({ id, method: 'close', params: {} });
      // A worker stuck in a read must not hold the close; the timer must not hold the process either (a CLI run
      // that ends waits for its timers: this one kept `switchyard index` alive 2 s after Ctrl+C).
      timer = setTimeout(resolve, 2000);
    });
    await closedInWorker;
    clearTimeout(timer);
    await this.worker.terminate();
    for (const c of this.calls.values()) c.reject(new Error('the index is closed'));
    this.calls.clear();
    await this.embedding.stopped();
  }
}
