/**
 * Inline completions in VS Code (issue 15): the provider for every file (scheme file and untitled; languages in
 * switchyard.completion.excludeLanguages get none), the status bar item and its menu, "Switchyard: Toggle Inline
 * Completions" and "Switchyard: Snooze Inline Completions", the recent files the requests carry, and the shown /
 * accepted records of each suggestion (counts and latency, never code) that Show Usage summarises.
 *
 * Cheap at activation: the service only plans a route when asked, and the first status check runs after activate().
 */
import * as vscode from 'vscode';
import { CompletionService, type ServedCompletion } from '../../core/complete/service';
import type { Services } from '../services';
import { IndexSnippets, RecentFiles, nearbyIdentifiers, recentSnippets, type IndexHit } from './context';
import { ACCEPTED_COMMAND, InlineProvider } from './provider';
import { CompletionStatusItem, MENU_COMMAND, SNOOZE_COMMAND, TOGGLE_COMMAND, setEnabled, showMenu } from './status';
import { SuggestionTracker } from './tracker';

const SELECTOR: vscode.DocumentSelector = [{ scheme: 'file' }, { scheme: 'untitled' }];

/** What the workspace index finds for a completion's nearby identifiers (nothing while there is no index). */
function indexSnippets(services: Services): IndexSnippets {
  return new IndexSnippets(
    () => {
      const retriever = services.workspaceIndex.current;
      if (!retriever) return undefined;
      return async (query: string): Promise<IndexHit[]> => {
        const hits = await retriever.search(query, { k: 4, tokenBudget: 800 });
        const relative = (root: string, path: string) => vscode.Uri.joinPath(vscode.Uri.file(root), path);
        return hits.map((h) => ({ path: vscode.workspace.asRelativePath(relative(h.root, h.path), false), text: h.text }));
      };
    },
    (message) => services.log.debug(`completion: index search failed: ${message}`),
  );
}

/** The accept command the suggestions carry, and the status item's menu, Toggle and Snooze. */
function commands(
  services: Services,
  parts: { service: CompletionService; status: CompletionStatusItem; tracker: SuggestionTracker<ServedCompletion> },
  off: () => void,
): vscode.Disposable[] {
  const { service, status, tracker } = parts;
  return [
    vscode.commands.registerCommand(ACCEPTED_COMMAND, (id: unknown) => {
      if (typeof id === 'string') tracker.acceptedWhole(id);
    }),
    vscode.commands.registerCommand(MENU_COMMAND, () =>
      showMenu(service, status.current, status.current?.state === 'enabled' && status.hasFailure),
    ),
    vscode.commands.registerCommand(TOGGLE_COMMAND, async () => {
      const enabled = !services.switchyard.config.completion.enabled;
      if (!enabled) off();
      await setEnabled(enabled);
      if (enabled) service.resume();
      void vscode.window.setStatusBarMessage(`Switchyard: inline completions ${enabled ? 'on' : 'off'}`, 3000);
    }),
    vscode.commands.registerCommand(SNOOZE_COMMAND, () => {
      off();
      service.snooze();
    }),
  ];
}

export function registerCompletions(services: Services): vscode.Disposable[] {
  const { switchyard, log } = services;
  const service = new CompletionService(switchyard, { usage: services.usage, logger: log });
  const status = new CompletionStatusItem(service, log);
  const tracker = new SuggestionTracker<ServedCompletion>({
    shown: (c) => service.shown(c),
    accepted: (c, text) => {
      service.accepted(c, text);
      log.debug(
        `completion accepted${text !== undefined ? ' in part' : ''} ` +
          `(${c.route.providerId}/${c.route.model}, ${(text ?? c.text).length} chars)`,
      );
    },
  });

  const recent = new RecentFiles();
  const name = (d: vscode.TextDocument) => (d.isUntitled ? d.uri.path : vscode.workspace.asRelativePath(d.uri, false));
  const tracked = (d: vscode.TextDocument) => d.uri.scheme === 'file' || d.uri.scheme === 'untitled';
  // Only the workspace's own files (and untitled ones) go to the model as context: not settings.json, not a file
  // opened from elsewhere on the disk.
  const ownFile = (d: vscode.TextDocument) =>
    d.uri.scheme === 'untitled' || (d.uri.scheme === 'file' && vscode.workspace.getWorkspaceFolder(d.uri) !== undefined);
  const textOf = (key: string) => vscode.workspace.textDocuments.find((d) => d.uri.toString() === key)?.getText();
  const index = indexSnippets(services);
  const seeVisible = (editors: readonly vscode.TextEditor[]) => {
    for (const e of editors) if (ownFile(e.document)) recent.seen(e.document.uri.toString(), name(e.document), e.selection.active.line);
  };
  seeVisible(vscode.window.visibleTextEditors);

  const provider = new InlineProvider({
    service,
    tracker,
    log,
    budgets: () => switchyard.config.completion,
    extra: (document, prefix, suffix) => {
      const key = document.uri.toString();
      return [...recentSnippets(recent, textOf, key), ...index.get(nearbyIdentifiers(prefix, suffix), name(document))];
    },
    onFailure: (f) => status.failed(f),
    onAnswer: () => status.answered(),
  });

  const off = () => {
    service.cancel();
    tracker.end();
  };
  // After activate() has returned (the status probes health).
  const first = setTimeout(() => void status.refresh(), 0);

  return [
    service,
    status,
    { dispose: () => clearTimeout(first) },
    vscode.languages.registerInlineCompletionItemProvider(SELECTOR, provider),
    ...commands(services, { service, status, tracker }, off),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (!tracked(e.document) || e.contentChanges.length === 0) return;
      const key = e.document.uri.toString();
      tracker.changed(
        key,
        e.contentChanges.map((c) => ({ offset: c.rangeOffset, removed: c.rangeLength, text: c.text })),
      );
      if (ownFile(e.document)) recent.edited(key, name(e.document), e.contentChanges[0]!.range.start.line);
    }),
    vscode.window.onDidChangeVisibleTextEditors(seeVisible),
    vscode.workspace.onDidCloseTextDocument((d) => recent.forget(d.uri.toString())),
    vscode.window.onDidChangeActiveTextEditor(() => tracker.end()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('switchyard')) return;
      // activation's listener (registered first) has given the core the new settings by now.
      if (!switchyard.config.completion.enabled) off();
      if (e.affectsConfiguration('switchyard.index')) index.clear();
      void status.refresh();
    }),
    { dispose: () => tracker.end() },
  ];
}
