/**
 * The persistent usage ledger: one SQLite row per routed request (the router's UsageRecord) plus an audit list of
 * settings changes. better-sqlite3 is loaded on the first record or read, never at activation. Records are written
 * off the caller's thread, in batches (see LEDGER_FLUSH_MS: what a kill -9 can lose), each batch one transaction in
 * WAL mode; reads see every record made before them. Summaries per task, provider, model and
 * day: requests, local vs cloud, tokens, estimated cost, p50/p95 time to first token, failures by kind. An `egress`
 * table lists every request that left the machine (EgressRecord: host, bytes, redaction counts by kind, the workspace
 * files it carried), written in the same batches and pruned by the same retention. A `suggestions` table keeps the
 * inline suggestions shown and accepted (SuggestionRecord: who served it, latency, size; never code), summarised per
 * model as accept rate and p50 latency.
 *
 * The schema and its migration are ledgerSchema.ts, records as rows ledgerRows.ts, summaries and CSV ledgerSummary.ts,
 * the audit list's entries audit.ts.
 */
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { redact, silentLogger, type Logger } from '../host';
import type { AuditEntry } from './audit';
import { type EgressRecord, type SuggestionRecord, type UsageRecord, type UsageSink } from './ledger';
import { egressRow, keptEgress, suggestionRow, toEgress, toUsage, usageRow, type EgressRow, type Row } from './ledgerRows';
import { LEDGER_CACHE_KIB, openLedgerDatabase } from './ledgerSchema';
import {
  egressCsv,
  summarise,
  summariseSuggestions,
  usageCsv,
  type SuggestionRow,
  type SuggestionSummary,
  type SummaryRange,
  type UsageSummary,
} from './ledgerSummary';
import { DirectWriter, ThreadWriter, type LedgerWriter, type Table } from './ledgerWriter';
import { LedgerWrites, type Pruned } from './ledgerWrites';

export { apiKeyChange, settingsChanges, type AuditEntry } from './audit';
export { redactionCounts } from './ledgerRows';
export { LEDGER_CACHE_KIB } from './ledgerSchema';
export {
  csvCell,
  quantile,
  type SuggestionGroup,
  type SuggestionSummary,
  type SummaryRange,
  type UsageGroup,
  type UsageSummary,
} from './ledgerSummary';

/** Which egress records to list: an ISO time range (inclusive), one UTC day ("YYYY-MM-DD"), one provider. */
export interface EgressQuery extends SummaryRange {
  day?: string;
  provider?: string;
  /** Newest first, at most this many (default: all). */
  limit?: number;
}

/** The days and providers that have egress records in a range, newest day first, providers by name. */
export interface EgressFacets {
  days: { day: string; count: number }[];
  providers: { provider: string; count: number }[];
}

export interface LedgerOptions {
  /** A file path, or ":memory:". */
  path: string;
  logger?: Logger;
  /** Loads better-sqlite3's constructor; the default requires it on first use. */
  load?: () => new (path: string) => SqliteDatabase;
  /** Days of request records to keep; older ones are deleted on open and then once a day. 0 or absent keeps all. */
  retentionDays?: number;
  /**
   * Write records on the ledger's worker thread (default for a file; an in-memory ledger, or one with a custom
   * `load`, writes on the calling thread).
   */
  offThread?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * Records are written together, at most this long after the first of them: one transaction for many requests instead
 * of one per request. For a ledger file the writing happens on the ledger's worker thread (ledgerWorker.ts), so the
 * thread that serves requests only builds a row and, once per turn of its event loop, posts the turn's rows. Reads and
 * flush() wait for what was recorded before them to be written, and close() writes what is left, so only a process
 * killed outright (kill -9, a crash) loses records: those of its last LEDGER_FLUSH_MS, never a half-written batch.
 */
export const LEDGER_FLUSH_MS = 100;

/** A WHERE clause (or "") of the conditions whose value is given, and its arguments. */
function whereOf(conditions: [clause: string, value: string | undefined][]): { sql: string; args: string[] } {
  const given = conditions.filter(([, v]) => v !== undefined && v !== '');
  return { sql: given.length ? `WHERE ${given.map(([c]) => c).join(' AND ')}` : '', args: given.map(([, v]) => v as string) };
}

function rangeWhere(range: SummaryRange): { sql: string; args: string[] } {
  return whereOf([
    ['at >= ?', range.since],
    ['at <= ?', range.until],
  ]);
}

export class SqliteLedger implements UsageSink {
  private db: SqliteDatabase | undefined;
  /** Where records go to be written (made on the first record: a ledger only read starts no thread). */
  private writer: LedgerWriter | undefined;
  /** The read connection's own write statements (pruning on open and on a retention change). */
  private mainWrites: LedgerWrites | undefined;
  private openError: Error | undefined;
  private readonly logger: Logger;
  private readonly listeners = new Set<(r: UsageRecord) => void>();
  private readonly egressListeners = new Set<(r: EgressRecord) => void>();
  private retentionDays: number;
  private lastPrune = 0;

  constructor(private readonly options: LedgerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.retentionDays = options.retentionDays ?? 0;
  }

  /** Changes the retention (a settings change); prunes now when the ledger is open. */
  setRetention(days: number): void {
    this.retentionDays = days;
    if (this.db) this.prune();
  }

  /** Deletes request and egress records older than the retention; returns how many went. The audit list is kept. */
  prune(now = Date.now()): number {
    this.lastPrune = now;
    if (!(this.retentionDays > 0)) return 0;
    const db = this.open();
    this.flush();
    this.mainWrites ??= new LedgerWrites(db);
    const pruned = this.mainWrites.prune(this.cutoff(now));
    this.logPruned(pruned);
    return pruned.usage;
  }

  private cutoff(now: number): string {
    return new Date(now - this.retentionDays * DAY_MS).toISOString();
  }

  private logPruned(p: Pruned): void {
    if (p.usage + p.egress > 0)
      this.logger.info(
        `usage ledger: removed ${p.usage} records${p.egress > 0 ? ` and ${p.egress} egress records` : ''} ` +
          `older than ${this.retentionDays} days`,
      );
  }

  /** The daily prune while records are written: by the writer, not on the thread that records. */
  private pruneIfDue(): void {
    const now = Date.now();
    if (!(this.retentionDays > 0) || now - this.lastPrune <= DAY_MS) return;
    this.lastPrune = now;
    this.writerOf().pruneLater(this.cutoff(now), (p) => this.logPruned(p));
  }

  /** The writer, made on the first record: the worker thread for a file, else this thread. */
  private writerOf(): LedgerWriter {
    if (this.writer) return this.writer;
    const db = this.open();
    const direct = () => new DirectWriter(db, LEDGER_FLUSH_MS, this.logger);
    const offThread = this.options.offThread ?? (this.options.path !== ':memory:' && this.options.load === undefined);
    if (!offThread) return (this.writer = direct());
    try {
      this.writer = new ThreadWriter(this.options.path, LEDGER_CACHE_KIB, LEDGER_FLUSH_MS, this.logger, () => {
        // The thread stopped (it should not): what follows is written here.
        if (this.db) this.writer = direct();
      });
    } catch (e) {
      this.logger.warn(`usage ledger: writing on the main thread (${e instanceof Error ? e.message : String(e)})`);
      this.writer = direct();
    }
    return this.writer;
  }

  private write(table: Table, row: Record<string, unknown>): void {
    this.writerOf().add(table, row);
  }

  /** Who writes the records: the ledger's worker thread, this thread, or nobody yet (nothing recorded since opening). */
  get writtenBy(): 'thread' | 'caller' | 'none' {
    return this.writer instanceof ThreadWriter ? 'thread' : this.writer ? 'caller' : 'none';
  }

  /** True once the database is open (it opens on first use). */
  get isOpen(): boolean {
    return this.db !== undefined;
  }

  get path(): string {
    return this.options.path;
  }

  /** Called after each record (e.g. to refresh an open usage view). */
  onRecord(listener: (r: UsageRecord) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Called after each egress record. */
  onEgress(listener: (r: EgressRecord) => void): { dispose(): void } {
    this.egressListeners.add(listener);
    return { dispose: () => this.egressListeners.delete(listener) };
  }

  private open(): SqliteDatabase {
    if (this.db) return this.db;
    if (this.openError) throw this.openError;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const Database = this.options.load ? this.options.load() : (require('better-sqlite3') as new (path: string) => SqliteDatabase);
      const db = openLedgerDatabase(Database, this.options.path, this.logger);
      this.db = db;
      this.logger.info(`usage ledger: ${this.options.path}`);
      this.prune();
      return db;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const message = `The usage ledger could not open ${this.options.path}: ${why}.`;
      this.openError = new Error(`${message} Usage is not being recorded; check that the folder is writable.`, { cause: e });
      this.logger.error(this.openError.message);
      throw this.openError;
    }
  }

  record(r: UsageRecord): void {
    this.open();
    this.pruneIfDue();
    this.write('usage', usageRow(r));
    notify(this.listeners, r);
  }

  /** Keeps a request that left the machine: counts of redactions by kind and file ranges, never text. */
  egress(r: EgressRecord): void {
    this.open();
    this.pruneIfDue();
    const kept = keptEgress(r);
    this.write('egress', egressRow(kept));
    notify(this.egressListeners, kept);
  }

  /** Keeps an inline suggestion shown or accepted: who served it, latency and size, never the text. */
  suggestion(r: SuggestionRecord): void {
    this.open();
    this.write('suggestions', suggestionRow(r));
  }

  /** Suggestions shown and accepted in a range, per model: accept rate and p50 latency (Show Usage). */
  suggestionSummary(range: SummaryRange = {}): SuggestionSummary {
    const { sql, args } = rangeWhere(range);
    const rows = this.synced()
      .prepare(`SELECT event, provider, model, local, latency_ms, chars, partial FROM suggestions ${sql} ORDER BY at, id`)
      .all(...args) as SuggestionRow[];
    return summariseSuggestions(rows);
  }

  /** Writes the records not written yet (queries and close() call it first); returns once they are committed. */
  flush(): void {
    this.writer?.sync();
  }

  /** The open database with every pending record written: what queries read. */
  private synced(): SqliteDatabase {
    const db = this.open();
    this.flush();
    return db;
  }

  /** Adds settings changes to the audit list (the text is redacted again here: never a key value). */
  audit(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    const db = this.open();
    const stmt = db.prepare('INSERT INTO audit (at, key, change) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (const e of entries) stmt.run(e.at, e.key, redact(e.change).slice(0, 2000));
    })();
  }

  /** The audit list, newest first. */
  auditList(limit = 200): AuditEntry[] {
    return this.open().prepare('SELECT at, key, change FROM audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[];
  }

  private rows(range: SummaryRange = {}): Row[] {
    const { sql, args } = rangeWhere(range);
    const columns =
      'at, day, task, requested, provider, model, local, outcome, attempts, ' +
      'ttft_ms, duration_ms, input_tokens, output_tokens, tokens_estimated, cost_usd';
    return this.synced()
      .prepare(`SELECT ${columns} FROM usage ${sql} ORDER BY at, id`)
      .all(...args) as Row[];
  }

  /** The most recent records, newest first. */
  recent(limit = 50): UsageRecord[] {
    const rows = this.synced().prepare('SELECT * FROM usage ORDER BY id DESC LIMIT ?').all(limit) as Row[];
    return rows.map(toUsage);
  }

  summary(range: SummaryRange = {}): UsageSummary {
    return summarise(this.rows(range), range);
  }

  /** Every record in the range as CSV (header line first), for spreadsheets. */
  csv(range: SummaryRange = {}): string {
    return usageCsv(this.rows(range));
  }

  private egressWhere(q: EgressQuery): { sql: string; args: string[] } {
    return whereOf([
      ['at >= ?', q.since],
      ['at <= ?', q.until],
      ['day = ?', q.day],
      ['provider = ?', q.provider],
    ]);
  }

  /** Requests that left the machine, newest first. */
  egressList(q: EgressQuery = {}): EgressRecord[] {
    const { sql, args } = this.egressWhere(q);
    const limit = q.limit !== undefined && q.limit >= 0 ? ` LIMIT ${Math.floor(q.limit)}` : '';
    const rows = this.synced()
      .prepare(
        `SELECT at, day, task, provider, model, host, bytes_sent, redactions, sources FROM egress ${sql} ORDER BY at DESC, id DESC${limit}`,
      )
      .all(...args) as EgressRow[];
    return rows.map(toEgress);
  }

  /** How many egress records match (a view shows the newest few and says how many there are). */
  egressCount(q: EgressQuery = {}): number {
    const { sql, args } = this.egressWhere(q);
    return this.synced()
      .prepare(`SELECT count(*) FROM egress ${sql}`)
      .pluck()
      .get(...args) as number;
  }

  /** The days and providers with egress in a range: what a day or provider filter offers. */
  egressFacets(range: SummaryRange = {}): EgressFacets {
    const { sql, args } = this.egressWhere({ since: range.since, until: range.until });
    const db = this.synced();
    return {
      days: db
        .prepare(`SELECT day, count(*) AS count FROM egress ${sql} GROUP BY day ORDER BY day DESC`)
        .all(...args) as EgressFacets['days'],
      providers: db
        .prepare(`SELECT provider, count(*) AS count FROM egress ${sql} GROUP BY provider ORDER BY provider`)
        .all(...args) as EgressFacets['providers'],
    };
  }

  /**
   * One page of the egress list for a view: the range's days and providers, the newest `limit` records matching the
   * filters, and how many match. A day or provider filter with nothing left in the range (the period shrank, records
   * aged out) is dropped rather than showing an empty list the user cannot explain.
   */
  egressPage(
    range: SummaryRange,
    filter: { day?: string; provider?: string },
    limit: number,
  ): EgressFacets & { day: string; provider: string; records: EgressRecord[]; total: number } {
    const facets = this.egressFacets(range);
    const day = facets.days.some((d) => d.day === filter.day) ? filter.day! : '';
    const provider = facets.providers.some((p) => p.provider === filter.provider) ? filter.provider! : '';
    const query: EgressQuery = { ...range, day: day || undefined, provider: provider || undefined };
    const records = this.egressList({ ...query, limit });
    return { ...facets, day, provider, records, total: records.length < limit ? records.length : this.egressCount(query) };
  }

  /** The egress records as CSV (header line first), oldest first like csv(): redaction counts as JSON, files "path:from-to". */
  egressCsv(q: EgressQuery = {}): string {
    return egressCsv(this.egressList(q).reverse());
  }

  close(): void {
    const writer = this.writer;
    this.writer = undefined;
    try {
      writer?.close();
    } catch (e) {
      this.logger.warn(`usage ledger: could not write usage records: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.db?.close();
    this.db = undefined;
    this.mainWrites = undefined;
  }
}

function notify<T>(listeners: Iterable<(r: T) => void>, r: T): void {
  for (const l of listeners) {
    try {
      l(r);
    } catch {
      // a listener's failure is not the ledger's
    }
  }
}
