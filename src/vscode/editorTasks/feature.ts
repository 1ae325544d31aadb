/**
 * The tasks the router names, where VS Code users look for them: Generate Commit Message in Source Control.
 * Cheap to register: nothing runs until a command does.
 */
import type * as vscode from 'vscode';
import type { Services } from '../services';
import { registerCommitMessage } from './commitMessage';

export function registerEditorTasks(services: Services): vscode.Disposable[] {
  return [...registerCommitMessage(services)];
}
