/**
 * The usage ledger's records as table rows and back: what is written for a UsageRecord, an EgressRecord (cleaned:
 * counts and file ranges, never text) and a SuggestionRecord, and how a row read is made a record again.
 */
import type { EgressRecord, EgressSource, SuggestionRecord, UsageRecord } from './ledger';

/** A row of the usage table. */
export type Row = {
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
};

/** A row of the egress table. */
export type EgressRow = {
  at: string;
  day: string;
  task: string;
  provider: string;
  model: string;
  host: string;
  bytes_sent: number;
  redactions: string;
  sources: string;
};

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
    const path = src.path.slice(0, 1024);
    const startLine = line(src.startLine);
    if (startLine === undefined) {
      out.push({ path });
      continue;
    }
    const endLine = line(src.endLine);
    out.push({ path, startLine, endLine: endLine !== undefined && endLine >= startLine ? endLine : startLine });
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

export function usageRow(r: UsageRecord): Row {
  return {
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
  };
}

export function toUsage(r: Row): UsageRecord {
  return {
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
  };
}

/** What the ledger keeps of a request that left the machine: counts of redactions by kind and file ranges. */
export function keptEgress(r: EgressRecord): EgressRecord {
  const { at, task, providerId, model, host } = r;
  const bytesSent = Number.isFinite(r.bytesSent) && r.bytesSent > 0 ? Math.round(r.bytesSent) : 0;
  return { at, task, providerId, model, host, bytesSent, redactions: redactionCounts(r.redactions), sources: cleanSources(r.sources) };
}

export function egressRow(kept: EgressRecord): EgressRow {
  return {
    at: kept.at,
    day: kept.at.slice(0, 10),
    task: kept.task,
    provider: kept.providerId,
    model: kept.model,
    host: kept.host,
    bytes_sent: kept.bytesSent,
    redactions: JSON.stringify(kept.redactions),
    sources: JSON.stringify(kept.sources),
  };
}

export function toEgress(r: EgressRow): EgressRecord {
  return {
    at: r.at,
    task: r.task,
    providerId: r.provider,
    model: r.model,
    host: r.host,
    bytesSent: r.bytes_sent,
    redactions: parseJson(r.redactions, {}),
    sources: parseJson(r.sources, []),
  };
}

/** An inline suggestion shown or accepted: who served it, latency and size, never the text. */
export function suggestionRow(r: SuggestionRecord): Record<string, unknown> {
  const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
  return {
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
  };
}
