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
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { redact, silentLogger, type Logger } from '../host';
import { DirectWriter, ThreadWriter, type LedgerWriter, type Table } from './ledgerWriter';
import { LedgerWrites, type Pruned } from './ledgerWrites';
import { formatEgressSource, type EgressRecord, type EgressSource, type SuggestionRecord, type UsageRecord, type UsageSink } from './ledger';

/**
 * 1: usage + audit. 2: adds the egress table. 3: adds the suggestions table. A ledger of an older schema is migrated
 * on open (tables are only ever added); one of a newer schema is refused rather than written in a shape its writer
 * does not expect.
 */
const SCHEMA_VERSION = '3';
const OLDER_SCHEMAS = new Set(['1', '2']);

export interface AuditEntry {
  at: string;
  /** The setting, e.g. "switchyard.privacy". */
  key: string;
  /** What changed, in words ("ask → local-only"); never a key value. */
  change: string;
}

export interface UsageGroup {
  key: string;
  requests: number;
  ok: number;
  /** Requests that failed (every outcome but ok and canceled). */
  failed: number;
  /** Requests the user or client stopped (outcome canceled: Stop in the chat, a gateway client going away): not failures. */
  stopped: number;
  local: number;
  cloud: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  ttftP50Ms?: number;
  ttftP95Ms?: number;
}

export interface UsageSummary {
  /** Inclusive ISO bounds of the period summarised, when limited. */
  since?: string;
  until?: string;
  total: UsageGroup;
  byTask: UsageGroup[];
  byProvider: UsageGroup[];
  /** Keyed "providerId/model". */
  byModel: UsageGroup[];
  /** Keyed "YYYY-MM-DD" (UTC), oldest first. */
  byDay: UsageGroup[];
  failuresByKind: { kind: string; count: number }[];
}

/** Inline suggestions of one model ("providerId/model"), or of all (`key` "all"). */
export interface SuggestionGroup {
  key: string;
  local: boolean;
  shown: number;
  /** Accepted whole or in part (each accept event counts once). */
  accepted: number;
  partial: number;
  /** accepted / shown, when anything was shown. */
  acceptRate?: number;
  /** Median latency of the suggestions shown (from the editor's request to the suggestion). */
  latencyP50Ms?: number;
  /** Characters accepted in all. */
  acceptedChars: number;
}

export interface SuggestionSummary {
  total: SuggestionGroup;
  byModel: SuggestionGroup[];
}

export interface SummaryRange {
  since?: string;
  until?: string;
}

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
/** The ledger connection's SQLite page cache, in KiB. */
export const LEDGER_CACHE_KIB = 2048;

/**
 * Records are written together, at most this long after the first of them: one transaction for many requests instead
 * of one per request. For a ledger file the writing happens on the ledger's worker thread (ledgerWorker.ts), so the
 * thread that serves requests only builds a row and, once per turn of its event loop, posts the turn's rows. Reads and
 * flush() wait for what was recorded before them to be written, and close() writes what is left, so only a process
 * killed outright (kill -9, a crash) loses records: those of its last LEDGER_FLUSH_MS, never a half-written batch.
 */
export const LEDGER_FLUSH_MS = 100;

interface Row {
  at: string;
  day: string;
  task: string;
  requested: string;
  provider: string;
  model: string;
  local: number;
  outcome: string;
  attempts: number;
  ttft_ms: number | null;
  duration_ms: number;
  input_tokens: number | null;
  output_tokens: number | null;
  tokens_estimated: number;
  cost_usd: number | null;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function emptyGroup(key: string): UsageGroup {
  return { key, requests: 0, ok: 0, failed: 0, stopped: 0, local: 0, cloud: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
}

const CSV_COLUMNS = ['at', 'task', 'requested', 'provider', 'model', 'local', 'outcome', 'attempts', 'ttft_ms', 'duration_ms', 'input_tokens', 'output_tokens', 'tokens_estimated', 'cost_usd'] as const;

interface EgressRow {
  at: string;
  day: string;
  task: string;
  provider: string;
  model: string;
  host: string;
  bytes_sent: number;
  redactions: string;
  sources: string;
}

const EGRESS_CSV_COLUMNS = ['at', 'task', 'provider', 'model', 'host', 'bytes_sent', 'redaction_count', 'redactions', 'files'] as const;

/** A redaction kind as the detector names it ("aws-secret-access-key"); anything else is stored as "other". */
const KIND = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** Counts by kind, positive whole numbers only, keys sorted: the only trace of a secret the ledger keeps. */
export function redactionCounts(r: Readonly<Record<string, number>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, n] of Object.entries(r ?? {})) {
    if (!Number.isInteger(n) || n <= 0) continue;
    const k = KIND.test(kind) ? kind : 'other';
    out[k] = (out[k] ?? 0) + n;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const line = (v: unknown) => (Number.isInteger(v) && (v as number) > 0 ? (v as number) : undefined);

/** Paths (at most 1024 characters) with 1-based line ranges where they are valid; nothing else. */
function cleanSources(sources: readonly EgressSource[] | undefined): EgressSource[] {
  const out: EgressSource[] = [];
  for (const src of sources ?? []) {
    if (!src || typeof src.path !== 'string' || src.path === '') continue;
    const startLine = line(src.startLine);
    const endLine = startLine !== undefined ? line(src.endLine) : undefined;
    out.push({ path: src.path.slice(0, 1024), ...(startLine !== undefined ? { startLine, endLine: endLine !== undefined && endLine >= startLine ? endLine : startLine } : {}) });
  }
  return out;
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toEgress(r: EgressRow): EgressRecord {
  return { at: r.at, task: r.task, providerId: r.provider, model: r.model, host: r.host, bytesSent: r.bytes_sent, redactions: parseJson(r.redactions, {}), sources: parseJson(r.sources, []) };
}

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is neutralised. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
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
    if (p.usage + p.egress > 0) this.logger.info(`usage ledger: removed ${p.usage} records${p.egress > 0 ? ` and ${p.egress} egress records` : ''} older than ${this.retentionDays} days`);
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
      if (this.options.path !== ':memory:') mkdirSync(dirname(this.options.path), { recursive: true });
      const db = new Database(this.options.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 2000');
      // better-sqlite3 builds SQLite with a 16 MB page cache per connection; a ledger that is mostly appended to and
      // read for one summary at a time does not need it, and it sat in the serving process as memory that grew with
      // every record written (bench soak: +20 MB RSS in 110 s) until the cache was full.
      db.pragma(`cache_size = -${LEDGER_CACHE_KIB}`);
      db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);');
      const version = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema') as string | undefined;
      if (version !== undefined && version !== SCHEMA_VERSION && !OLDER_SCHEMAS.has(version)) throw new Error(`usage ledger ${this.options.path} has schema ${version}; this Switchyard writes ${SCHEMA_VERSION}`);
      // Creating what is missing is the whole migration from an older schema: tables are only ever added. One
      // transaction, so a ledger is never left with the new tables and the old version (or the other way round).
      db.transaction(() => {
        db.exec(`
        CREATE TABLE IF NOT EXISTS usage (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          day TEXT NOT NULL,
          task TEXT NOT NULL,
          requested TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          local INTEGER NOT NULL,
          outcome TEXT NOT NULL,
          attempts INTEGER NOT NULL,
          ttft_ms REAL,
          duration_ms REAL NOT NULL,
          input_tokens INTEGER,
          output_tokens INTEGER,
          tokens_estimated INTEGER NOT NULL DEFAULT 0,
          cost_usd REAL
        );
        CREATE INDEX IF NOT EXISTS usage_at ON usage(at);
        CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, key TEXT NOT NULL, change TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS egress (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          day TEXT NOT NULL,
          task TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          host TEXT NOT NULL,
          bytes_sent INTEGER NOT NULL,
          redactions TEXT NOT NULL,
          sources TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS egress_at ON egress(at);
        CREATE TABLE IF NOT EXISTS suggestions (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          event TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          local INTEGER NOT NULL,
          source TEXT NOT NULL,
          latency_ms REAL NOT NULL,
          chars INTEGER NOT NULL,
          lines INTEGER NOT NULL,
          partial INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS suggestions_at ON suggestions(at);
      `);
        if (version !== SCHEMA_VERSION) db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
      })();
      if (version !== undefined && version !== SCHEMA_VERSION) this.logger.info(`usage ledger: ${this.options.path} migrated from schema ${version} to ${SCHEMA_VERSION}`);
      this.db = db;
      this.logger.info(`usage ledger: ${this.options.path}`);
      this.prune();
      return db;
    } catch (e) {
      this.openError = new Error(`The usage ledger could not open ${this.options.path}: ${e instanceof Error ? e.message : String(e)}. Usage is not being recorded; check that the folder is writable.`, { cause: e });
      this.logger.error(this.openError.message);
      throw this.openError;
    }
  }

  record(r: UsageRecord): void {
    this.open();
    this.pruneIfDue();
    this.write('usage', {
      at: r.at,
      day: r.at.slice(0, 10),
      task: r.task,
      requested: r.requested,
      provider: r.providerId,
      model: r.model,
      local: r.local ? 1 : 0,
      outcome: r.outcome,
      attempts: r.attempts,
      ttft_ms: r.ttftMs ?? null,
      duration_ms: r.durationMs,
      input_tokens: r.inputTokens ?? null,
      output_tokens: r.outputTokens ?? null,
      tokens_estimated: r.tokensEstimated ? 1 : 0,
      cost_usd: r.costUsd ?? null,
    });
    notify(this.listeners, r);
  }

  /** Keeps a request that left the machine: counts of redactions by kind and file ranges, never text. */
  egress(r: EgressRecord): void {
    this.open();
    this.pruneIfDue();
    const kept: EgressRecord = {
      at: r.at,
      task: r.task,
      providerId: r.providerId,
      model: r.model,
      host: r.host,
      bytesSent: Number.isFinite(r.bytesSent) && r.bytesSent > 0 ? Math.round(r.bytesSent) : 0,
      redactions: redactionCounts(r.redactions),
      sources: cleanSources(r.sources),
    };
    this.write('egress', {
      at: kept.at,
      day: kept.at.slice(0, 10),
      task: kept.task,
      provider: kept.providerId,
      model: kept.model,
      host: kept.host,
      bytes_sent: kept.bytesSent,
      redactions: JSON.stringify(kept.redactions),
      sources: JSON.stringify(kept.sources),
    });
    notify(this.egressListeners, kept);
  }

  /** Keeps an inline suggestion shown or accepted: who served it, latency and size, never the text. */
  suggestion(r: SuggestionRecord): void {
    this.open();
    const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
    this.write('suggestions', {
      at: r.at,
      event: r.event === 'accepted' ? 'accepted' : 'shown',
      provider: r.providerId,
      model: r.model,
      local: r.local ? 1 : 0,
      source: r.source === 'cache' || r.source === 'typedAhead' ? r.source : 'model',
      latency_ms: Number.isFinite(r.latencyMs) && r.latencyMs > 0 ? r.latencyMs : 0,
      chars: count(r.chars),
      lines: count(r.lines),
      partial: r.partial ? 1 : 0,
    });
  }

  /** Suggestions shown and accepted in a range, per model: accept rate and p50 latency (Show Usage). */
  suggestionSummary(range: SummaryRange = {}): SuggestionSummary {
    const where: string[] = [];
    const args: string[] = [];
    if (range.since) {
      where.push('at >= ?');
      args.push(range.since);
    }
    if (range.until) {
      where.push('at <= ?');
      args.push(range.until);
    }
    const rows = this.synced()
      .prepare(`SELECT event, provider, model, local, latency_ms, chars, partial FROM suggestions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, id`)
      .all(...args) as { event: string; provider: string; model: string; local: number; latency_ms: number; chars: number; partial: number }[];
    const groups = new Map<string, { g: SuggestionGroup; latencies: number[] }>();
    const groupOf = (key: string, local: boolean) => {
      let e = groups.get(key);
      if (!e) groups.set(key, (e = { g: { key, local, shown: 0, accepted: 0, partial: 0, acceptedChars: 0 }, latencies: [] }));
      return e;
    };
    for (const r of rows) {
      for (const e of [groupOf('all', true), groupOf(`${r.provider}/${r.model}`, r.local === 1)]) {
        if (e.g.key === 'all' && r.local !== 1) e.g.local = false;
        if (r.event === 'shown') {
          e.g.shown++;
          e.latencies.push(r.latency_ms);
        } else {
          e.g.accepted++;
          e.g.acceptedChars += r.chars;
          if (r.partial === 1) e.g.partial++;
        }
      }
    }
    const done = ({ g, latencies }: { g: SuggestionGroup; latencies: number[] }): SuggestionGroup => {
      latencies.sort((a, b) => a - b);
      const p50 = quantile(latencies, 0.5);
      return { ...g, ...(g.shown > 0 ? { acceptRate: g.accepted / g.shown } : {}), ...(p50 !== undefined ? { latencyP50Ms: p50 } : {}) };
    };
    const all = groups.get('all');
    groups.delete('all');
    return {
      total: all ? done(all) : { key: 'all', local: true, shown: 0, accepted: 0, partial: 0, acceptedChars: 0 },
      byModel: [...groups.values()].map(done).sort((a, b) => b.shown - a.shown || a.key.localeCompare(b.key)),
    };
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
    const where: string[] = [];
    const args: string[] = [];
    if (range.since) {
      where.push('at >= ?');
      args.push(range.since);
    }
    if (range.until) {
      where.push('at <= ?');
      args.push(range.until);
    }
    return this.synced()
      .prepare(`SELECT at, day, task, requested, provider, model, local, outcome, attempts, ttft_ms, duration_ms, input_tokens, output_tokens, tokens_estimated, cost_usd FROM usage ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, id`)
      .all(...args) as Row[];
  }

  /** The most recent records, newest first. */
  recent(limit = 50): UsageRecord[] {
    const rows = this.synced().prepare('SELECT * FROM usage ORDER BY id DESC LIMIT ?').all(limit) as Row[];
    return rows.map((r) => ({
      at: r.at,
      task: r.task,
      requested: r.requested,
      providerId: r.provider,
      model: r.model,
      local: r.local === 1,
      outcome: r.outcome as UsageRecord['outcome'],
      attempts: r.attempts,
      ttftMs: r.ttft_ms ?? undefined,
      durationMs: r.duration_ms,
      inputTokens: r.input_tokens ?? undefined,
      outputTokens: r.output_tokens ?? undefined,
      tokensEstimated: r.tokens_estimated === 1 || undefined,
      costUsd: r.cost_usd ?? undefined,
    }));
  }

  summary(range: SummaryRange = {}): UsageSummary {
    const rows = this.rows(range);
    const groups = (keyOf: (r: Row) => string, sortBy: 'requests' | 'key' = 'requests'): UsageGroup[] => {
      const map = new Map<string, { g: UsageGroup; ttft: number[] }>();
      for (const r of rows) {
        const key = keyOf(r);
        let entry = map.get(key);
        if (!entry) map.set(key, (entry = { g: emptyGroup(key), ttft: [] }));
        add(entry.g, r);
        if (r.ttft_ms !== null && r.outcome === 'ok') entry.ttft.push(r.ttft_ms);
      }
      const out = [...map.values()].map(({ g, ttft }) => {
        ttft.sort((a, b) => a - b);
        return { ...g, ttftP50Ms: quantile(ttft, 0.5), ttftP95Ms: quantile(ttft, 0.95) };
      });
      return sortBy === 'key' ? out.sort((a, b) => a.key.localeCompare(b.key)) : out.sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key));
    };
    const failures = new Map<string, number>();
    for (const r of rows) if (r.outcome !== 'ok' && r.outcome !== 'canceled') failures.set(r.outcome, (failures.get(r.outcome) ?? 0) + 1);
    return {
      since: range.since,
      until: range.until,
      total: groups(() => 'all')[0] ?? emptyGroup('all'),
      byTask: groups((r) => r.task),
      byProvider: groups((r) => r.provider || '(none)'),
      byModel: groups((r) => (r.provider ? `${r.provider}/${r.model}` : '(none)')),
      byDay: groups((r) => r.day, 'key'),
      failuresByKind: [...failures].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count),
    };
  }

  /** Every record in the range as CSV (header line first), for spreadsheets. */
  csv(range: SummaryRange = {}): string {
    const lines = [CSV_COLUMNS.join(',')];
    for (const r of this.rows(range)) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
    return `${lines.join('\n')}\n`;
  }

  private egressWhere(q: EgressQuery): { sql: string; args: string[] } {
    const where: string[] = [];
    const args: string[] = [];
    const add = (clause: string, v: string | undefined) => {
      if (v === undefined || v === '') return;
      where.push(clause);
      args.push(v);
    };
    add('at >= ?', q.since);
    add('at <= ?', q.until);
    add('day = ?', q.day);
    add('provider = ?', q.provider);
    return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
  }

  /** Requests that left the machine, newest first. */
  egressList(q: EgressQuery = {}): EgressRecord[] {
    const { sql, args } = this.egressWhere(q);
    const limit = q.limit !== undefined && q.limit >= 0 ? ` LIMIT ${Math.floor(q.limit)}` : '';
    const rows = this.synced().prepare(`SELECT at, day, task, provider, model, host, bytes_sent, redactions, sources FROM egress ${sql} ORDER BY at DESC, id DESC${limit}`).all(...args) as EgressRow[];
    return rows.map(toEgress);
  }

  /** How many egress records match (a view shows the newest few and says how many there are). */
  egressCount(q: EgressQuery = {}): number {
    const { sql, args } = this.egressWhere(q);
    return this.synced().prepare(`SELECT count(*) FROM egress ${sql}`).pluck().get(...args) as number;
  }

  /** The days and providers with egress in a range: what a day or provider filter offers. */
  egressFacets(range: SummaryRange = {}): EgressFacets {
    const { sql, args } = this.egressWhere({ since: range.since, until: range.until });
    const db = this.synced();
    return {
      days: db.prepare(`SELECT day, count(*) AS count FROM egress ${sql} GROUP BY day ORDER BY day DESC`).all(...args) as EgressFacets['days'],
      providers: db.prepare(`SELECT provider, count(*) AS count FROM egress ${sql} GROUP BY provider ORDER BY provider`).all(...args) as EgressFacets['providers'],
    };
  }

  /**
   * One page of the egress list for a view: the range's days and providers, the newest `limit` records matching the
   * filters, and how many match. A day or provider filter with nothing left in the range (the period shrank, records
   * aged out) is dropped rather than showing an empty list the user cannot explain.
   */
  egressPage(range: SummaryRange, filter: { day?: string; provider?: string }, limit: number): EgressFacets & { day: string; provider: string; records: EgressRecord[]; total: number } {
    const facets = this.egressFacets(range);
    const day = facets.days.some((d) => d.day === filter.day) ? filter.day! : '';
    const provider = facets.providers.some((p) => p.provider === filter.provider) ? filter.provider! : '';
    const query: EgressQuery = { ...range, day: day || undefined, provider: provider || undefined };
    const records = this.egressList({ ...query, limit });
    return { ...facets, day, provider, records, total: records.length < limit ? records.length : this.egressCount(query) };
  }

  /** The egress records as CSV (header line first), oldest first like csv(): redaction counts as JSON, files "path:from-to". */
  egressCsv(q: EgressQuery = {}): string {
    const lines = [EGRESS_CSV_COLUMNS.join(',')];
    for (const e of this.egressList(q).reverse()) {
      const cells: Record<(typeof EGRESS_CSV_COLUMNS)[number], unknown> = {
        at: e.at,
        task: e.task,
        provider: e.providerId,
        model: e.model,
        host: e.host,
        bytes_sent: e.bytesSent,
        redaction_count: Object.values(e.redactions).reduce((a, b) => a + b, 0),
        redactions: JSON.stringify(e.redactions),
        files: e.sources.map(formatEgressSource).join('; '),
      };
      lines.push(EGRESS_CSV_COLUMNS.map((c) => csvCell(cells[c])).join(','));
    }
    return `${lines.join('\n')}\n`;
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

function add(g: UsageGroup, r: Row): void {
  g.requests++;
  if (r.outcome === 'ok') g.ok++;
  else if (r.outcome === 'canceled') g.stopped++;
  else g.failed++;
  if (r.provider) {
    if (r.local === 1) g.local++;
    else g.cloud++;
  }
  g.inputTokens += r.input_tokens ?? 0;
  g.outputTokens += r.output_tokens ?? 0;
  g.costUsd += r.cost_usd ?? 0;
}

/** An audit entry for an API key stored or removed: names the provider, never the value. */
export function apiKeyChange(providerId: string, change: 'set' | 'cleared', at = new Date().toISOString()): AuditEntry {
  return { at, key: `API key of ${providerId}`, change: change === 'set' ? 'set (stored in SecretStorage; the value is never recorded)' : 'cleared' };
}

/** Settings changes between two snapshots of the `switchyard.*` keys, in words, never with key values. */
export function settingsChanges(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, at = new Date().toISOString()): AuditEntry[] {
  const out: AuditEntry[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a === b) continue;
    const secretish = /key|token|secret|password/i.test(key);
    const show = (v: string | undefined) => (v === undefined ? '(default)' : secretish ? '(hidden)' : v.length > 300 ? `${v.slice(0, 300)}…` : v);
    out.push({ at, key, change: redact(`${show(a)} → ${show(b)}`) });
  }
  return out;
}
