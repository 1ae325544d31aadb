/**
 * The inline completions status bar item (on / off / snoozed / no model, and the model that serves them; the last
 * failure with its reason and a next step) and its menu: turn on or off, snooze for 5 minutes (or resume), Show
 * Routes, Open Settings.
 */
import * as vscode from 'vscode';
import type { CompletionService, CompletionStatus } from '../../core/complete/service';
import type { Logger } from '../../core/host';
import { statusView, type CompletionFailure } from './statusText';
import { inspectSetting, updateSetting } from '../settings';

export const MENU_COMMAND = 'switchyard.completion.menu';
export const TOGGLE_COMMAND = 'switchyard.toggleInlineCompletions';
export const SNOOZE_COMMAND = 'switchyard.snoozeInlineCompletions';

/** While no model is found, look again after this long, doubling up to the max (a server started later shows up). */
const RECHECK_MS = 5000;
const RECHECK_MAX_MS = 60_000;

export class CompletionStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('switchyard.completion', vscode.StatusBarAlignment.Right, 98);
  private status: CompletionStatus | undefined;
  private failure: CompletionFailure | undefined;
  private recheck: ReturnType<typeof setTimeout> | undefined;
  private recheckMs = RECHECK_MS;
  private readonly subs: { dispose(): void }[] = [];
  private disposed = false;

  constructor(
    private readonly service: CompletionService,
    private readonly log: Logger,
  ) {
    this.item.name = 'Switchyard Inline Completions';
    this.item.command = MENU_COMMAND;
    this.render();
    this.item.show();
    this.subs.push(
      service.onDidChangeStatus((s) => this.set(s)),
      vscode.window.onDidChangeWindowState((w) => {
        if (w.focused) void this.refresh();
      }),
    );
  }

  /** The current status (tests and the menu). */
  get current(): CompletionStatus | undefined {
    return this.status;
  }

  /** Asks the service (probing health) and shows the answer. */
  async refresh(): Promise<void> {
    try {
      this.set(await this.service.status({ probe: true }));
    } catch (e) {
      this.log.warn(`completion status: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The last request failed (and none has answered since). */
  get hasFailure(): boolean {
    return this.failure !== undefined;
  }

  failed(failure: CompletionFailure): void {
    this.failure = failure;
    this.render();
  }

  answered(): void {
    if (!this.failure) return;
    this.failure = undefined;
    this.render();
  }

  private set(status: CompletionStatus): void {
    this.status = status;
    if (status.state !== 'enabled') this.failure = undefined;
    clearTimeout(this.recheck);
    this.recheck = undefined;
    if (status.state === 'noModel') {
      this.recheck = setTimeout(() => void this.refresh(), this.recheckMs);
      this.recheckMs = Math.min(RECHECK_MAX_MS, this.recheckMs * 2);
    } else this.recheckMs = RECHECK_MS;
    this.render();
  }

  private render(): void {
    if (this.disposed) return;
    const view = statusView(this.status, this.failure);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip.join('\n\n');
    this.item.backgroundColor = view.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.recheck);
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}

/** Sets switchyard.completion.enabled where it is set now (folder, workspace), else in the user settings. */
export async function setEnabled(enabled: boolean): Promise<void> {
  const i = inspectSetting('switchyard.completion.enabled');
  const target =
    i?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : i?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await updateSetting('switchyard.completion.enabled', enabled, target);
}

/** The item's menu. */
export async function showMenu(service: CompletionService, status: CompletionStatus | undefined, failure: boolean): Promise<void> {
  type Item = vscode.QuickPickItem & { run: () => unknown };
  const on = status?.state !== 'disabled';
  const items: Item[] = [
    on
      ? { label: '$(circle-slash) Disable Inline Completions', run: () => setEnabled(false) }
      : { label: '$(check) Enable Inline Completions', run: () => setEnabled(true) },
  ];
  if (status?.state === 'snoozed') items.push({ label: '$(play) Resume Inline Completions', run: () => service.resume() });
  else if (on) items.push({ label: '$(clock) Snooze for 5 Minutes', run: () => service.snooze() });
  items.push(
    {
      label: '$(type-hierarchy) Show Routes',
      description: 'which model serves each task',
      run: () => vscode.commands.executeCommand('switchyard.showRoutes'),
    },
    {
      label: '$(gear) Open Settings',
      description: 'switchyard.completion',
      run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'switchyard.completion'),
    },
  );
  if (failure) items.push({ label: '$(output) Show Logs', run: () => vscode.commands.executeCommand('switchyard.showLogs') });
  const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Inline Completions' });
  await pick?.run();
}
