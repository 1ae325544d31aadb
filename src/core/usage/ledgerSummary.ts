/**
 * What the usage ledger's reads make of its rows: summaries per task, provider, model and day (requests, local vs
 * cloud, tokens, estimated cost, p50/p95 time to first token, failures by kind), inline suggestions per model (accept
 * rate, p50 latency), and the CSV exports of request and egress records.
 */
import type { SuggestionGroupView, UsageGroupView } from '../../protocol/usage';
import { formatEgressSource, type EgressRecord } from './ledger';
import type { Row } from './ledgerRows';

export interface UsageGroup extends UsageGroupView {
  /** Requests the user or client stopped (outcome canceled: Stop in the chat, a gateway client going away): not failures. */
  stopped: number;
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
export type SuggestionGroup = SuggestionGroupView;

export interface SuggestionSummary {
  total: SuggestionGroup;
  byModel: SuggestionGroup[];
}

export interface SummaryRange {
  since?: string;
  until?: string;
}

/** A row of the suggestions table, as the summary reads it. */
export interface SuggestionRow {
  event: string;
  provider: string;
  model: string;
  local: number;
  latency_ms: number;
  chars: number;
  partial: number;
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

/** The rows (of a range, oldest first) summarised. */
export function summarise(rows: readonly Row[], range: SummaryRange): UsageSummary {
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
    if (sortBy === 'key') return out.sort((a, b) => a.key.localeCompare(b.key));
    return out.sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key));
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

/** Suggestion events (oldest first) per model and in all: accept rate and p50 latency. */
export function summariseSuggestions(rows: readonly SuggestionRow[]): SuggestionSummary {
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

const CSV_COLUMNS = [
  'at',
  'task',
  'requested',
  'provider',
  'model',
  'local',
  'outcome',
  'attempts',
  'ttft_ms',
  'duration_ms',
  'input_tokens',
  'output_tokens',
  'tokens_estimated',
  'cost_usd',
] as const;

const EGRESS_CSV_COLUMNS = ['at', 'task', 'provider', 'model', 'host', 'bytes_sent', 'redaction_count', 'redactions', 'files'] as const;

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is neutralised. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Request records as CSV (header line first). */
export function usageCsv(rows: readonly Row[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Egress records as CSV (header line first), in the order given: redaction counts as JSON, files "path:from-to". */
export function egressCsv(records: readonly EgressRecord[]): string {
  const lines = [EGRESS_CSV_COLUMNS.join(',')];
  for (const e of records) {
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
