/**
 * What the chat takes from the editor: the composer's Selection / File attachments (and what they would attach now),
 * and the code an editor command (Explain) sends to the chat.
 */
import * as vscode from 'vscode';
import type { ContextBlock } from '../../core/chat/prompt';
import type { ContextKind, EditorContext } from '../../protocol/chat';

/** Editors the chat may read: files on disk, untitled buffers, remote files (not output panes or diff sides). */
export function isChatEditor(e: vscode.TextEditor): boolean {
  const scheme = e.document.uri.scheme;
  return scheme === 'file' || scheme === 'untitled' || scheme === 'vscode-remote';
}

/** What the composer's Selection / File would attach now. */
export function editorInfo(editor: vscode.TextEditor | undefined): EditorContext {
  if (!editor) return {};
  const s = editor.selection;
  return {
    file: vscode.workspace.asRelativePath(editor.document.uri),
    ...(s.isEmpty ? {} : { selection: { startLine: s.start.line + 1, endLine: s.end.line + 1 } }),
  };
}

/** The selection or file of the editor, as context blocks. */
export function editorBlocks(editor: vscode.TextEditor | undefined, kinds: readonly ContextKind[]): ContextBlock[] {
  const blocks: ContextBlock[] = [];
  if (!editor || kinds.length === 0) return blocks;
  const doc = editor.document;
  const name = vscode.workspace.asRelativePath(doc.uri);
  if (kinds.includes('selection') && !editor.selection.isEmpty) {
    const s = editor.selection;
    blocks.push({
      label: `selection in ${name}:${s.start.line + 1}-${s.end.line + 1}`,
      text: doc.getText(s),
      source: { path: name, startLine: s.start.line + 1, endLine: s.end.line + 1 },
    });
  }
  if (kinds.includes('file')) blocks.push({ label: `file ${name}`, text: doc.getText(), source: { path: name } });
  return blocks;
}

/** The code an editor command works on: the selection (when asked and not empty) or the whole file. */
export function editorCode(editor: vscode.TextEditor, which: 'selection' | 'file'): { block: ContextBlock; language: string } {
  const doc = editor.document;
  const name = vscode.workspace.asRelativePath(doc.uri);
  const s = editor.selection;
  const useSelection = which === 'selection' && !s.isEmpty;
  const label = useSelection ? `selection in ${name}:${s.start.line + 1}-${s.end.line + 1}` : `file ${name}`;
  return {
    block: {
      label,
      text: useSelection ? doc.getText(s) : doc.getText(),
      source: useSelection ? { path: name, startLine: s.start.line + 1, endLine: s.end.line + 1 } : { path: name },
    },
    language: doc.languageId,
  };
}
