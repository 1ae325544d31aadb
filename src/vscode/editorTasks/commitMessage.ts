/**
 * "Switchyard: Generate Commit Message" and its sparkle button in the Source Control title bar of git repositories:
 * the `commitMessage` task (core/editorTasks/commitMessage.ts) over VS Code's git extension API (`vscode.git`,
 * getAPI(1)). The staged diff, or all changes when nothing is staged (the progress says so); the message streams into
 * the repository's input box, the text already there is the author's hint, and Cancel on the progress notification
 * puts that text back.
 */
import * as vscode from 'vscode';
import { runTurn } from '../../core/chat/turn';
import { COMMIT_SUBJECTS, NothingToCommitError, cleanCommitMessage, commitMessageTurn } from '../../core/editorTasks/commitMessage';
import { isProviderError } from '../../core/errors';
import { describeCandidate } from '../../core/describe';
import type { Services } from '../services';
import { withCancellableProgress } from '../progress';

/** The parts of the git extension's API (extensions/git/src/api/git.d.ts, version 1) used here. */
interface GitChange {
  readonly uri: vscode.Uri;
  readonly status: number;
}
interface GitRepository {
  readonly rootUri: vscode.Uri;
  readonly inputBox: { value: string };
  readonly state: {
    readonly indexChanges: readonly GitChange[];
    readonly workingTreeChanges: readonly GitChange[];
    readonly untrackedChanges?: readonly GitChange[];
  };
  diff(cached?: boolean): Promise<string>;
  log(options?: { maxEntries?: number }): Promise<readonly { readonly message: string }[]>;
}
interface GitApi {
  readonly state: 'uninitialized' | 'initialized';
  readonly onDidChangeState: vscode.Event<'uninitialized' | 'initialized'>;
  readonly repositories: readonly GitRepository[];
}

/** Status.UNTRACKED of the git API. */
const UNTRACKED = 7;

async function gitApi(): Promise<GitApi | undefined> {
  const ext = vscode.extensions.getExtension<{ getAPI(version: 1): GitApi; enabled?: boolean }>('vscode.git');
  if (!ext) return undefined;
  const exports = ext.isActive ? ext.exports : await ext.activate();
  if (exports.enabled === false) return undefined;
  const api = exports.getAPI(1);
  if (api.state !== 'initialized') {
    // The git extension finds repositories after it starts: wait for it a little.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        done.dispose();
        resolve();
      }, 10_000);
      const done = api.onDidChangeState((s) => {
        if (s !== 'initialized') return;
        clearTimeout(timer);
        done.dispose();
        resolve();
      });
    });
  }
  return api;
}

/** The repository of the Source Control view the button was in, the only one, or the one the user picks. */
async function pickRepository(api: GitApi, arg: unknown): Promise<GitRepository | undefined> {
  const root = arg && typeof arg === 'object' && 'rootUri' in arg ? (arg as { rootUri?: vscode.Uri }).rootUri : undefined;
  if (root) {
    const hit = api.repositories.find((r) => r.rootUri.toString() === root.toString());
    if (hit) return hit;
  }
  if (api.repositories.length <= 1) return api.repositories[0];
  const picked = await vscode.window.showQuickPick(
    api.repositories.map((r) => ({
      label: vscode.workspace.asRelativePath(r.rootUri, true) || r.rootUri.fsPath,
      description: r.rootUri.fsPath,
      repo: r,
    })),
    { title: 'Switchyard: Generate Commit Message', placeHolder: 'Which repository?' },
  );
  return picked?.repo;
}

async function generateCommitMessage(services: Services, arg?: unknown): Promise<void> {
  const api = await gitApi();
  if (!api) {
    void vscode.window.showErrorMessage(
      'Switchyard: Generate Commit Message needs the built-in Git extension, which is disabled or missing.',
    );
    return;
  }
  if (api.repositories.length === 0) {
    void vscode.window.showInformationMessage('Switchyard: no git repository is open.');
    return;
  }
  const repo = await pickRepository(api, arg);
  if (!repo) return;
  const staged = repo.state.indexChanges.length > 0;
  const untrackedChanges = repo.state.untrackedChanges ?? repo.state.workingTreeChanges.filter((c) => c.status === UNTRACKED);
  const hint = repo.inputBox.value;
  let turn;
  try {
    turn = commitMessageTurn({
      diff: await repo.diff(staged),
      staged,
      untracked: untrackedChanges.map((c) => vscode.workspace.asRelativePath(c.uri, false)),
      subjects: (await repo.log({ maxEntries: COMMIT_SUBJECTS }).catch(() => [])).map((c) => c.message.split('\n')[0] ?? ''),
      hint,
    });
  } catch (e) {
    if (e instanceof NothingToCommitError) {
      void vscode.window.showInformationMessage(`Switchyard: ${e.message}`);
      return;
    }
    throw e;
  }
  const title = staged
    ? 'Switchyard: writing a commit message for the staged changes'
    : 'Switchyard: nothing is staged, writing a commit message for all changes';
  await withCancellableProgress(title, async (progress, signal) => {
    const notices: string[] = [];
    let text = '';
    try {
      const deps = { router: services.switchyard.router, providers: services.switchyard.registry };
      for await (const ev of runTurn(deps, { ...turn, signal: signal })) {
        if (signal.aborted) break;
        if (ev.type === 'text') {
          text += ev.text;
          repo.inputBox.value = cleanCommitMessage(text);
        } else if (ev.type === 'route') progress.report({ message: describeCandidate(ev.route) });
        else if (ev.type === 'notice') notices.push(ev.text);
      }
      if (signal.aborted) {
        repo.inputBox.value = hint;
        return;
      }
      repo.inputBox.value = cleanCommitMessage(text) || hint;
      for (const n of notices) services.log.info(`commit message: ${n}`);
      if (notices.length) void vscode.window.showInformationMessage(`Switchyard: ${notices.join(' ')}`);
    } catch (e) {
      repo.inputBox.value = hint;
      if (signal.aborted || (isProviderError(e) && e.kind === 'canceled')) return;
      const message = e instanceof Error ? e.message : String(e);
      services.log.warn(`commit message: ${message}`);
      const choice = await vscode.window.showErrorMessage(`Switchyard: no commit message: ${message}`, 'Open Model Settings', 'Show Logs');
      if (choice === 'Open Model Settings') await vscode.commands.executeCommand('switchyard.openSettings');
      else if (choice === 'Show Logs') await vscode.commands.executeCommand('switchyard.showLogs');
    }
  });
}

export function registerCommitMessage(services: Services): vscode.Disposable[] {
  return [vscode.commands.registerCommand('switchyard.generateCommitMessage', (arg?: unknown) => generateCommitMessage(services, arg))];
}
