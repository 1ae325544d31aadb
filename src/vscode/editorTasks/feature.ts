/**
 * The tasks the router names, where VS Code users look for them: Generate Commit Message in Source Control, Edit
 * Selection in the editor.
 * Cheap to register: nothing runs until a command does.
 */
import type * as vscode from 'vscode';
import type { Services } from '../services';
import { registerCommitMessage } from './commitMessage';
import { registerEdit } from './edit';

export function registerEditorTasks(services: Services): vscode.Disposable[] {
  return [...registerCommitMessage(services), ...registerEdit(services)];
}
