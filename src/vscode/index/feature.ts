/**
 * The workspace index in VS Code: indexes each folder of a trusted workspace on first open (unless
 * `switchyard.index.enabled` is off), keeps it current from file events, shows its state in the status bar and in
 * `window.withProgress`, and offers "Switchyard: Rebuild Index" and "Switchyard: Search Index". Sets
 * `services.workspaceIndex.current` for chat and Explain. Nothing heavy loads at activation: the worker thread (with
 * SQLite and tree-sitter) starts after activate() has returned.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { chunkBudget } from '../../core/index/budget';
import { CombinedRetriever } from '../../core/index/combined';
import { WorkspaceIndex, type SyncProgress } from '../../core/index/service';
import type { IndexStatus, RetrievedChunk } from '../../core/index/types';
import type { Services } from '../services';
import { withCancellableProgress } from '../progress';

/** Files from the same burst of events (a save, a branch switch) are re-indexed together after this pause. */
const EVENT_DEBOUNCE_MS = 100;

export function registerIndex(services: Services): vscode.Disposable[] {
  const feature = new IndexFeature(services);
  return [
    feature,
    vscode.commands.registerCommand('switchyard.rebuildIndex', () => feature.rebuild()),
    vscode.commands.registerCommand('switchyard.searchIndex', (query?: string) => feature.searchCommand(query)),
    vscode.commands.registerCommand('switchyard.stopIndexing', () => feature.stop()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void feature.start()),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void feature.restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('switchyard.index') || e.affectsConfiguration('files.exclude')) void feature.restart();
      else if (e.affectsConfiguration('switchyard')) feature.resumeEmbeddings();
    }),
  ];
}

class IndexFeature implements vscode.Disposable {
  private readonly indexes = new Map<string, WorkspaceIndex>();
  private readonly item = vscode.window.createStatusBarItem('switchyard.index', vscode.StatusBarAlignment.Right, 99);
  private readonly disposables: vscode.Disposable[] = [this.item];
  private starting?: Promise<void>;
  /** The running sync: aborting it stops it (a newer sync, Stop Indexing, closing). */
  private syncing?: AbortController;
  private queued = new Set<string>();
  private timer?: ReturnType<typeof setTimeout>;
  private disposed = false;

  constructor(private readonly services: Services) {
    this.item.name = 'Switchyard Index';
    this.item.command = 'switchyard.searchIndex';
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    this.disposables.push(
      watcher,
      watcher.onDidCreate((u) => this.changed(u)),
      watcher.onDidChange((u) => this.changed(u)),
      watcher.onDidDelete((u) => this.changed(u)),
      vscode.workspace.onDidSaveTextDocument((d) => this.changed(d.uri)),
      vscode.workspace.onDidRenameFiles((e) => e.files.forEach((f) => (this.changed(f.oldUri), this.changed(f.newUri)))),
    );
    // A server that answers again (a probe, a request) gets its paused embeddings at once, not after the back-off.
    this.disposables.push(
      services.switchyard.router.health.onChange((_id, state) => {
        if (state?.healthy) this.resumeEmbeddings();
      }),
    );
    // First open: after activation, never during it.
    setTimeout(() => void this.start(), 0);
  }

  private get enabled(): boolean {
    return (
      this.services.switchyard.config.index.enabled && vscode.workspace.isTrusted && (vscode.workspace.workspaceFolders?.length ?? 0) > 0
    );
  }

  private dbPath(folder: vscode.WorkspaceFolder): string {
    const storage = (this.services.context.storageUri ?? this.services.context.globalStorageUri).fsPath;
    const id = createHash('sha1').update(folder.uri.toString()).digest('hex').slice(0, 16);
    return path.join(storage, 'index', `${id}.sqlite`);
  }

  /** `files.exclude` patterns that are on, for a folder. */
  private filesExclude(folder: vscode.WorkspaceFolder): string[] {
    const value = vscode.workspace.getConfiguration('files', folder.uri).get<Record<string, unknown>>('exclude') ?? {};
    return Object.entries(value)
      .filter(([, on]) => on === true)
      .map(([glob]) => glob);
  }

  start(): Promise<void> {
    this.starting ??= this.open().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async open(): Promise<void> {
    if (this.disposed) return;
    if (!this.enabled) {
      this.render();
      return;
    }
    const config = this.services.switchyard.config.index;
    const chunkTokens = await chunkBudget(this.services.switchyard);
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const key = folder.uri.toString();
      if (this.indexes.has(key) || folder.uri.scheme !== 'file') continue;
      const exclude = [
        ...config.exclude,
        ...vscode.workspace.getConfiguration('switchyard.index', folder.uri).get<string[]>('exclude', []),
        ...this.filesExclude(folder),
      ];
      try {
        const index = await WorkspaceIndex.open({
          root: folder.uri.fsPath,
          dbPath: this.dbPath(folder),
          embedder: this.services.switchyard.router,
          exclude: [...new Set(exclude)],
          maxFileSizeKb: config.maxFileSizeKb,
          chunkTokens,
          logger: this.services.log,
          onStatus: () => this.render(),
          onMessage: (m) => void vscode.window.showWarningMessage(`Switchyard index (${folder.name}): ${m}`),
        });
        this.indexes.set(key, index);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        this.services.log.error(`index: cannot open the index of ${folder.name}: ${message}`);
        void vscode.window.showErrorMessage(`Switchyard could not open the index of ${folder.name}: ${message}`, 'Show Logs').then((c) => {
          if (c) void vscode.commands.executeCommand('switchyard.showLogs');
        });
      }
    }
    this.services.workspaceIndex.current = new CombinedRetriever(() => [...this.indexes.values()]);
    this.render();
    await this.syncAll(false);
  }

  /** Indexes every folder with progress: in the window's progress area, or as a cancellable notification. */
  private async syncAll(rebuild: boolean): Promise<void> {
    if (this.indexes.size === 0) return;
    this.syncing?.abort();
    const syncing = new AbortController();
    this.syncing = syncing;
    const location = rebuild ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
    await withCancellableProgress(
      'Switchyard: indexing',
      async (progress, signal) => {
        let last = 0;
        const onProgress = (p: SyncProgress) => {
          if (p.phase !== 'indexing' || p.filesTotal === 0) return;
          const pct = (p.filesDone / p.filesTotal) * 100;
          progress.report({ message: `${p.filesDone}/${p.filesTotal} files, ${p.chunks} chunks`, increment: pct - last });
          last = pct;
        };
        for (const [key, index] of this.indexes) {
          if (signal.aborted) break;
          try {
            const summary = rebuild ? await index.rebuild({ signal, onProgress }) : await index.sync({ signal, onProgress });
            const skipped = summary.skipped.length ? `, ${summary.skipped.length} skipped` : '';
            this.services.log.info(
              `index: ${key}: ${summary.canceled ? 'canceled after' : 'indexed'} ${summary.indexed} files ` +
                `(${summary.unchanged} unchanged, ${summary.removed} removed${skipped}) in ${summary.ms.toFixed(0)} ms`,
            );
            for (const s of summary.skipped) this.services.log.debug(`index: skipped ${s.rel}: ${s.reason}`);
          } catch (e) {
            this.services.log.error(`index: ${key}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      },
      { location, cancellable: rebuild, signal: syncing.signal },
    );
    if (this.syncing === syncing) this.syncing = undefined;
    this.render();
  }

  async rebuild(): Promise<void> {
    if (!this.enabled) {
      const why = vscode.workspace.isTrusted ? 'switchyard.index.enabled is off or no folder is open' : 'this workspace is not trusted';
      void vscode.window.showInformationMessage(`Switchyard: the index is off (${why}).`);
      return;
    }
    await this.start();
    await this.syncAll(true);
    const s = this.status();
    void vscode.window.showInformationMessage(
      `Switchyard: index rebuilt: ${s.filesTotal} files, ${s.chunks} chunks${s.message ? ` (${s.message})` : ''}.`,
    );
  }

  async searchCommand(given?: string): Promise<void> {
    const retriever = this.services.workspaceIndex.current;
    if (!retriever || this.indexes.size === 0) {
      void vscode.window.showInformationMessage(
        'Switchyard: there is no index for this workspace yet (it needs a trusted folder and switchyard.index.enabled).',
      );
      return;
    }
    const query =
      given ??
      (await vscode.window.showInputBox({
        title: 'Switchyard: Search Index',
        prompt: 'Words, a symbol name or a question',
        ignoreFocusOut: true,
      }));
    if (!query?.trim()) return;
    const hits = await retriever.search(query, { k: 20 });
    const status = retriever.status();
    type Item = vscode.QuickPickItem & { hit: RetrievedChunk };
    const items: Item[] = hits.map((h) => ({
      label: h.symbol ? `$(symbol-method) ${h.symbol}` : `$(file) ${path.basename(h.path)}`,
      description: `${h.path}:${h.startLine}-${h.endLine}`,
      detail: h.text
        .split('\n')
        .find((l) => l.trim() !== '')
        ?.trim()
        .slice(0, 160),
      hit: h,
    }));
    const pick = await vscode.window.showQuickPick(items, {
      title: `Switchyard: ${hits.length} results for "${query}"${status.keywordOnly ? ' (keyword-only)' : ''}`,
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (!pick) return;
    const { hit } = pick;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(hit.root, hit.path)));
    const range = new vscode.Range(hit.startLine - 1, 0, hit.endLine - 1, doc.lineAt(Math.min(hit.endLine, doc.lineCount) - 1).text.length);
    await vscode.window.showTextDocument(doc, { selection: range });
  }

  resumeEmbeddings(): void {
    for (const i of this.indexes.values()) i.resumeEmbeddings();
  }

  async restart(): Promise<void> {
    await this.closeAll();
    await this.start();
  }

  private async closeAll(): Promise<void> {
    this.syncing?.abort();
    const all = [...this.indexes.values()];
    this.indexes.clear();
    this.services.workspaceIndex.current = undefined;
    await Promise.allSettled(all.map((i) => i.close()));
    this.render();
  }

  /** A file event: queued, then the folder's index updates the burst in one go. */
  private changed(uri: vscode.Uri): void {
    if (uri.scheme !== 'file' || this.indexes.size === 0) return;
    this.queued.add(uri.fsPath);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), EVENT_DEBOUNCE_MS);
  }

  private async flush(): Promise<void> {
    const paths = [...this.queued];
    this.queued.clear();
    for (const [key, index] of this.indexes) {
      const root = vscode.Uri.parse(key).fsPath;
      const mine = paths.filter((p) => p === root || p.startsWith(root + path.sep));
      if (mine.length === 0) continue;
      try {
        const r = await index.update(mine);
        if (r.indexed || r.removed) this.services.log.debug(`index: updated ${r.indexed} files, removed ${r.removed}`);
      } catch (e) {
        this.services.log.warn(`index: update failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private status(): IndexStatus {
    return (
      this.services.workspaceIndex.current?.status() ?? {
        state: 'disabled',
        filesDone: 0,
        filesTotal: 0,
        chunks: 0,
        embeddingsPending: 0,
        keywordOnly: true,
      }
    );
  }

  private render(): void {
    if (this.disposed) return;
    this.services.workspaceIndex.changed.fire();
    if (this.indexes.size === 0) {
      this.item.hide();
      return;
    }
    const s = this.status();
    const pending = s.embeddingsPending > 0 ? `, ${s.embeddingsPending} chunks waiting for embeddings` : '';
    if (s.state === 'error') {
      this.item.text = '$(error) Index';
      this.item.tooltip = `Switchyard index: ${s.message ?? 'failed'} (see Switchyard: Show Logs)`;
    } else if (s.state === 'indexing') {
      this.item.text = `$(sync~spin) Index ${s.filesDone}/${s.filesTotal}`;
      this.item.tooltip =
        `Switchyard is indexing: ${s.filesDone} of ${s.filesTotal} files, ${s.chunks} chunks${pending}\n` +
        `Click to stop; keyword search works for what is indexed so far.`;
    } else {
      this.item.text = s.keywordOnly ? '$(database) Index: keyword-only' : '$(database) Index';
      this.item.tooltip =
        `Switchyard index: ${s.filesTotal} files, ${s.chunks} chunks${pending}` + `${s.message ? `\n${s.message}` : ''}\nClick to search.`;
    }
    // While a sync runs, the item stops it (background indexing has no notification with a Cancel button).
    this.item.command = this.syncing ? 'switchyard.stopIndexing' : 'switchyard.searchIndex';
    this.item.show();
  }

  /** Stops the running sync; what is indexed stays, and the next file event or Rebuild Index carries on. */
  stop(): void {
    if (!this.syncing) return;
    this.syncing.abort();
    this.services.log.info('index: stopped by the user');
  }

  /** Resolves once every folder's worker has closed its database (deactivate() awaits it). */
  dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.timer);
    const closed = this.closeAll();
    for (const d of this.disposables) d.dispose();
    return closed;
  }
}
