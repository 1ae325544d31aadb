/**
 * What the chat view's buttons do in the editor: a failed turn's actions (Start Ollama, Pull, Set API Key, …), a code
 * block's Copy / Insert / Replace / New File, a citation opening its file, and a failure in the chat view's words.
 * The view (chatView.ts) only routes its messages here.
 */
import * as vscode from 'vscode';
import { isProviderError, type ErrorKind } from '../../core/errors';
import { findOllamaExecutable } from '../../core/models';
import { RouteError, type RouteAttempt, type RouteEvent } from '../../core/routing/router';
import type { AnswerInfo, Citation, CodeAction, ErrorAction, TurnError } from '../../protocol/chat';
import { readSettings } from '../settings';
import type { Services } from '../services';
import { errorActions, errorText, fallbackActions, fallbackReason } from './errorActions';

/** Which optional commands exist (switchyard.pullModel), asked after activation, never during it. */
export class CommandSet {
  private commands = new Set<string>();
  async refresh(): Promise<void> {
    this.commands = new Set(await vscode.commands.getCommands(true));
  }
  has(id: string): boolean {
    return this.commands.has(id);
  }
}

export function describeError(services: Services, commands: CommandSet, e: unknown): TurnError {
  const kind: ErrorKind | 'error' = isProviderError(e) ? e.kind : 'error';
  const attempts: RouteAttempt[] = e instanceof RouteError ? e.attempts : [];
  // A task left with no model because its settings entries were ignored: say so (not "start a server").
  const task = e instanceof RouteError ? e.task : undefined;
  const problem = task === undefined ? undefined : readSettings().problems.find((p) => p.emptiedTasks?.some((t) => t === task));
  const ignored = task !== undefined && problem ? { task, problem: problem.message } : undefined;
  const { title, message } = errorText(kind, e instanceof Error ? e.message : String(e), attempts, ignored);
  const has = { pullModel: commands.has('switchyard.pullModel'), ignoredEntries: ignored !== undefined };
  return { kind, title, message, actions: errorActions(kind, attempts, services.switchyard.registry.list(), has) };
}

export function describeFallback(
  services: Services,
  commands: CommandSet,
  route: RouteEvent,
): Pick<AnswerInfo, 'fallbackReason' | 'fallbackActions'> {
  return {
    fallbackReason: fallbackReason(route.attempts),
    // A fallback past a missing Ollama model offers to pull it.
    fallbackActions: fallbackActions(route.attempts, services.switchyard.registry.list(), {
      pullModel: commands.has('switchyard.pullModel'),
    }),
  };
}

/** A failed turn's action, but Retry (which the view runs itself). */
export async function runErrorAction(services: Services, action: ErrorAction): Promise<void> {
  switch (action.id) {
    case 'retry':
      return;
    case 'startOllama': {
      if (!findOllamaExecutable()) {
        const get = 'Get Ollama';
        const gguf = 'Download a GGUF Model';
        const choice = await vscode.window.showErrorMessage(
          'Switchyard: Ollama is not installed here (no `ollama` on PATH). ' +
            'Install it from ollama.com, or run models without it: download a GGUF model for the built-in runtime.',
          get,
          gguf,
        );
        if (choice === get) await vscode.env.openExternal(vscode.Uri.parse('https://ollama.com/download'));
        else if (choice === gguf) await vscode.commands.executeCommand('switchyard.downloadGgufModel');
        return;
      }
      const terminal = vscode.window.createTerminal({ name: 'Ollama' });
      terminal.show();
      terminal.sendText('ollama serve');
      services.switchyard.router.health.clear();
      setTimeout(() => services.refreshRoutes(), 3000);
      return;
    }
    case 'pullModel':
      await vscode.commands.executeCommand('switchyard.pullModel', action.arg);
      return;
    case 'setApiKey':
      await vscode.commands.executeCommand('switchyard.setApiKey', action.arg);
      return;
    case 'openSettings':
      await vscode.commands.executeCommand('switchyard.openSettings');
      return;
    case 'showLogs':
      await vscode.commands.executeCommand('switchyard.showLogs');
      return;
    case 'downloadGguf':
      await vscode.commands.executeCommand('switchyard.downloadGgufModel');
      return;
    case 'walkthrough':
      await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${services.context.extension.id}#switchyard.start`, false);
      return;
  }
}

/** A code block's action, into `editor` (the editor the chat came from) where it needs one. */
export async function runCodeAction(
  action: CodeAction,
  code: string,
  language: string | undefined,
  editor: vscode.TextEditor | undefined,
): Promise<void> {
  if (action === 'copy') {
    await vscode.env.clipboard.writeText(code);
    return;
  }
  if (action === 'newFile') {
    const doc = await vscode.workspace.openTextDocument({ content: code, language: language || undefined });
    await vscode.window.showTextDocument(doc);
    return;
  }
  if (!editor) throw new Error('Open a file first: there is no editor to put the code in.');
  if (!vscode.window.visibleTextEditors.includes(editor)) {
    // The editor the chat came from was closed or hidden since: bring its document back, at the same selection.
    const doc = editor.document.isClosed ? await vscode.workspace.openTextDocument(editor.document.uri) : editor.document;
    editor = await vscode.window.showTextDocument(doc, { viewColumn: editor.viewColumn, selection: editor.selection });
  }
  const target = editor;
  const applied = await target.edit((b) => {
    if (action === 'replace') b.replace(target.selection, code);
    else b.insert(target.selection.active, code);
  });
  if (!applied) throw new Error(`Could not edit ${vscode.workspace.asRelativePath(target.document.uri)} (is it read-only?).`);
  await vscode.window.showTextDocument(target.document, target.viewColumn);
}

export async function openCitation(c: Citation): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  // Only files inside an open workspace folder: a message cannot open arbitrary paths.
  const folder = folders.find((f) => f.uri.fsPath === c.root) ?? folders[0];
  if (!folder) throw new Error('No workspace folder is open.');
  const uri = vscode.Uri.joinPath(folder.uri, ...c.path.split('/').filter((p) => p && p !== '..'));
  const doc = await vscode.workspace.openTextDocument(uri);
  const range = new vscode.Range(Math.max(0, c.startLine - 1), 0, Math.max(0, c.endLine - 1), Number.MAX_SAFE_INTEGER);
  await vscode.window.showTextDocument(doc, { selection: range, preview: true });
}
