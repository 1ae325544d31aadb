/**
 * The inline completion provider: ghost text from the `complete` task's model at each pause in typing.
 *
 * Each call hands VS Code's CancellationToken to the service as an AbortSignal, and each call supersedes the previous
 * one in the service (a request waiting its debounce resolves empty, one running is aborted at the server). The
 * service's cache answers the same place again, and the rest of a suggestion whose first characters the user typed.
 * A failure shows nothing (the status bar item and the log say why; never a notification per keystroke).
 */
import * as vscode from 'vscode';
import { ProviderError, isAbortError } from '../../core/errors';
import type { CompletionService, EditorContext, ServedCompletion } from '../../core/complete/service';
import type { Snippet } from '../../core/complete/templates';
import type { Logger } from '../../core/host';
import { contextAround, inlineEdit, type SelectedItem } from './range';
import type { CompletionFailure } from './statusText';
import type { SuggestionTracker } from './tracker';

/** The command an accepted item runs (internal: not in the command palette). */
export const ACCEPTED_COMMAND = 'switchyard.completion.accepted';

export interface ProviderDeps {
  service: CompletionService;
  tracker: SuggestionTracker<ServedCompletion>;
  log: Logger;
  /** The core's completion settings now (the service applies the token budgets; these bound what is copied). */
  budgets(): { maxPrefixTokens: number; maxSuffixTokens: number };
  /** Snippets of other files for this document and cursor (recent edits, index hits). */
  extra(document: vscode.TextDocument, prefix: string, suffix: string): Snippet[];
  /** The last request failed / answered (for the status bar). */
  onFailure(failure: CompletionFailure): void;
  onAnswer(): void;
}

/** The lines of the document sent at most, before and after the cursor: each line costs at least one token, so the
 *  token budgets (which the service applies) never need more. */
function lineWindow(budgetTokens: number): number {
  return Math.max(1, budgetTokens) + 1;
}

export class InlineProvider implements vscode.InlineCompletionItemProvider {
  private lastFailure = '';

  constructor(private readonly deps: ProviderDeps) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const { service } = this.deps;
    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    // editor.inlineSuggest.enabled off: VS Code may still ask when the user triggers a suggestion explicitly.
    if (automatic && !vscode.workspace.getConfiguration('editor', document).get<boolean>('inlineSuggest.enabled', true)) return undefined;
    if (service.isExcluded(document.languageId) || token.isCancellationRequested) return undefined;

    const settings = this.deps.budgets();
    const startLine = Math.max(0, position.line - lineWindow(settings.maxPrefixTokens));
    const endLine = Math.min(document.lineCount - 1, position.line + lineWindow(settings.maxSuffixTokens));
    const windowStart = new vscode.Position(startLine, 0);
    const text = document.getText(new vscode.Range(windowStart, document.lineAt(endLine).rangeIncludingLineBreak.end));
    const offset = document.offsetAt(position) - document.offsetAt(windowStart);

    const line = document.lineAt(position.line).text;
    const sel = context.selectedCompletionInfo;
    let selected: SelectedItem | undefined;
    if (sel) {
      // The suggest widget's item: the suggestion must continue it, on the same range.
      if (sel.range.start.line !== position.line || sel.range.end.line !== position.line) return undefined;
      selected = { startCharacter: sel.range.start.character, endCharacter: sel.range.end.character, text: sel.text };
    }
    const around = contextAround(
      text,
      offset,
      selected && {
        start: offset - (position.character - selected.startCharacter),
        end: offset + (selected.endCharacter - position.character),
        text: selected.text,
      },
    );
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    const ctx: EditorContext = {
      filePath: document.isUntitled ? document.uri.path : vscode.workspace.asRelativePath(document.uri, false),
      languageId: document.languageId,
      prefix: around.prefix,
      suffix: around.suffix,
      extra: this.deps.extra(document, around.prefix, around.suffix),
      firstLine: startLine + 1,
      ...(folder ? { repo: folder.name } : {}),
    };

    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    let served: ServedCompletion | undefined;
    try {
      served = await service.complete(ctx, abort.signal);
    } catch (e) {
      if (isAbortError(e) || token.isCancellationRequested || (e instanceof ProviderError && e.kind === 'canceled')) return undefined;
      this.failed(e);
      return undefined;
    } finally {
      sub.dispose();
    }
    if (!served || token.isCancellationRequested) return undefined;
    this.lastFailure = '';
    this.deps.onAnswer();

    const edit = inlineEdit(line, position.character, served.text, selected);
    this.deps.tracker.offer(served, document.uri.toString(), document.offsetAt(position));
    const item = new vscode.InlineCompletionItem(
      edit.insertText,
      new vscode.Range(position.line, edit.startCharacter, position.line, edit.endCharacter),
      {
        command: ACCEPTED_COMMAND,
        title: 'Accepted',
        arguments: [served.id],
      },
    );
    return [item];
  }

  private failed(e: unknown): void {
    const failure: CompletionFailure = {
      kind: e instanceof ProviderError ? e.kind : 'server',
      message: e instanceof Error ? e.message : String(e),
    };
    // The same failure at every pause in typing is logged once (at debug after that), until an answer comes.
    const key = `${failure.kind}: ${failure.message}`;
    if (key !== this.lastFailure) this.deps.log.warn(`completion failed (${key})`);
    else this.deps.log.debug(`completion failed again (${failure.kind})`);
    this.lastFailure = key;
    this.deps.onFailure(failure);
  }
}
