/**
 * "Switchyard: Select Model for Task": pick a task (each shown with its route now), then a model from discovery plus
 * the catalog (embedding models only for `embed`). The choice becomes the task's first candidate in settings.json;
 * the rest of the list stays as fallbacks. The status bar's route item opens this.
 */
import * as vscode from 'vscode';
import { TASKS, type TaskName } from '../../core/config/config';
import type { Services } from '../services';
import { readSettings } from '../settings';
import { modelOptions, toView, writeTask } from '../settingsPanel/model';

function formatPrice(p?: { input: number; output: number }): string {
  return p ? `$${p.input}/$${p.output} per 1M` : '';
}

export async function selectModelForTask(services: Services, given?: string): Promise<void> {
  const router = services.switchyard.router;
  let task = TASKS.find((t) => t === given);
  if (!task) {
    const plans = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Switchyard: checking routes' }, () =>
      Promise.all(TASKS.map((t) => router.plan(t).catch(() => undefined))),
    );
    const items: (vscode.QuickPickItem & { task?: TaskName; routes?: boolean })[] = TASKS.map((t, i) => {
      const c = plans[i]?.candidate;
      return {
        label: `${c ? (c.local ? '$(vm)' : '$(cloud)') : '$(circle-slash)'} ${t}`,
        description: c ? `${c.providerId}/${c.model}` : 'no model available',
        task: t,
      };
    });
    items.push(
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      { label: '$(type-hierarchy) Show Routes…', description: 'why each task goes where it goes', routes: true },
    );
    const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Select Model for Task', placeHolder: 'Which task?' });
    if (!pick) return;
    if (pick.routes) {
      await vscode.commands.executeCommand('switchyard.showRoutes');
      return;
    }
    task = pick.task!;
  }
  const current = readSettings().config.tasks[task].map(toView);
  const options = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Switchyard: listing models' }, () =>
    modelOptions(services.switchyard),
  );
  const fitting = options.filter((o) => (task === 'embed' ? o.embeddings : o.chat));
  type Item = vscode.QuickPickItem & { ref?: string };
  const items: Item[] = fitting.map((o) => ({
    label: `${o.local ? '$(vm)' : '$(cloud)'} ${o.ref}`,
    description: [
      current[0]?.model === o.ref ? '(current)' : '',
      o.contextLength ? `${Math.round(o.contextLength / 1024)}k ctx` : '',
      formatPrice(o.price),
      o.catalogOnly ? 'catalog' : '',
    ]
      .filter(Boolean)
      .join(' · '),
    ref: o.ref,
  }));
  items.push({ label: '$(sparkle) auto', description: 'whatever local servers have', ref: 'auto' });
  if (fitting.length === 0)
    items.unshift({ label: '$(info) No models found', description: 'start a local server or add a provider in Open Model Settings' });
  const pick = await vscode.window.showQuickPick(items, {
    title: `Switchyard: model for ${task}`,
    placeHolder: 'The first choice; the current list stays behind it as fallbacks',
    matchOnDescription: true,
  });
  if (!pick?.ref) return;
  const rest = current.filter((c) => c.model !== pick.ref);
  const chosen = current.find((c) => c.model === pick.ref) ?? { model: pick.ref };
  await writeTask(task, [chosen, ...rest]);
  void vscode.window.showInformationMessage(`Switchyard: ${task} now tries ${pick.ref} first.`);
}
