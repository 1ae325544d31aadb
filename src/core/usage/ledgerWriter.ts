/**
 * Where the usage ledger's rows go to be written. `ThreadWriter` (a ledger file): rows of one turn of the event loop
 * are handed to the ledger's worker thread (ledgerWorker.ts) in one message, and the worker commits them; the caller
 * never runs SQL for a record. `DirectWriter` (an in-memory ledger, or when the worker cannot start): the same batches
 * committed on the calling thread by a timer, as before.
 *
 * Both commit a row at most LEDGER_FLUSH_MS after it was recorded. `sync()` returns once everything recorded so far
 * is committed (reads and flush() call it; the thread waits on a shared word, woken by the worker), and `close()`
 * commits what is left before it returns. A process killed outright (kill -9, a crash) loses what was recorded in its
 * last LEDGER_FLUSH_MS, no more, and never leaves a half-written batch: each is one transaction.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import type { Logger } from '../host';
import {
  LedgerWrites,
  batchSize,
  emptyBatch,
  type FromWorker,
  type Pruned,
  type ToWorker,
  type WorkerSetup,
  type WriteBatch,
} from './ledgerWrites';

export type Table = keyof WriteBatch;

export interface LedgerWriter {
  add(table: Table, row: Record<string, unknown>): void;
  /** Returns once every row added so far is committed. */
  sync(): void;
  /** Prunes in the background; `done` hears what went. */
  pruneLater(cutoff: string, done: (p: Pruned) => void): void;
  /** Commits what is left and releases the writer. */
  close(): void;
}

/** Longest a read waits for the worker to commit before it reads without the rows still in flight. */
const SYNC_TIMEOUT_MS = 10_000;

/** The worker's script: the .ts beside this file under tsx (tests), dist/ledgerWorker.js in the bundles. */
function workerScript(): string {
  return __filename.endsWith('.ts') ? path.join(__dirname, 'ledgerWorker.ts') : path.join(__dirname, 'ledgerWorker.js');
}

/** Commits on the calling thread, batched by a timer. */
export class DirectWriter implements LedgerWriter {
  private pending = emptyBatch();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly writes: LedgerWrites;

  constructor(
    db: SqliteDatabase,
    private readonly flushMs: number,
    private readonly logger: Logger,
  ) {
    this.writes = new LedgerWrites(db);
  }

  add(table: Table, row: Record<string, unknown>): void {
    this.pending[table].push(row);
    if (this.timer) return;
    this.timer = setTimeout(() => this.commitQuietly(), this.flushMs);
    // A pending write never keeps a process alive; close() writes what is left.
    this.timer.unref?.();
  }

  sync(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (batchSize(this.pending) === 0) return;
    const batch = this.pending;
    this.pending = emptyBatch();
    this.writes.write(batch);
  }

  pruneLater(cutoff: string, done: (p: Pruned) => void): void {
    this.sync();
    done(this.writes.prune(cutoff));
  }

  close(): void {
    this.commitQuietly();
  }

  private commitQuietly(): void {
    try {
      this.sync();
    } catch (e) {
      this.logger.warn(`usage ledger: could not write usage records: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Hands rows to the ledger's worker thread, which owns the write connection. */
export class ThreadWriter implements LedgerWriter {
  private readonly worker: Worker;
  private readonly acked: Int32Array;
  private seq = 0;
  private batch = emptyBatch();
  private scheduled = false;
  private exited = false;
  private closed = false;
  private readonly pruneCallbacks: ((p: Pruned) => void)[] = [];

  /** Throws when the worker cannot be created (its script missing): the caller writes directly then. */
  constructor(
    file: string,
    cacheKib: number,
    flushMs: number,
    private readonly logger: Logger,
    private readonly onExit: () => void,
  ) {
    const shared = new SharedArrayBuffer(4);
    this.acked = new Int32Array(shared);
    const setup: WorkerSetup = { path: file, cacheKib, flushMs, shared };
    const script = workerScript();
    if (!existsSync(script)) throw new Error(`the ledger's writer script ${script} is missing`);
    this.worker = new Worker(script, { workerData: setup });
    // The writer never keeps a process alive: close() (every owner calls it) commits what is left.
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') this.logger.warn(`usage ledger: could not write usage records (kept for a retry): ${m.message}`);
      else this.pruneCallbacks.shift()?.(m.pruned);
    });
    this.worker.on('error', (e) =>
      this.logger.error(`usage ledger: the writer thread failed: ${e instanceof Error ? e.message : String(e)}`),
    );
    this.worker.once('exit', () => {
      this.exited = true;
      if (!this.closed) {
        this.logger.warn('usage ledger: the writer thread stopped; records are written on the main thread from now on');
        this.onExit();
      }
    });
  }

  add(table: Table, row: Record<string, unknown>): void {
    this.batch[table].push(row);
    if (this.scheduled) return;
    this.scheduled = true;
    // One message per turn of the event loop, however many requests ended in it.
    setImmediate(() => this.send());
  }

  sync(): void {
    this.send();
    this.barrier('sync');
  }

  pruneLater(cutoff: string, done: (p: Pruned) => void): void {
    this.send();
    this.pruneCallbacks.push(done);
    this.post({ type: 'prune', cutoff });
  }

  close(): void {
    if (this.closed) return;
    this.send();
    this.closed = true;
    // The worker exits once it has closed its connection; if it did not answer, it is stopped.
    if (!this.barrier('close')) void this.worker.terminate();
  }

  private send(): void {
    this.scheduled = false;
    if (batchSize(this.batch) === 0) return;
    const batch = this.batch;
    this.batch = emptyBatch();
    this.post({ type: 'write', batch });
  }

  private post(m: ToWorker): void {
    if (!this.exited) this.worker.postMessage(m);
  }

  /** Posts a sync or close and waits (blocking this thread) until the worker has committed and says so. */
  private barrier(type: 'sync' | 'close'): boolean {
    if (this.exited) return false;
    const seq = ++this.seq;
    this.post({ type, seq });
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.acked, 0);
      if (seen >= seq) return true;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.logger.warn(
          `usage ledger: the writer thread did not answer within ${SYNC_TIMEOUT_MS / 1000} s; going on without the records still in flight`,
        );
        return false;
      }
      Atomics.wait(this.acked, 0, seen, Math.min(left, 100));
    }
  }
}
