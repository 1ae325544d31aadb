/**
 * Usage accounting in VS Code: every routed request (the in-memory ledger pipes them) is persisted in a SQLite ledger
 * in the extension's global storage, opened on the first record or the first "Show Usage"; settings changes go to its
 * audit list (what changed and when, never a key value). "Switchyard: Show Usage" renders the summaries in a webview
 * on the shared CSP page of ../webview (charts drawn by webview-ui/usage.main.ts), with an Egress view of the requests that left the
 * machine (filter by day and provider), and exports CSV through a save dialog: the request records in the file chosen,
 * the egress records next to it ("<name>-egress.csv").
 */
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SETTING_KEYS } from '../../core/config/schema';
import { formatEgressSource, formatRedactions } from '../../core/usage/ledger';
import { SqliteLedger, apiKeyChange, settingsChanges, type AuditEntry } from '../../core/usage/sqliteLedger';
import type { EgressView, UsageDataView, UsageNotifications, UsageRequests } from '../../protocol/usage';
import type { Services } from '../services';
import { WebviewHost } from '../webview/host';
import { webviewHtml, webviewOptions } from '../webview/html';
import { USAGE_SHAPES } from '../webview/validate';

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
interface EgressFilter {
  day: string;
  provider: string;
}

/** Rows the Egress view gets at most (newest first); it says how many more there are. */
const EGRESS_VIEW_ROWS = 500;

/** The egress records of the period, filtered, with the text the view shows (one formatter: core's). */
function egressView(ledger: SqliteLedger, since: string, filter: EgressFilter): EgressView {
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
    return {
      rangeDays: days,
      dbPath: ledger.path,
      total: s.total,
      byTask: s.byTask,
      byProvider: s.byProvider,
      byModel: s.byModel,
      byDay: s.byDay,
      failuresByKind: s.failuresByKind,
      audit: ledger.auditList(50),
      egress: egressView(ledger, since, filter),
      completions: ledger.suggestionSummary({ since }),
    };
  } catch (e) {
    const empty = { key: 'all', requests: 0, ok: 0, failed: 0, local: 0, cloud: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    return {
      rangeDays: days,
      dbPath: ledger.path,
      total: empty,
      byTask: [],
      byProvider: [],
      byModel: [],
      byDay: [],
      failuresByKind: [],
      audit: [],
      error: e instanceof Error ? e.message : String(e),
    };
  }
}

class UsagePanel {
  private panel: vscode.WebviewPanel | undefined;
  private host: WebviewHost<UsageRequests, UsageNotifications, keyof UsageRequests> | undefined;
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
    const extensionUri = this.services.context.extensionUri;
    const panel = vscode.window.createWebviewPanel(
      'switchyard.usage',
      'Switchyard Usage',
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    this.panel = panel;
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'usage', 'Switchyard Usage');
    const host = this.listen(panel.webview);
    this.host = host;
    const onRecord = this.ledger.onRecord(() => this.schedulePost());
    const onEgress = this.ledger.onEgress(() => this.schedulePost());
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.host = undefined;
      onRecord.dispose();
      onEgress.dispose();
      host.dispose();
    });
  }

  /** The view's protocol: one handler per request of UsageRequests (src/protocol/usage.ts). */
  private listen(webview: vscode.Webview): WebviewHost<UsageRequests, UsageNotifications, keyof UsageRequests> {
    return new WebviewHost<UsageRequests, UsageNotifications>(webview, {
      shapes: USAGE_SHAPES,
      label: 'usage view',
      log: this.services.log,
      onReady: () => this.post(),
    })
      .on('usage/range', (p) => {
        this.days = p.days;
        this.post();
        return null;
      })
      .on('usage/egressFilter', (p) => {
        this.egressFilter = { day: p.day, provider: p.provider };
        this.post();
        return null;
      })
      .on('usage/exportCsv', async () => {
        const file = await exportCsv(this.ledger, this.days);
        return file ? { path: file, egressPath: egressCsvPath(file) } : null;
      })
      .listen();
  }

  private pending: ReturnType<typeof setTimeout> | undefined;
  private schedulePost(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.post(), 500);
  }

  post(): void {
    this.host?.notify('usage/data', usageData(this.ledger, this.days, this.egressFilter));
  }
}

/** Where the egress records' CSV goes: next to the request records' file, "usage.csv" → "usage-egress.csv". */
function egressCsvPath(file: string): string {
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
      defaultUri: vscode.Uri.file(
        path.join(
          vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir(),
          `switchyard-usage-${new Date().toISOString().slice(0, 10)}.csv`,
        ),
      ),
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
    void vscode.window.showInformationMessage(
      `Switchyard: usage exported to ${uri.fsPath} (requests that left the machine: ${egressFile})`,
    );
    return uri.fsPath;
  } catch (e) {
    void vscode.window.showErrorMessage(`Switchyard: could not write ${writing}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export function usageFeature(services: Services): vscode.Disposable[] {
  // Nothing opens here: SqliteLedger loads better-sqlite3 on its first record or read.
  const ledger = new SqliteLedger({
    path: path.join(services.context.globalStorageUri.fsPath, 'usage.sqlite'),
    logger: services.log,
    retentionDays: services.switchyard.config.usage.retentionDays,
  });
  const panel = new UsagePanel(services, ledger);
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
