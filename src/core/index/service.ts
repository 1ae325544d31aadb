/**
 * The workspace index as the rest of Switchyard sees it: a `Retriever` over one folder. The heavy work runs in a
 * worker thread (engine.ts); this side only sends messages, and runs the embedding loop, because embeddings go
 * through the router (`embed` task) on the host, where privacy policy, consent and fallback apply.
 *
 * Embedding never stalls the index: chunking and keyword search go on without it; batches have a timeout and bounded
 * concurrency; a batch the server fails is retried in halves; a timeout, a refusal or a busy server pauses embedding
 * with a growing back-off (status "embeddings paused: <reason>") until a later try succeeds, then it catches up.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { isProviderError, type ErrorKind, type ProviderError } from '../errors';
import { silentLogger, type Logger } from '../host';
import { RouteError, type RoutedEmbedRequest, type RoutedEmbedResult } from '../routing/router';
import { MAX_CHUNK_TOKENS, embedTokens, fitTokens } from './budget';
import type { EmbedLimit } from './store';
import type { EngineCounts, EngineOptions, SearchHit, SearchRequest, SyncProgress, SyncSummary } from './engine';
import type { IndexStatus, RetrievedChunk, RetrieveOptions, Retriever } from './types';

export type { SyncSummary, SyncProgress } from './engine';

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

/** Below this many characters a refused input is not cut further: the refusal is not about its length. */
const MIN_EMBED_CHARS = 64;

/**
 * Whether the embedding server refused these inputs, as opposed to being unreachable, slow or forbidden: context
 * overflow (OpenAI's context_length_exceeded, HTTP 413), or a server error with a status, which is how llama.cpp
 * ("input is too large to process", HTTP 500) and Ollama ("the input length exceeds the context length", 400/500)
 * answer an input longer than they take. Read from the kind and status, not the message.
 */
/** "provider/model" of the candidate whose failure this is (the last failed attempt of a route), where known. */
function refusingModel(e: unknown): string | undefined {
  if (e instanceof RouteError) {
    const failed = e.attempts.filter((a) => a.outcome === 'failed').at(-1);
    return failed ? `${failed.providerId}/${failed.model}` : undefined;
  }
  return isProviderError(e) && e.providerId && e.model ? `${e.providerId}/${e.model}` : undefined;
}

/**
 * The input limit a refusal states, where it does: llama-server "… increase the physical batch size (current batch
 * size: 512)", OpenAI "This model's maximum context length is 8192 tokens", llama.cpp "exceeds the available
 * context size (512 tokens)".
 */
function statedLimit(e: unknown): number | undefined {
  const messages: string[] = [];
  for (let x: unknown = e; x instanceof Error && messages.length < 4; x = x.cause) messages.push(x.message);
  const text = messages.join(' ');
  const m = /current batch size:\s*(\d+)/i.exec(text) ?? /maximum context length is (\d+) tokens/i.exec(text) ?? /available context size \((\d+) tokens\)/i.exec(text);
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

type TokenCounter = (texts: string[]) => Promise<number[] | undefined>;

/**
 * The longest start of `text` (of `total` tokens) within `limit` tokens as `count` measures them, found within 1%
 * of its length by a few counts (interpolated, then bisected); cut at a line end where one is near.
 */
async function cutToTokens(count: TokenCounter, text: string, total: number, limit: number): Promise<{ text: string; tokens: number }> {
  if (total <= limit) return { text, tokens: total };
  let lo = 0;
  let loTokens = 0;
  let hi = text.length;
  let hiTokens = total;
  for (let step = 0; step < 10 && hi - lo > Math.max(8, text.length / 100); step++) {
    const guess = step % 2 === 0 ? lo + ((hi - lo) * (limit - loTokens)) / Math.max(1, hiTokens - loTokens) : (lo + hi) / 2;
    const len = Math.min(hi - 1, Math.max(lo + 1, Math.floor(guess)));
    const n = (await count([text.slice(0, len)]))?.[0];
    if (n === undefined) break;
    if (n <= limit) {
      lo = len;
      loTokens = n;
    } else {
      hi = len;
      hiTokens = n;
    }
  }
  const nl = text.lastIndexOf('\n', lo);
  if (nl <= lo * 0.95 || nl === lo) return { text: text.slice(0, lo), tokens: loTokens };
  const atLine = text.slice(0, nl);
  return { text: atLine, tokens: (await count([atLine]))?.[0] ?? loTokens };
}

function refusedInput(e: unknown): boolean {
  if (!isProviderError(e)) return false;
  if (e.kind === 'contextOverflow') return true;
  if (e.kind !== 'server') return false;
  const status = e.status ?? (isProviderError(e.cause) ? e.cause.status : undefined);
  return status !== undefined && status >= 400;
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

  // Embedding loop state.
  private batchSize: number;
  private readonly maxBatch: number;
  private pausedUntil = 0;
  private pausedReason?: string;
  private failures = 0;
  private readonly wakers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private inFlight = 0;
  private readonly closeController = new AbortController();
  private idleWaiters: (() => void)[] = [];
  /** Slot 0: the id of the last sync call canceled (the worker reads it even while busy in a synchronous walk). */
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private syncId = 0;
  /**
   * Per embedding model ("provider/model"), in `embedTokens` units: `cut`, the size a refused input was cut to
   * before the model took it (learned from its refusals), and `accepted`, the largest input it took whole. Inputs
   * over the larger of the two are cut before they are sent: one odd chunk (emoji, say, that the estimate counts
   * low) cannot make every ordinary chunk be cut, because ordinary chunks were taken whole before. `exact`: where
   * the model's server counts tokens itself, the longest input it took after a refusal, in its own tokens; inputs
   * are then counted by the server and cut to exactly that, whatever the estimate says.
   */
  private embedLimits = new Map<string, EmbedLimit>();
  private countsAt = 0;

  private constructor(private readonly options: WorkspaceIndexOptions) {
    this.root = path.resolve(options.root);
    this.logger = options.logger ?? silentLogger;
    this.maxBatch = options.batchSize ?? 32;
    this.batchSize = this.maxBatch;
    const engineOptions: EngineOptions = {
      root: this.root,
      dbPath: options.dbPath,
      exclude: options.exclude ?? [],
      maxFileSizeKb: options.maxFileSizeKb ?? 512,
      chunkTokens: options.chunkTokens ?? MAX_CHUNK_TOKENS,
      cancelFlag: this.cancelFlag.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(workerScript(), { workerData: engineOptions });
    this.worker.on('message', (msg: { id?: number; result?: unknown; error?: { message: string; code?: string }; type?: string; progress?: SyncProgress }) => {
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
    });
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
      index.embedLimits = new Map(Object.entries(await index.call<Record<string, EmbedLimit>>('embedLimits', {})));
    } catch (e) {
      await index.close();
      throw e;
    }
    if (options.embedder && options.embedInBackground !== false) {
      const n = Math.max(1, options.concurrency ?? 1);
      for (let i = 0; i < n; i++) index.loops.push(index.embedLoop());
    }
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
    const keywordOnly = this.pausedReason !== undefined || this.known.vectors === 0 || !this.options.embedder;
    let message: string | undefined;
    if (this.failure) message = `the index stopped: ${this.failure}`;
    else if (!this.options.embedder) message = 'keyword-only: no embedding model';
    else if (this.pausedReason) message = `embeddings paused: ${this.pausedReason}`;
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
      this.nudge();
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
    this.nudge();
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
    this.pausedUntil = 0;
    this.nudge();
  }

  private nudge(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const w of wakers) w();
  }

  /** Sleeps ms, or until nudged (new chunks, resume, close). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async embedLoop(): Promise<void> {
    const embedder = this.options.embedder!;
    const timeoutMs = this.options.embedTimeoutMs;
    while (!this.closed) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      let batch: { hash: string; text: string }[];
      try {
        batch = await this.call('pending', { limit: this.batchSize });
      } catch {
        if (this.closed || this.failure) return;
        await this.sleep(1000);
        continue;
      }
      if (batch.length === 0) {
        if (this.inFlight === 0) {
          for (const w of this.idleWaiters.splice(0)) w();
        }
        await this.sleep(60_000);
        continue;
      }
      this.inFlight++;
      try {
        const stored = await this.embedItems(embedder, batch, timeoutMs);
        if (this.pausedReason) this.logger.info(`index: embeddings resumed (${stored})`);
        this.pausedReason = undefined;
        this.failures = 0;
        this.batchSize = Math.min(this.maxBatch, this.batchSize * 2);
      } catch (e) {
        await this.call('release', { hashes: batch.map((b) => b.hash) }).catch(() => undefined);
        if (this.closed) return;
        const kind: ErrorKind = isProviderError(e) ? e.kind : 'server';
        if (kind === 'timeout' && batch.length > 1) this.batchSize = Math.max(1, Math.floor(batch.length / 2));
        this.pause(e, kind);
      } finally {
        this.inFlight--;
      }
      // Counts from the store now and then (a count over every chunk is not cheap at 100k); in between, the loop
      // keeps them itself.
      if (Date.now() - this.countsAt > 1000) await this.refreshCounts().catch(() => undefined);
      else this.emit();
    }
  }

  /**
   * Embeds and stores one batch; returns the model ("provider/model") that answered. A batch the server refuses
   * (it answered, with an error status) is split in halves, each tried on its own, so one input the server will not
   * take never holds back the others; one refused input is shrunk until it fits (see `embedOne`). Anything else
   * (timeout, unreachable, auth, policy) throws: the caller pauses.
   */
  private async embedItems(embedder: Embedder, items: { hash: string; text: string }[], timeoutMs: number | undefined): Promise<string> {
    const input = await this.fitLearned(embedder, this.known.model, items.map((b) => b.text));
    let result: RoutedEmbedResult;
    try {
      result = await embedder.embed({ input, timeoutMs, signal: this.closeController.signal });
    } catch (e) {
      if (this.closed || !refusedInput(e)) throw e;
      if (items.length > 1) {
        this.batchSize = Math.max(1, Math.floor(items.length / 2));
        this.logger.debug(`index: embedding batch of ${items.length} refused (${(e as ProviderError).kind}); trying it in halves`);
        const mid = Math.ceil(items.length / 2);
        await this.embedItems(embedder, items.slice(0, mid), timeoutMs);
        return this.embedItems(embedder, items.slice(mid), timeoutMs);
      }
      return this.embedOne(embedder, items[0]!, input[0]!, e, timeoutMs);
    }
    return this.storeVectors(result, items, input);
  }

  /**
   * Inputs cut to what the model is known to take: counted by its server and cut to its own-token limit where both
   * are known; else cut by the estimate to the limit learned in `embedTokens` units; else unchanged.
   */
  private async fitLearned(embedder: Embedder, model: string, texts: string[]): Promise<string[]> {
    const learned = this.embedLimits.get(model);
    if (!learned) return texts;
    if (learned.exact !== undefined && embedder.countTokens) {
      const counter = this.counter(embedder, model);
      try {
        const counts = await counter(texts);
        if (counts) return await Promise.all(texts.map(async (t, i) => (counts[i]! <= learned.exact! ? t : (await cutToTokens(counter, t, counts[i]!, learned.exact!)).text)));
      } catch (e) {
        if (this.closed) throw e;
        this.logger.debug(`index: counting tokens with ${model} failed (${e instanceof Error ? e.message : String(e)}); cutting by the estimate`);
      }
    }
    const limit = learned.cut !== undefined ? Math.max(learned.cut, learned.accepted) : undefined;
    return limit === undefined ? texts : texts.map((t) => fitTokens(t, limit));
  }

  private counter(embedder: Embedder, model: string): TokenCounter {
    return (texts) => embedder.countTokens!(model, texts, this.closeController.signal);
  }

  /**
   * One input the server refused. A plain server error is retried once as it was (it may have been the server, not
   * the input). Then, where the refusing model's server counts tokens (`embedOneExact`), the input is cut by its own
   * tokens; elsewhere it is cut in half until the server takes it, and the cut is refined by bisection (three
   * steps). The vector of the longest accepted start of the chunk is stored, and the size that fit is remembered
   * for the model (in `embedTokens` units, and in its own tokens where counted, in the index's meta), so later
   * inputs are cut to fit before they are sent. An input refused even when tiny is not a length problem: its error
   * is thrown.
   */
  private async embedOne(embedder: Embedder, item: { hash: string; text: string }, sent: string, first: unknown, timeoutMs: number | undefined): Promise<string> {
    const attempt = async (text: string): Promise<RoutedEmbedResult | undefined> => {
      try {
        return await embedder.embed({ input: [text], timeoutMs, signal: this.closeController.signal });
      } catch (e) {
        if (this.closed || !refusedInput(e)) throw e;
        last = e;
        return undefined;
      }
    };
    let last: unknown = first;
    if (isProviderError(first) && first.kind !== 'contextOverflow') {
      const again = await attempt(sent);
      if (again) return this.storeVectors(again, [item], [sent]);
    }
    const exact = await this.embedOneExact(embedder, item, sent, last, attempt);
    if (exact) return exact;
    let hi = sent.length;
    let ok: { len: number; result: RoutedEmbedResult } | undefined;
    for (let len = Math.floor(hi / 2); !ok; len = Math.floor(len / 2)) {
      if (len < MIN_EMBED_CHARS) throw last;
      const r = await attempt(sent.slice(0, len));
      if (r) ok = { len, result: r };
      else hi = len;
    }
    for (let step = 0; step < 3 && hi - ok.len > 16; step++) {
      const mid = Math.floor((ok.len + hi) / 2);
      const r = await attempt(sent.slice(0, mid));
      if (r) ok = { len: mid, result: r };
      else hi = mid;
    }
    const model = `${ok.result.providerId}/${ok.result.model}`;
    await this.learnLimit(model, item, sent.slice(0, ok.len));
    return this.storeVectors(ok.result, [item], [sent.slice(0, ok.len)]);
  }

  /**
   * The exact cut of a refused input, where the refusing model's server counts tokens: the input's own-token count,
   * then starts of it cut to a number of tokens (interpolated, then halved) until the longest one the server takes
   * is found within 2%. Undefined where the server cannot count (the caller cuts by characters).
   */
  private async embedOneExact(
    embedder: Embedder,
    item: { hash: string; text: string },
    sent: string,
    first: unknown,
    attempt: (text: string) => Promise<RoutedEmbedResult | undefined>,
  ): Promise<string | undefined> {
    const model = refusingModel(first) ?? this.known.model;
    if (!embedder.countTokens || !model) return undefined;
    const counter = this.counter(embedder, model);
    let total: number | undefined;
    try {
      total = (await counter([sent]))?.[0];
    } catch (e) {
      if (this.closed) throw e;
      return undefined;
    }
    if (total === undefined) return undefined;
    let hi = total;
    let lo = 0;
    let ok: { text: string; tokens: number; result: RoutedEmbedResult } | undefined;
    const stated = statedLimit(first);
    let target = stated !== undefined && stated < total ? stated : Math.floor(total / 2);
    for (let step = 0; step < 12 && hi - lo > Math.max(2, hi * 0.02); step++) {
      const cut = await cutToTokens(counter, sent, total, target);
      if (cut.text.length < MIN_EMBED_CHARS && !ok) throw first;
      const r = await attempt(cut.text);
      if (r) {
        ok = { ...cut, result: r };
        lo = Math.max(lo, cut.tokens);
      } else hi = Math.min(hi, Math.max(cut.tokens, 1));
      target = ok ? Math.floor((lo + hi) / 2) : Math.floor(hi / 2);
      if (target <= lo) break;
    }
    if (!ok) throw first;
    const answered = `${ok.result.providerId}/${ok.result.model}`;
    await this.learnLimit(answered, item, ok.text, ok.tokens);
    return this.storeVectors(ok.result, [item], [ok.text]);
  }

  /** Remembers what a refusing model took (in the index's meta, so a reopened index cuts before sending). */
  private async learnLimit(model: string, item: { text: string }, fitted: string, exactTokens?: number): Promise<void> {
    const fits = embedTokens(fitted);
    const known = this.embedLimits.get(model) ?? { accepted: 0 };
    const cutChanged = known.cut === undefined || fits < known.cut;
    const exactChanged = exactTokens !== undefined && (known.exact === undefined || exactTokens < known.exact);
    if (!cutChanged && !exactChanged) return;
    if (cutChanged) known.cut = fits;
    if (exactChanged) known.exact = exactTokens;
    this.embedLimits.set(model, known);
    await this.call('setEmbedLimit', { model, ...known }).catch(() => undefined);
    const limit = known.exact !== undefined ? `${known.exact} of its own tokens (counted by its server)` : `${Math.max(known.cut!, known.accepted)} tokens (estimate)`;
    this.logger.info(`index: ${model} refused a ${embedTokens(item.text)}-token chunk (estimate); inputs over ${limit} are cut for it from now on`);
  }

  private async storeVectors(result: RoutedEmbedResult, items: { hash: string; text: string }[], sent: string[]): Promise<string> {
    const dims = result.vectors[0]?.length ?? 0;
    if (result.vectors.length !== items.length || dims === 0) throw new Error(`the embedding server answered ${result.vectors.length} vectors for ${items.length} texts`);
    const model = `${result.providerId}/${result.model}`;
    // The largest input the model took whole (kept in the index once the model has refused one).
    let whole = 0;
    for (let i = 0; i < items.length; i++) if (sent[i] === items[i]!.text) whole = Math.max(whole, embedTokens(sent[i]!));
    const learned = this.embedLimits.get(model) ?? { accepted: 0 };
    if (whole > learned.accepted) {
      learned.accepted = whole;
      this.embedLimits.set(model, learned);
      if (learned.cut !== undefined) await this.call('setEmbedLimit', { model, ...learned }).catch(() => undefined);
    }
    const message = await this.call<string | undefined>('putVectors', {
      model,
      dims,
      items: items.map((b, i) => ({ hash: b.hash, vector: result.vectors[i]! })),
    });
    if (message) {
      this.logger.info(`index: ${message}`);
      this.options.onMessage?.(message);
      this.known.vectors = 0;
    }
    if (this.known.model !== model) this.known.model = model;
    this.known.dims = dims;
    this.known.vectors += items.length;
    this.known.pending = Math.max(0, this.known.pending - items.length);
    return model;
  }

  private pause(e: unknown, kind: ErrorKind): void {
    const { initial, max } = this.options.backoffMs ?? { initial: 2000, max: 120_000 };
    this.failures++;
    let delay = Math.min(max, initial * 2 ** (this.failures - 1));
    if (isProviderError(e) && e.retryAfter) delay = Math.max(delay, Math.min(max, e.retryAfter * 1000));
    const reason = describeEmbedFailure(e, kind);
    if (reason !== this.pausedReason) this.logger.warn(`index: embeddings paused: ${reason} (next try in ${Math.round(delay / 1000)} s)`);
    this.pausedReason = reason;
    this.pausedUntil = Date.now() + delay;
    this.emit();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Resolves when every chunk has a vector, or (with `untilPaused`) as soon as embedding pauses: the CLI's
   * `index` waits this way, so a dead embedding server ends the run keyword-only instead of hanging it.
   */
  async embeddingsSettled(options: { untilPaused?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    if (!this.options.embedder) return;
    for (;;) {
      // The embedding loop keeps the counts between its own refreshes; ask the store only when they may be stale.
      if (Date.now() - this.countsAt > 1000 || (this.known.pending === 0 && this.inFlight === 0)) await this.refreshCounts();
      if (this.known.pending === 0 && this.inFlight === 0) return;
      if (options.untilPaused && this.pausedReason) return;
      if (options.signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Whether the last search used vectors too (false: keyword-only). */
  lastSearchHybrid = false;

  async search(query: string, options: RetrieveOptions = {}): Promise<RetrievedChunk[]> {
    const k = options.k ?? 10;
    let vector: number[] | undefined;
    if (this.options.embedder && !this.pausedReason && this.known.vectors > 0 && this.known.model) {
      vector = await this.queryVector(query, options.signal);
    }
    this.lastSearchHybrid = vector !== undefined;
    const request: SearchRequest = { query, vector, k, languages: options.languages, paths: options.paths, tokenBudget: options.tokenBudget };
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
    this.nudge();
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
    await Promise.allSettled(this.loops);
  }
}

/** "box/nomic-embed-text: no answer within 500 ms", or what the router said when no model could be tried. */
export function describeEmbedFailure(e: unknown, kind: ErrorKind): string {
  if (e instanceof RouteError) {
    const last = [...e.attempts].reverse().find((a) => a.outcome === 'failed') ?? e.attempts.at(-1);
    if (kind === 'config' || !last) return 'no embedding model is configured or reachable (search is keyword-only)';
    return `${last.providerId}${last.model ? `/${last.model}` : ''}: ${last.kind ? `${last.kind}: ` : ''}${last.reason ?? e.message}`;
  }
  return `${kind}: ${e instanceof Error ? e.message : String(e)}`;
}
