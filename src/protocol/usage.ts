/**
 * Messages between the host and the "Switchyard: Show Usage" webview (webview-ui/usage.main.ts). Types only.
 * The webview posts `ready`; the host answers with `usage/data` (and again after each new record); the webview asks
 * for `usage/exportCsv` (the host shows a save dialog and writes the file) or `usage/range`.
 */
export interface UsageGroupView {
  key: string;
  requests: number;
  ok: number;
  failed: number;
  local: number;
  cloud: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  ttftP50Ms?: number;
  ttftP95Ms?: number;
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
  /** Set when the ledger cannot be read: what went wrong and what to do. */
  error?: string;
}

export type UsageToWebview = { type: 'usage/data'; data: UsageDataView } | { type: 'usage/exported'; path: string } | { type: 'usage/error'; message: string };

export type UsageFromWebview = { type: 'ready' } | { type: 'usage/exportCsv' } | { type: 'usage/range'; days: number };
