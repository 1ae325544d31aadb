/**
 * The index's background embedding: loops that take pending chunks from the worker in batches and embed them, with
 * bounded concurrency and a batch size that halves on trouble and grows back on success. A failed batch pauses
 * embedding with a growing back-off (status "embeddings paused: <reason>") until a later try succeeds; new chunks,
 * a resume or close wake the loops early.
 */
import { candidateName } from '../describe';
import { isProviderError, type ErrorKind } from '../errors';
import type { Logger } from '../host';
import { RouteError } from '../routing/router';
import type { EmbedItem } from './embedBatch';

/** What the embedding loop needs of the index that runs it. */
export interface EmbedLoopHost {
  readonly logger: Logger;
  isClosed(): boolean;
  /** True once the index's worker has stopped. */
  hasFailed(): boolean;
  call<T>(method: string, params: unknown): Promise<T>;
  /** Embeds and stores one batch; returns the model ("provider/model") that answered. */
  embed(items: EmbedItem[]): Promise<string>;
  /** Chunks without a vector, as last counted (and kept up to date by the loop's stores). */
  pending(): number;
  /** When the counts were last read from the store (Date.now()). */
  countsAt(): number;
  refreshCounts(): Promise<void>;
  /** Reports the status. */
  emit(): void;
}

export interface EmbedLoopOptions {
  /** Texts per embedding request at most. */
  batchSize: number;
  /** Back-off after a failed batch: first delay and cap. */
  backoffMs: { initial: number; max: number };
}

export class EmbedLoop {
  private batchSize: number;
  private readonly maxBatch: number;
  private pausedUntil = 0;
  private reason?: string;
  private failures = 0;
  private readonly wakers = new Set<() => void>();
  private readonly loops: Promise<void>[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly host: EmbedLoopHost,
    private readonly options: EmbedLoopOptions,
  ) {
    this.maxBatch = options.batchSize;
    this.batchSize = this.maxBatch;
  }

  /** Starts `n` loops (requests in flight at once). */
  start(n: number): void {
    for (let i = 0; i < n; i++) this.loops.push(this.run());
  }

  /** Why embedding is paused, or undefined while it runs. */
  get pausedReason(): string | undefined {
    return this.reason;
  }

  /** Retries paused embedding now. */
  resume(): void {
    this.pausedUntil = 0;
    this.nudge();
  }

  /** Wakes the sleeping loops (new chunks, resume, close). */
  nudge(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const w of wakers) w();
  }

  /** A batch of `size` texts was too much (refused, or timed out): later batches are half of it. */
  halveBatch(size: number): void {
    this.batchSize = Math.max(1, Math.floor(size / 2));
  }

  /** Resolves when the loops have ended (after the index closed). */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.loops);
  }

  /**
   * Resolves when every chunk has a vector, or (with `untilPaused`) as soon as embedding pauses: the CLI's
   * `index` waits this way, so a dead embedding server ends the run keyword-only instead of hanging it.
   */
  async settled(options: { untilPaused?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      // The embedding loop keeps the counts between its own refreshes; ask the store only when they may be stale.
      const idle = () => this.host.pending() === 0 && this.inFlight === 0;
      if (Date.now() - this.host.countsAt() > 1000 || idle()) await this.host.refreshCounts();
      if (idle()) return;
      if (options.untilPaused && this.reason) return;
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

  private async run(): Promise<void> {
    const host = this.host;
    while (!host.isClosed()) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      let batch: EmbedItem[];
      try {
        batch = await host.call('pending', { limit: this.batchSize });
      } catch {
        if (host.isClosed() || host.hasFailed()) return;
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
        const stored = await host.embed(batch);
        if (this.reason) host.logger.info(`index: embeddings resumed (${stored})`);
        this.reason = undefined;
        this.failures = 0;
        this.batchSize = Math.min(this.maxBatch, this.batchSize * 2);
      } catch (e) {
        await host.call('release', { hashes: batch.map((b) => b.hash) }).catch(() => undefined);
        if (host.isClosed()) return;
        const kind: ErrorKind = isProviderError(e) ? e.kind : 'server';
        if (kind === 'timeout' && batch.length > 1) this.halveBatch(batch.length);
        this.pause(e, kind);
      } finally {
        this.inFlight--;
      }
      // Counts from the store now and then (a count over every chunk is not cheap at 100k); in between, the loop
      // keeps them itself.
      if (Date.now() - host.countsAt() > 1000) await host.refreshCounts().catch(() => undefined);
      else host.emit();
    }
  }

  private pause(e: unknown, kind: ErrorKind): void {
    const { initial, max } = this.options.backoffMs;
    this.failures++;
    let delay = Math.min(max, initial * 2 ** (this.failures - 1));
    if (isProviderError(e) && e.retryAfter) delay = Math.max(delay, Math.min(max, e.retryAfter * 1000));
    const reason = describeEmbedFailure(e, kind);
    if (reason !== this.reason) this.host.logger.warn(`index: embeddings paused: ${reason} (next try in ${Math.round(delay / 1000)} s)`);
    this.reason = reason;
    this.pausedUntil = Date.now() + delay;
    this.host.emit();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** "box/nomic-embed-text: no answer within 500 ms", or what the router said when no model could be tried. */
export function describeEmbedFailure(e: unknown, kind: ErrorKind): string {
  if (e instanceof RouteError) {
    const last = [...e.attempts].reverse().find((a) => a.outcome === 'failed') ?? e.attempts.at(-1);
    if (kind === 'config' || !last) return 'no embedding model is configured or reachable (search is keyword-only)';
    return `${candidateName(last)}: ${last.kind ? `${last.kind}: ` : ''}${last.reason ?? e.message}`;
  }
  return `${kind}: ${e instanceof Error ? e.message : String(e)}`;
}
