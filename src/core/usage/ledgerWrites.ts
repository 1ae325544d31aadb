/**
 * How the usage ledger writes: rows of its three record tables, committed together in one transaction, and pruning
 * by age. The same code runs in the ledger's worker thread (ledgerWorker.ts, the default for a ledger file: the
 * serving thread never waits on SQLite) and on the calling thread (an in-memory ledger, or one whose worker could not
 * start). No imports beyond better-sqlite3's types, so the worker loads little.
 */
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';

/** Rows to write, by table, in the order they were recorded. */
export interface WriteBatch {
  usage: Record<string, unknown>[];
  egress: Record<string, unknown>[];
  suggestions: Record<string, unknown>[];
}

export function emptyBatch(): WriteBatch {
  return { usage: [], egress: [], suggestions: [] };
}

export function batchSize(b: WriteBatch): number {
  return b.usage.length + b.egress.length + b.suggestions.length;
}

/** What pruning removed, per table. */
export interface Pruned {
  usage: number;
  egress: number;
  suggestions: number;
}

/** Per-connection settings of every ledger connection (WAL itself is a property of the file, set on open). */
export function tuneConnection(db: SqliteDatabase, cacheKib: number): void {
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${cacheKib}`);
}

/** The ledger's write statements on one connection. */
export class LedgerWrites {
  private readonly insert: Statement;
  private readonly insertEgress: Statement;
  private readonly insertSuggestion: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO usage (at, day, task, requested, provider, model, local, outcome, attempts, ` +
        `ttft_ms, duration_ms, input_tokens, output_tokens, tokens_estimated, cost_usd)
        VALUES (@at, @day, @task, @requested, @provider, @model, @local, @outcome, @attempts, ` +
        `@ttft_ms, @duration_ms, @input_tokens, @output_tokens, @tokens_estimated, @cost_usd)`,
    );
    this.insertEgress = db.prepare(`INSERT INTO egress (at, day, task, provider, model, host, bytes_sent, redactions, sources)
        VALUES (@at, @day, @task, @provider, @model, @host, @bytes_sent, @redactions, @sources)`);
    this.insertSuggestion =
      db.prepare(`INSERT INTO suggestions (at, event, provider, model, local, source, latency_ms, chars, lines, partial)
        VALUES (@at, @event, @provider, @model, @local, @source, @latency_ms, @chars, @lines, @partial)`);
  }

  /** All rows in one transaction: all are written or none. */
  write(batch: WriteBatch): void {
    if (batchSize(batch) === 0) return;
    this.db.transaction(() => {
      for (const row of batch.usage) this.insert.run(row);
      for (const row of batch.egress) this.insertEgress.run(row);
      for (const row of batch.suggestions) this.insertSuggestion.run(row);
    })();
  }

  /** Deletes records older than `cutoff` (an ISO time) from the three record tables; the audit list is kept. */
  prune(cutoff: string): Pruned {
    const out: Pruned = { usage: 0, egress: 0, suggestions: 0 };
    this.db.transaction(() => {
      out.usage = this.db.prepare('DELETE FROM usage WHERE at < ?').run(cutoff).changes;
      out.egress = this.db.prepare('DELETE FROM egress WHERE at < ?').run(cutoff).changes;
      out.suggestions = this.db.prepare('DELETE FROM suggestions WHERE at < ?').run(cutoff).changes;
    })();
    return out;
  }
}

/** Messages from the ledger to its worker. */
export type ToWorker =
  | { type: 'write'; batch: WriteBatch }
  /** Commit everything received so far, then store `seq` in the shared word and wake the waiting thread. */
  | { type: 'sync'; seq: number }
  | { type: 'prune'; cutoff: string }
  /** Commit, close the connection, acknowledge `seq`, exit. */
  | { type: 'close'; seq: number };

/** Messages from the worker. */
export type FromWorker = { type: 'error'; message: string } | { type: 'pruned'; pruned: Pruned; cutoff: string };

export interface WorkerSetup {
  path: string;
  cacheKib: number;
  /** Longest a received row waits before its transaction is committed. */
  flushMs: number;
  /** Int32Array over it: [0] the last sequence number acknowledged. */
  shared: SharedArrayBuffer;
}
