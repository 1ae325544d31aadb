/**
 * Usage accounting in VS Code: every routed request (the in-memory ledger pipes them) is persisted in a SQLite ledger
 * in the extension's global storage, opened on the first record or the first "Show Usage"; settings changes go to its
 * audit list (what changed and when, never a key value). "Switchyard: Show Usage" renders the summaries in a webview
 * with a strict CSP (charts drawn by webview-ui/usage.main.ts), with an Egress view of the requests that left the
 * machine (filter by day and provider), and exports CSV through a save dialog: the request records in the file chosen,
 * the egress records next to it ("<name>-egress.csv").
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SETTING_KEYS } from '../../core/config/schema';
import { formatEgressSource, formatRedactions } from '../../core/usage/ledger';
import { SqliteLedger, apiKeyChange, settingsChanges, type AuditEntry } from '../../core/usage/sqliteLedger';
import type { EgressView, UsageDataView, UsageFromWebview, UsageToWebview } from '../../protocol/usage';
import type { Services } from '../services';

/** The `switchyard.*` values as set (user, workspace, folder), for the audit list. */
function snapshot(): Record<string, unknown> {
  const cfg = vscode.workspace.getConfiguration('switchyard');
  const out: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const i = cfg.inspect(key.slice('switchyard.'.length));
    const v = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (v !== undefined) out[key] = JSON.parse(JSON.stringify(v));
  }
  return out;
}

/** The Egress view's filters: one UTC day of the period and one provider; "" for all. */
export interface EgressFilter {
  day: string;
  provider: string;
}

/** Rows the Egress view gets at most (newest first); it says how many more there are. */
export const EGRESS_VIEW_ROWS = 500;

/** The egress records of the period, filtered, with the text the view shows (one formatter: core's). */
export function egressView(ledger: SqliteLedger, since: string, filter: EgressFilter): EgressView {
  const page = ledger.egressPage({ since }, filter, EGRESS_VIEW_ROWS);
  const rows = page.records.map((e) => ({
    at: e.at,
    task: e.task,
    providerId: e.providerId,
    model: e.model,
    host: e.host,
    bytesSent: e.bytesSent,
    redactionCount: Object.values(e.redactions).reduce((a, b) => a + b, 0),
    redactions: formatRedactions(e.redactions),
    files: e.sources.map(formatEgressSource),
  }));
  return { day: page.day, provider: page.provider, days: page.days, providers: page.providers, rows, total: page.total };
}

export function usageData(ledger: SqliteLedger, days: number, filter: EgressFilter = { day: '', provider: '' }): UsageDataView {
  const since = new Date(Date.now() - days * 86_400_000).toISOString();
  try {
    const s = ledger.summary({ since });
    return { rangeDays: days, dbPath: ledger.path, total: s.total, byTask: s.byTask, byProvider: s.byProvider, byModel: s.byModel, byDay: s.byDay, failuresByKind: s.failuresByKind, audit: ledger.auditList(50), egress: egressView(ledger, since, filter), completions: ledger.suggestionSummary({ since }) };
  } catch (e) {
    const empty = { key: 'all', requests: 0, ok: 0, failed: 0, local: 0, cloud: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    return { rangeDays: days, dbPath: ledger.path, total: empty, byTask: [], byProvider: [], byModel: [], byDay: [], failuresByKind: [], audit: [], error: e instanceof Error ? e.message : String(e) };
  }
}

function html(webview: vscode.Webview, script: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [`default-src 'none'`, `img-src ${webview.cspSource} data:`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Switchyard Usage</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px 24px; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 6px 0; } th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid var(--vscode-widget-border, #8884); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar-local { fill: var(--vscode-charts-green, #3a3); } .bar-cloud { fill: var(--vscode-charts-blue, #36c); } .bar-cost { fill: var(--vscode-charts-orange, #c83); }
.axis { fill: var(--vscode-descriptionForeground); font-size: 10px; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
.legend .l { background: var(--vscode-charts-green, #3a3); } .legend .c { background: var(--vscode-charts-blue, #36c); }
svg.chart { max-width: 100%; height: auto; }
.muted { color: var(--vscode-descriptionForeground); } .error { color: var(--vscode-errorForeground); }
.tabs { margin: 10px 0 4px; } .tabs button { background: transparent; color: var(--vscode-foreground); border-bottom: 2px solid transparent; }
.tabs button[aria-selected="true"] { border-bottom-color: var(--vscode-focusBorder); }
ul.files { margin: 0; padding-left: 1.1em; } td.redactions { min-width: 8em; } td.files { min-width: 10em; overflow-wrap: anywhere; } #egress { overflow-x: auto; } td.model, td.host { overflow-wrap: break-word; }
tr.egress-row td { vertical-align: top; } tr.egress-row td.time, tr.egress-row td.bytes { white-space: nowrap; } #egress-table { width: 100%; }
.filters label { margin-right: 12px; }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 12px; cursor: pointer; }
select { color: var(--vscode-dropdown-foreground); background: var(--vscode-dropdown-background); border: 1px solid var(--vscode-dropdown-border); }
</style></head>
<body><div id="root" data-view="usage"><p class="muted">Loading usage…</p></div>
<script nonce="${nonce}" src="${webview.asWebviewUri(script)}"></script>
</body></html>`;
}

export class UsagePanel {
  private panel: vscode.WebviewPanel | undefined;
  private days = 30;
  private egressFilter: EgressFilter = { day: '', provider: '' };

  constructor(
    private readonly services: Services,
    private readonly ledger: SqliteLedger,
  ) {}

  get current(): vscode.WebviewPanel | undefined {
    return this.panel;
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      this.post();
      return;
    }
    const root = vscode.Uri.joinPath(this.services.context.extensionUri, 'dist', 'webview');
    const panel = vscode.window.createWebviewPanel('switchyard.usage', 'Switchyard Usage', vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: [root] });
    this.panel = panel;
    panel.webview.html = html(panel.webview, vscode.Uri.joinPath(root, 'usage.main.js'));
    const subs: vscode.Disposable[] = [];
    panel.webview.onDidReceiveMessage((m: UsageFromWebview) => this.onMessage(m), undefined, subs);
    const onRecord = this.ledger.onRecord(() => this.schedulePost());
    const onEgress = this.ledger.onEgress(() => this.schedulePost());
    panel.onDidDispose(() => {
      this.panel = undefined;
      onRecord.dispose();
      onEgress.dispose();
      subs.forEach((d) => d.dispose());
    });
  }

  private pending: ReturnType<typeof setTimeout> | undefined;
  private schedulePost(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.post(), 500);
  }

  private send(m: UsageToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  post(): void {
    if (this.panel) this.send({ type: 'usage/data', data: usageData(this.ledger, this.days, this.egressFilter) });
  }

  private async onMessage(m: UsageFromWebview): Promise<void> {
    // Only known messages with valid fields are acted on.
    if (!m || typeof m !== 'object') return;
    if (m.type === 'ready') this.post();
    else if (m.type === 'usage/range' && Number.isInteger(m.days) && m.days > 0 && m.days <= 3650) {
      this.days = m.days;
      this.post();
    } else if (m.type === 'usage/egressFilter' && typeof m.day === 'string' && /^(\d{4}-\d{2}-\d{2})?$/.test(m.day) && typeof m.provider === 'string' && m.provider.length <= 200) {
      this.egressFilter = { day: m.day, provider: m.provider };
      this.post();
    } else if (m.type === 'usage/exportCsv') {
      const file = await exportCsv(this.ledger, this.days);
      if (file) this.send({ type: 'usage/exported', path: file, egressPath: egressCsvPath(file) });
    }
  }
}

/** Where the egress records' CSV goes: next to the request records' file, "usage.csv" → "usage-egress.csv". */
export function egressCsvPath(file: string): string {
  return /\.csv$/i.test(file) ? file.replace(/\.csv$/i, '-egress.csv') : `${file}-egress.csv`;
}

/**
 * Asks where to save, then writes the CSV of the last `days` days (and the egress records' CSV next to it); returns
 * the path of the request records' file.
 */
export async function exportCsv(ledger: SqliteLedger, days: number, target?: vscode.Uri): Promise<string | undefined> {
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export Switchyard usage as CSV',
      defaultUri: vscode.Uri.file(path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir(), `switchyard-usage-${new Date().toISOString().slice(0, 10)}.csv`)),
      filters: { CSV: ['csv'] },
    }));
  if (!uri) return undefined;
  let writing = uri.fsPath;
  try {
    const since = new Date(Date.now() - days * 86_400_000).toISOString();
    const egressFile = egressCsvPath(uri.fsPath);
    await writeFile(uri.fsPath, ledger.csv({ since }), 'utf8');
    writing = egressFile;
    await writeFile(egressFile, ledger.egressCsv({ since }), 'utf8');
    void vscode.window.showInformationMessage(`Switchyard: usage exported to ${uri.fsPath} (requests that left the machine: ${egressFile})`);
    return uri.fsPath;
  } catch (e) {
    void vscode.window.showErrorMessage(`Switchyard: could not write ${writing}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** What the usage feature exposes to tests and other features. */
export interface UsageFeature {
  ledger: SqliteLedger;
  panel: UsagePanel;
}

export const usageFeatureState: { current?: UsageFeature } = {};

export function usageFeature(services: Services): vscode.Disposable[] {
  // Nothing opens here: SqliteLedger loads better-sqlite3 on its first record or read.
  const ledger = new SqliteLedger({
    path: path.join(services.context.globalStorageUri.fsPath, 'usage.sqlite'),
    logger: services.log,
    retentionDays: services.switchyard.config.usage.retentionDays,
  });
  const panel = new UsagePanel(services, ledger);
  usageFeatureState.current = { ledger, panel };
  services.usageLedger.current = ledger;
  const pipe = services.usage.pipe(ledger);
  let before = snapshot();
  const record = (changes: AuditEntry[]) => {
    try {
      ledger.audit(changes);
      if (changes.length) services.log.info(`usage audit: ${changes.map((c) => c.key).join(', ')} changed`);
    } catch (err) {
      services.log.warn(`usage audit: ${err instanceof Error ? err.message : String(err)}`);
    }
    panel.post();
  };
  return [
    { dispose: () => pipe.dispose() },
    {
      dispose: () => {
        services.usageLedger.current = undefined;
        ledger.close();
      },
    },
    vscode.commands.registerCommand('switchyard.showUsage', () => panel.show()),
    vscode.commands.registerCommand('switchyard.exportUsageCsv', (target?: vscode.Uri) => exportCsv(ledger, 3650, target)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('switchyard')) return;
      const after = snapshot();
      const changes = settingsChanges(before, after);
      before = after;
      if (e.affectsConfiguration('switchyard.usage.retentionDays')) {
        try {
          ledger.setRetention(services.switchyard.config.usage.retentionDays);
        } catch (err) {
          services.log.warn(`usage ledger: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      record(changes);
    }),
    services.secrets.onDidChangeKey((e) => record([apiKeyChange(e.providerId, e.change)])),
  ];
}
