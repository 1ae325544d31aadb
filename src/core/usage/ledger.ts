/**
 * Usage records: one per routed request, whatever its outcome. The router writes them to a `UsageSink`; hosts
 * keep them (in memory here; the persistent SQLite ledger builds on the same record).
 */
import type { ErrorKind } from '../errors';
import { describeCandidate } from '../describe';
import type { EgressRequestView } from '../../protocol/usage';

export interface UsageRecord {
  /** ISO time the request started. */
  at: string;
  task: string;
  /** What the caller asked for: a task name or a virtual model name such as "switchyard/chat". */
  requested: string;
  /** Who answered, or the last candidate tried when none did. Empty when no candidate was tried. */
  providerId: string;
  model: string;
  local: boolean;
  outcome: 'ok' | ErrorKind;
  /** Candidates tried (failed ones plus the one that answered). */
  attempts: number;
  ttftMs?: number;
  durationMs: number;
  inputTokens?: number;
  outputTokens?: number;
  /** True when token counts are estimates because the server did not report usage. */
  tokensEstimated?: boolean;
  /** Estimated cost in US dollars from the catalog's prices; 0 for local models, undefined when unknown. */
  costUsd?: number;
}

/** A part of the workspace whose text a request carried (an attached selection or file, an @workspace citation). */
export interface EgressSource {
  /** Workspace-relative path (or the file's name when it is outside the workspace). */
  path: string;
  /** 1-based, inclusive; absent when the whole file was carried. */
  startLine?: number;
  endLine?: number;
}

/**
 * One request that left the machine: sent to a cloud candidate (whatever its outcome). Never holds the text sent or
 * a secret's value; redactions are counted by kind.
 */
export interface EgressRecord extends EgressRequestView {
  /** Secrets replaced before sending, by kind ("aws-secret-access-key": 1). Empty when none. */
  redactions: Record<string, number>;
  sources: EgressSource[];
}

/**
 * One inline suggestion the editor showed, or the part of one the user accepted (issue 15): who served it, how long it
 * took, how big it was. Never the code.
 */
export interface SuggestionRecord {
  /** ISO time of the event. */
  at: string;
  event: 'shown' | 'accepted';
  providerId: string;
  model: string;
  local: boolean;
  /** `model`: a new request; `cache` / `typedAhead`: answered from the cache. */
  source: 'cache' | 'typedAhead' | 'model';
  /** From the editor's request to the suggestion (debounce included). */
  latencyMs: number;
  /** Size of what was shown, or accepted (a partial accept: the accepted part). */
  chars: number;
  lines: number;
  /** Accepted in part (word by word, line by line). */
  partial?: boolean;
}

export interface UsageSink {
  record(record: UsageRecord): void;
  /** A request went to a cloud candidate. Sinks that keep no egress list may leave it out. */
  egress?(record: EgressRecord): void;
  /** An inline suggestion was shown or accepted. Sinks that keep no suggestion list may leave it out. */
  suggestion?(record: SuggestionRecord): void;
}

/**
 * Keeps the most recent records (and egress records) in memory, and hands each to the sinks piped to it (e.g. the
 * SQLite ledger).
 */
export class MemoryLedger implements UsageSink {
  private readonly items: UsageRecord[] = [];
  private readonly egressItems: EgressRecord[] = [];
  private readonly suggestionItems: SuggestionRecord[] = [];
  private readonly sinks = new Set<UsageSink>();
  constructor(private readonly limit = 1000) {}

  record(record: UsageRecord): void {
    keep(this.items, record, this.limit);
    this.forward((sink) => sink.record(record));
  }

  egress(record: EgressRecord): void {
    keep(this.egressItems, record, this.limit);
    this.forward((sink) => sink.egress?.(record));
  }

  suggestion(record: SuggestionRecord): void {
    keep(this.suggestionItems, record, this.limit);
    this.forward((sink) => sink.suggestion?.(record));
  }

  private forward(send: (sink: UsageSink) => void): void {
    let failure: unknown;
    for (const sink of this.sinks) {
      try {
        send(sink);
      } catch (e) {
        failure ??= e;
      }
    }
    // The router logs a sink's failure; the in-memory copy is kept either way.
    if (failure !== undefined) throw failure;
  }

  /** Also sends every later record to `sink`, until disposed. */
  pipe(sink: UsageSink): { dispose(): void } {
    this.sinks.add(sink);
    return { dispose: () => this.sinks.delete(sink) };
  }

  get records(): readonly UsageRecord[] {
    return this.items;
  }

  /** The most recent requests that left the machine, oldest first. */
  get egressRecords(): readonly EgressRecord[] {
    return this.egressItems;
  }

  /** The most recent suggestions shown and accepted, oldest first. */
  get suggestionRecords(): readonly SuggestionRecord[] {
    return this.suggestionItems;
  }
}

function keep<T>(items: T[], item: T, limit: number): void {
  items.push(item);
  if (items.length > limit) items.splice(0, items.length - limit);
}

/** One line for logs and the CLI's stderr. */
export function formatUsage(r: UsageRecord): string {
  const who = r.providerId ? describeCandidate(r) : 'no model';
  const tokens =
    r.inputTokens !== undefined || r.outputTokens !== undefined
      ? ` tokens in ${r.inputTokens ?? '?'} out ${r.outputTokens ?? '?'}${r.tokensEstimated ? ' (estimated)' : ''}`
      : '';
  const ttft = r.ttftMs !== undefined ? ` first token ${r.ttftMs.toFixed(0)} ms` : '';
  const cost = r.costUsd !== undefined && r.costUsd > 0 ? ` cost ~$${r.costUsd.toFixed(6)}` : '';
  return `usage: ${r.task} ${r.outcome} via ${who}${ttft} total ${r.durationMs.toFixed(0)} ms${tokens}${cost}`;
}

/** "src/a.ts:10-24", "src/a.ts:7" (one line) or "src/a.ts" (the whole file): how egress lists a file it carried. */
export function formatEgressSource(s: EgressSource): string {
  if (s.startLine === undefined) return s.path;
  return s.endLine !== undefined && s.endLine !== s.startLine ? `${s.path}:${s.startLine}-${s.endLine}` : `${s.path}:${s.startLine}`;
}

/** "2 redacted: aws-secret-access-key ×1, openai-api-key ×1", or "none": counts by kind, never a value. */
export function formatRedactions(redactions: Readonly<Record<string, number>>): string {
  const total = Object.values(redactions).reduce((sum, n) => sum + (n > 0 ? n : 0), 0);
  return total === 0 ? 'none' : `${total} redacted: ${redactionKinds(redactions)}`;
}

/** "aws-secret-access-key ×1, openai-api-key ×2": the kinds found, by name. */
export function redactionKinds(redactions: Readonly<Record<string, number>>): string {
  return Object.entries(redactions)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
}
