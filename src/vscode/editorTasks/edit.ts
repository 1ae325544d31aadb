/**
 * "Switchyard: Edit Selection…" (editor context menu, Ctrl+Alt+K): the user says what to change; the `edit` task
 * rewrites the selection (or, with nothing selected, the symbol around the cursor) and the result streams into VS
 * Code's diff editor, the file on the left and the proposal (a read-only virtual document) on the right. Accept
 * (the diff editor's title bar, or Ctrl+Enter) applies it as one WorkspaceEdit, so one undo step; Reject, Cancel
 * on the progress notification (which stays until the user decides) or closing the diff leave the file as it was.
 * Only the fenced code block of the model's answer is used (core/editorTasks/edit.ts).
 */
import * as vscode from 'vscode';
import { runTurn, type TurnRequest } from '../../core/chat/turn';
import { EDIT_CONTEXT_LINES, editTurn, extractCodeBlock, fitToOriginal } from '../../core/editorTasks/edit';
import { isProviderError } from '../../core/errors';
import { describeCandidate } from '../../core/describe';
import type { Services } from '../services';

const SCHEME = 'switchyard-edit';
const PENDING_KEY = 'switchyard.editPending';

interface Pending {
  document: vscode.TextDocument;
  version: number;
  range: vscode.Range;
  original: string;
  /** The proposal's code for the range (fitted to the original's indentation). */
  code: string;
  /** The model's answer is complete (Accept is possible). */
  done: boolean;
  uri: vscode.Uri;
  controller: AbortController;
  /** Called once Accept or Reject ended it: the progress notification closes. */
  ended: () => void;
}

/** The symbol kinds that make an edit unit when nothing is selected. */
const UNIT_KINDS = new Set([
  vscode.SymbolKind.Function,
  vscode.SymbolKind.Method,
  vscode.SymbolKind.Constructor,
  vscode.SymbolKind.Class,
  vscode.SymbolKind.Interface,
  vscode.SymbolKind.Enum,
  vscode.SymbolKind.Struct,
]);

/** The innermost function, method or type around `position`, from the language's document symbols. */
async function enclosingSymbol(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Range | undefined> {
  const symbols = await vscode.commands.executeCommand<(vscode.DocumentSymbol | vscode.SymbolInformation)[] | undefined>(
    'vscode.executeDocumentSymbolProvider',
    document.uri,
  );
  let best: vscode.Range | undefined;
  const visit = (list: readonly (vscode.DocumentSymbol | vscode.SymbolInformation)[]) => {
    for (const s of list) {
      const range = 'range' in s ? s.range : s.location.range;
      if (!range.contains(position)) continue;
      if (UNIT_KINDS.has(s.kind) && (!best || best.contains(range))) best = range;
      if ('children' in s) visit(s.children);
    }
  };
  visit(symbols ?? []);
  // Whole lines: the symbol's indentation is part of what is rewritten.
  return best && new vscode.Range(best.start.line, 0, best.end.line, document.lineAt(best.end.line).text.length);
}

/** What to edit: the active editor's selection, or with nothing selected the symbol around the cursor; else says why not. */
async function editTarget(): Promise<{ document: vscode.TextDocument; range: vscode.Range } | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Switchyard: open a file and select the code to edit.');
    return undefined;
  }
  const document = editor.document;
  const range = editor.selection.isEmpty
    ? await enclosingSymbol(document, editor.selection.active)
    : new vscode.Range(editor.selection.start, editor.selection.end);
  if (!range || range.isEmpty) {
    void vscode.window.showInformationMessage('Switchyard: select the code to edit (the cursor is in no function or class).');
    return undefined;
  }
  return { document, range };
}

/** The user's instruction for the edit of `name` at `range` (undefined when the input box is dismissed). */
function askInstruction(name: string, range: vscode.Range): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: `Switchyard: Edit ${name}:${range.start.line + 1}-${range.end.line + 1}`,
    prompt: 'What should change?',
    placeHolder: 'e.g. add error handling, rename x to count, convert to async/await',
    ignoreFocusOut: true,
  });
}

/** Up to EDIT_CONTEXT_LINES lines of the document before and after `range`, shown to the model as context. */
function surroundings(document: vscode.TextDocument, range: vscode.Range): { before: string; after: string } {
  const before = document.getText(
    new vscode.Range(Math.max(0, range.start.line - EDIT_CONTEXT_LINES), 0, range.start.line, range.start.character),
  );
  const after = document.getText(
    new vscode.Range(
      range.end,
      new vscode.Position(Math.min(document.lineCount - 1, range.end.line + EDIT_CONTEXT_LINES), Number.MAX_SAFE_INTEGER),
    ),
  );
  return { before, after };
}

class EditSession implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private pending?: Pending;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private serial = 0;

  constructor(private readonly services: Services) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(SCHEME, this),
      // Closing the diff is a Reject.
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        const p = this.pending;
        if (p && e.closed.some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === p.uri.toString()))
          void this.end(false);
      }),
    );
  }

  dispose(): void {
    this.pending?.controller.abort();
    this.changed.dispose();
    for (const d of this.disposables) d.dispose();
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const p = this.pending;
    if (!p || p.uri.toString() !== uri.toString()) return '';
    const text = p.document.getText();
    return text.slice(0, p.document.offsetAt(p.range.start)) + p.code + text.slice(p.document.offsetAt(p.range.end));
  }

  async start(): Promise<void> {
    const target = await editTarget();
    if (!target) return;
    const { document, range } = target;
    const name = vscode.workspace.asRelativePath(document.uri);
    const instruction = await askInstruction(name, range);
    if (!instruction?.trim()) return;
    await this.end(false);

    const original = document.getText(range);
    const { before, after } = surroundings(document, range);
    const uri = vscode.Uri.from({ scheme: SCHEME, path: document.uri.path, query: `${++this.serial}` });
    let ended = () => {};
    const decided = new Promise<void>((resolve) => (ended = resolve));
    const p: Pending = {
      document,
      version: document.version,
      range,
      original,
      code: original,
      done: false,
      uri,
      controller: new AbortController(),
      ended,
    };
    this.pending = p;
    await vscode.commands.executeCommand('setContext', PENDING_KEY, true);
    await vscode.commands.executeCommand('vscode.diff', document.uri, uri, `${name} ↔ Switchyard's edit (Accept: Ctrl+Enter)`, {
      preview: true,
    });

    const turn = editTurn({ code: original, instruction, path: name, language: document.languageId, before, after });
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Switchyard: editing ${name}`, cancellable: true },
      async (progress, token) => {
        const sub = token.onCancellationRequested(() => void this.end(false));
        try {
          await this.propose(p, turn, progress, decided);
        } catch (e) {
          if (this.pending === p) await this.end(false);
          if (p.controller.signal.aborted || (isProviderError(e) && e.kind === 'canceled')) return;
          const message = e instanceof Error ? e.message : String(e);
          this.services.log.warn(`edit: ${message}`);
          void vscode.window.showErrorMessage(`Switchyard: no edit: ${message}`);
        } finally {
          sub.dispose();
        }
      },
    );
  }

  /**
   * Streams the model's answer into the proposal (its code block, refreshed at most every 60 ms), then fits the
   * final code to the original and waits, with the notification open, until the user decides.
   */
  private async propose(
    p: Pending,
    turn: TurnRequest,
    progress: vscode.Progress<{ message?: string }>,
    decided: Promise<void>,
  ): Promise<void> {
    let text = '';
    let shownAt = 0;
    const deps = { router: this.services.switchyard.router, providers: this.services.switchyard.registry };
    for await (const ev of runTurn(deps, { ...turn, signal: p.controller.signal })) {
      if (ev.type === 'route') progress.report({ message: describeCandidate(ev.route) });
      if (ev.type !== 'text') continue;
      text += ev.text;
      const code = extractCodeBlock(text, false);
      if (code !== undefined && Date.now() - shownAt > 60) {
        shownAt = Date.now();
        p.code = code;
        this.changed.fire(p.uri);
      }
    }
    if (this.pending !== p) return;
    const code = extractCodeBlock(text, true);
    if (code === undefined) {
      await this.end(false);
      void vscode.window.showErrorMessage(
        'Switchyard: the model answered without a code block, so there is nothing to apply. Try again or rephrase the instruction.',
      );
      return;
    }
    p.code = fitToOriginal(code, p.original);
    p.done = true;
    this.changed.fire(p.uri);
    // The notification stays until the user decides (its Cancel is a Reject).
    progress.report({ message: "ready: Accept (Ctrl+Enter) or Reject in the diff's title bar" });
    await decided;
  }

  /** Accept (apply as one edit) or reject the pending edit; either way its diff closes. */
  async end(accept: boolean): Promise<void> {
    const p = this.pending;
    if (!p) return;
    if (accept && !p.done) {
      void vscode.window.showInformationMessage('Switchyard: the edit is still streaming; accept it once it is complete.');
      return;
    }
    this.pending = undefined;
    p.controller.abort();
    p.ended();
    await vscode.commands.executeCommand('setContext', PENDING_KEY, false);
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === p.uri.toString());
    if (tabs.length) await vscode.window.tabGroups.close(tabs);
    if (!accept) return;
    if (p.document.version !== p.version) {
      void vscode.window.showErrorMessage(
        `Switchyard: ${vscode.workspace.asRelativePath(p.document.uri)} changed while the edit was made; run Edit Selection again.`,
      );
      return;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(p.document.uri, p.range, p.code);
    if (!(await vscode.workspace.applyEdit(edit)))
      void vscode.window.showErrorMessage(
        `Switchyard: could not edit ${vscode.workspace.asRelativePath(p.document.uri)} (is it read-only?).`,
      );
  }
}

export function registerEdit(services: Services): vscode.Disposable[] {
  const session = new EditSession(services);
  return [
    session,
    vscode.commands.registerCommand('switchyard.editSelection', () => session.start()),
    vscode.commands.registerCommand('switchyard.acceptEdit', () => session.end(true)),
    vscode.commands.registerCommand('switchyard.rejectEdit', () => session.end(false)),
  ];
}
