/**
 * Messages between the host and the "Switchyard: Show Usage" webview (webview-ui/usage.main.ts), in the envelope of
 * envelope.ts. Types only. The webview posts `ready`; the host answers with `usage/data` (and again after each new
 * record); the webview asks for `usage/exportCsv` (the host shows a save dialog and writes the file plus its egress
 * companion), `usage/range` (the period, which also bounds the egress list) or `usage/egressFilter` (one day of the
 * period, one provider).
 */
export interface UsageGroupView {
  key: string;
  requests: number;
  ok: number;
  /** Requests that failed (every outcome but ok and canceled). */
  failed: number;
  /** Stopped by the user or client (outcome canceled): not counted in `failed`. Absent from an older host. */
  stopped?: number;
  local: number;
  cloud: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  ttftP50Ms?: number;
  ttftP95Ms?: number;
}

/** Who a request that left the machine went to and how much it carried: what an egress record and its view share. */
export interface EgressRequestView {
  /** ISO time the request was sent. */
  at: string;
  task: string;
  providerId: string;
  model: string;
  /** The host the request went to (the provider's base URL host, or "ollama.com" for an Ollama cloud model). */
  host: string;
  /** Bytes of prompt text sent (UTF-8, after redaction). */
  bytesSent: number;
}

/** One request that left the machine, as the Egress view lists it (text formatted by the host). */
export interface EgressRowView extends EgressRequestView {
  redactionCount: number;
  /** "2 redacted: aws-secret-access-key ×1, openai-api-key ×1", or "none". */
  redactions: string;
  /** The workspace files it carried: "src/a.ts:10-24", "README.md" (whole file). */
  files: string[];
}

export interface EgressView {
  /** The filters applied: a UTC day "YYYY-MM-DD" of the period and a provider id; "" for all. */
  day: string;
  provider: string;
  /** What the filters offer: days (newest first) and providers with egress in the period. */
  days: { day: string; count: number }[];
  providers: { provider: string; count: number }[];
  /** Newest first; at most a few hundred. */
  rows: EgressRowView[];
  /** Records matching the filters (more than rows.length when only the newest are sent). */
  total: number;
}

/** Inline suggestions of one model ("providerId/model", or "all"): shown, accepted, accept rate, p50 latency. */
export interface SuggestionGroupView {
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

export interface UsageDataView {
  rangeDays: number;
  dbPath: string;
  total: UsageGroupView;
  byTask: UsageGroupView[];
  byProvider: UsageGroupView[];
  byModel: UsageGroupView[];
  byDay: UsageGroupView[];
  failuresByKind: { kind: string; count: number }[];
  audit: { at: string; key: string; change: string }[];
  /** Inline completions (the complete task) in the period, per model (absent from a host that keeps none). */
  completions?: { total: SuggestionGroupView; byModel: SuggestionGroupView[] };
  /** Requests that left the machine in the period (absent from a host that keeps none). */
  egress?: EgressView;
  /** Set when the ledger cannot be read: what went wrong and what to do. */
  error?: string;
}

/** Webview → host requests: name → [payload, reply payload]. */
export interface UsageRequests {
  /** The period (also bounds the egress list); the host answers with new `usage/data`. */
  'usage/range': [{ days: number }, null];
  /** One UTC day of the period ("" for all) and one provider ("" for all). */
  'usage/egressFilter': [{ day: string; provider: string }, null];
  /** Save dialog, then the CSV and its egress companion; null when the user canceled or the file could not be written. */
  'usage/exportCsv': [Record<string, never>, { path: string; egressPath: string } | null];
}

export interface UsageNotifications {
  'usage/data': UsageDataView;
}

export type UsageRequestName = keyof UsageRequests;
