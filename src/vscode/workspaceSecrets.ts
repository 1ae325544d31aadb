/**
 * The literal secret values the router keeps out of cloud requests: the values of the workspace's `.env*` files and
 * the API keys stored in SecretStorage. Read lazily on the first cloud request (never at activation), re-read when a
 * `.env*` file or the workspace folders change. Values stay in memory only.
 */
import * as vscode from 'vscode';
import { dotEnvValues } from '../core/routing/dotenv';

export class WorkspaceSecrets implements vscode.Disposable {
  private cached: string[] | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly storedKeys: () => readonly string[]) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/{.env,.env.*,*.env,.envrc}');
    const forget = () => (this.cached = undefined);
    this.disposables.push(
      watcher,
      watcher.onDidCreate(forget),
      watcher.onDidChange(forget),
      watcher.onDidDelete(forget),
      vscode.workspace.onDidChangeWorkspaceFolders(forget),
    );
  }

  values(): readonly string[] {
    this.cached ??= dotEnvValues((vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath));
    return [...this.cached, ...this.storedKeys()];
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
