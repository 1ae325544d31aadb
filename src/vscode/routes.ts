/**
 * Shows the router's state: the status bar item with the chat task's route, and "Show Routes" with every task's
 * resolved candidate and why the others are skipped.
 */
import * as vscode from 'vscode';
import { TASKS } from '../core/config/config';
import { candidateName, describePlan, describeSkip } from '../core/describe';
import type { Router, RoutePlan } from '../core/routing/router';
import type { Logger } from '../core/host';

/** While no model is found, the status bar looks again after this long, doubling up to NO_MODEL_RECHECK_MAX_MS. */
const NO_MODEL_RECHECK_MS = 5000;
const NO_MODEL_RECHECK_MAX_MS = 60_000;

export class RouteStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private generation = 0;
  private recheck: ReturnType<typeof setTimeout> | undefined;
  private recheckMs = NO_MODEL_RECHECK_MS;
  private readonly focus: vscode.Disposable;
  private readonly health: { dispose(): void };
  private soon: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly router: () => Router) {
    this.item = vscode.window.createStatusBarItem('switchyard.route', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Switchyard Route';
    this.item.command = 'switchyard.selectModel';
    this.item.text = '$(loading~spin) Switchyard';
    this.item.tooltip = 'Switchyard: finding models…';
    this.item.show();
    // Coming back to the window (after starting a server, say) looks again at once.
    this.focus = vscode.window.onDidChangeWindowState((s) => {
      if (s.focused) void this.refresh();
    });
    // A provider's health turned (a chat or embedding request failed on it, a probe found it again): show the route
    // as it is now. Deferred and coalesced: the change is reported from inside routing.
    this.health = router().health.onChange(() => {
      clearTimeout(this.soon);
      this.soon = setTimeout(() => void this.refresh(), 50);
    });
  }

  /** While nothing is found, look again with back-off: a server started later shows up without a reload. */
  private scheduleRecheck(found: boolean): void {
    clearTimeout(this.recheck);
    this.recheck = undefined;
    if (found) {
      this.recheckMs = NO_MODEL_RECHECK_MS;
      return;
    }
    this.recheck = setTimeout(() => void this.refresh(), this.recheckMs);
    this.recheckMs = Math.min(NO_MODEL_RECHECK_MAX_MS, this.recheckMs * 2);
  }

  /** Re-plans the chat route (probing health) and shows it. Later calls supersede earlier ones. */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    let plan: RoutePlan;
    try {
      plan = await this.router().plan('chat', { probe: true });
    } catch (e) {
      if (generation !== this.generation) return;
      this.item.text = '$(error) Switchyard';
      this.item.tooltip = `Switchyard: ${e instanceof Error ? e.message : String(e)}`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    if (generation !== this.generation) return;
    const c = plan.candidate;
    this.scheduleRecheck(c !== null);
    if (!c) {
      this.item.text = '$(circle-slash) Switchyard: no model';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      this.item.text = `${c.local ? '$(vm)' : '$(cloud)'} ${c.model}`;
      this.item.backgroundColor = undefined;
    }
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**Switchyard** chat route: ${describePlan(plan)}\n\n`);
    for (const s of plan.skipped) md.appendText(`skipped ${describeSkip(s)}\n`);
    md.appendMarkdown('\n\nClick to choose the model for a task.');
    this.item.tooltip = md;
  }

  dispose(): void {
    clearTimeout(this.recheck);
    clearTimeout(this.soon);
    this.health.dispose();
    this.focus.dispose();
    this.item.dispose();
  }
}

export async function showRoutes(router: Router, log: Logger): Promise<void> {
  const plans = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Switchyard: checking providers' },
    () => Promise.all(TASKS.map((t) => router.plan(t, { probe: true }))),
  );
  const items: vscode.QuickPickItem[] = plans.map((plan) => {
    log.info(
      `route ${plan.task}: ${describePlan(plan)}${plan.skipped.length ? `; skipped ${plan.skipped.map(describeSkip).join('; ')}` : ''}`,
    );
    return {
      label: `${plan.candidate ? (plan.candidate.local ? '$(vm)' : '$(cloud)') : '$(circle-slash)'} ${plan.task}`,
      description: describePlan(plan),
      detail: plan.skipped.length ? `skipped: ${plan.skipped.map((s) => `${candidateName(s)} (${s.reason})`).join('; ')}` : undefined,
    };
  });
  const pick = vscode.window.createQuickPick();
  pick.title = 'Switchyard: routes per task';
  pick.placeholder = 'Each task goes to the first healthy candidate the privacy policy allows';
  pick.items = items;
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.onDidHide(() => pick.dispose());
  pick.onDidAccept(() => {
    pick.hide();
    void vscode.commands.executeCommand('workbench.action.openSettings', 'switchyard.tasks');
  });
  pick.show();
}
