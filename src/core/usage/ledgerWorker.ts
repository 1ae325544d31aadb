/**
 * The usage ledger's writer thread (bundled as dist/ledgerWorker.js; sqliteLedger.ts starts it on the first record).
 * It owns the ledger's write connection: rows arrive as `write` messages and are committed together, one
 * transaction at most LEDGER_FLUSH_MS after the first of them arrived, so the thread that serves requests never waits
 * on SQLite. `sync` commits at once and wakes the caller through the shared word (reads and flush() wait for it),
 * `close` commits, closes and exits. A failed commit keeps its rows and is retried at the next window (up to a bound).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { LedgerWrites, batchSize, emptyBatch, tuneConnection, type FromWorker, type ToWorker, type WorkerSetup } from './ledgerWrites';

/** Rows kept for a retry when commits keep failing (a full disk): beyond this the oldest are dropped. */
const MAX_PENDING = 50_000;

const port = parentPort!;
const setup = workerData as WorkerSetup;
const acked = new Int32Array(setup.shared);
const post = (m: FromWorker) => port.postMessage(m);

let db: SqliteDatabase | undefined;
let writes: LedgerWrites | undefined;
let pending = emptyBatch();
let timer: ReturnType<typeof setTimeout> | undefined;
let failing = false;

function connect(): LedgerWrites {
  if (writes) return writes;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = require('better-sqlite3') as new (path: string) => SqliteDatabase;
  db = new Database(setup.path);
  tuneConnection(db, setup.cacheKib);
  writes = new LedgerWrites(db);
  return writes;
}

function commit(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (batchSize(pending) === 0) return;
  const batch = pending;
  pending = emptyBatch();
  try {
    connect().write(batch);
    failing = false;
  } catch (e) {
    // Kept for the next window; said once per run of failures.
    for (const k of ['usage', 'egress', 'suggestions'] as const) pending[k] = [...batch[k], ...pending[k]].slice(-MAX_PENDING);
    if (!failing) post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    failing = true;
    schedule();
  }
}

function schedule(): void {
  timer ??= setTimeout(commit, setup.flushMs);
}

function ack(seq: number): void {
  Atomics.store(acked, 0, seq);
  Atomics.notify(acked, 0);
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'write':
      for (const k of ['usage', 'egress', 'suggestions'] as const) for (const row of m.batch[k]) pending[k].push(row);
      schedule();
      return;
    case 'sync':
      commit();
      ack(m.seq);
      return;
    case 'prune':
      commit();
      try {
        post({ type: 'pruned', pruned: connect().prune(m.cutoff), cutoff: m.cutoff });
      } catch (e) {
        post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
      return;
    case 'close':
      commit();
      try {
        db?.close();
      } catch {
        // closing is best effort: everything committed is on disk
      }
      db = undefined;
      writes = undefined;
      ack(m.seq);
      port.close();
      return;
  }
});
