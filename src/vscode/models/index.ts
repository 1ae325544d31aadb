/**
 * The model manager in VS Code: Pull Model (Ollama; also the action offered when a route fails with
 * `modelMissing`, called with `{ providerId, model }`), Delete Model, Download GGUF Model (into global storage,
 * which kind `embedded` serves) and Manage Models, as quick picks with `window.withProgress` and cancel.
 */
import * as vscode from 'vscode';
import { join } from 'node:path';
import { isModelError, type ModelError } from '../../core/models/errors';
import { deleteLocalModel, downloadGguf, formatBytes, listLocalModels, listPartialDownloads } from '../../core/models/gguf';
import { deleteOllamaModel, listOllamaModels, pullOllamaModel, type OllamaModel } from '../../core/models/ollama';
import type { ProviderConfig } from '../../core/providers/types';
import type { Services } from '../services';
import { withCancellableProgress } from '../progress';

export interface PullModelArgs {
  providerId?: string;
  model?: string;
}

interface ModelItem extends vscode.QuickPickItem {
  action?: 'pull' | 'download' | 'resume';
  target?: { kind: 'ollama'; provider: ProviderConfig; name: string } | { kind: 'gguf'; dir: string; id: string };
  url?: string;
}

/**
 * Fires after a model was pulled, deleted or downloaded, however it was started (the command palette, a chat's Pull
 * action, the settings panel), with the provider whose models changed (undefined: GGUF folders). The open settings
 * panel lists its models again at once.
 */
const modelsChanged = new vscode.EventEmitter<string | undefined>();
export const onDidChangeModels = modelsChanged.event;

/** Delete Model's target when called with one (the settings panel's Models section), instead of a quick pick. */
export type DeleteModelArgs = { providerId: string; model: string } | { dir: string; id: string };

/** The GGUF folder in global storage (what kind `embedded` serves when it names no folder). */
export function modelsDirOf(services: Services): string {
  return join(services.context.globalStorageUri.fsPath, 'models');
}

/** Every folder with GGUF models: global storage, and embedded providers' folder modelPaths, with who serves each. */
export function ggufDirs(services: Services): { dir: string; providerIds: string[] }[] {
  const modelsDir = modelsDirOf(services);
  const out = new Map<string, string[]>([[modelsDir, []]]);
  for (const p of services.switchyard.registry.list()) {
    if (p.kind !== 'embedded') continue;
    const dir = p.modelPath && !p.modelPath.toLowerCase().endsWith('.gguf') ? p.modelPath : modelsDir;
    out.set(dir, [...(out.get(dir) ?? []), p.id]);
  }
  return [...out].map(([dir, providerIds]) => ({ dir, providerIds }));
}

export function registerModels(services: Services): vscode.Disposable[] {
  const modelsDir = modelsDirOf(services);
  const sy = services.switchyard;
  sy.embedded.configure({ modelsDir });
  const log = services.log;

  const ollamaProviders = (): ProviderConfig[] => sy.registry.list().filter((p) => p.kind === 'ollama');
  /** Folder of an embedded provider (a folder modelPath), else global storage. */
  const ggufDirFor = (providerId?: string): string => {
    const p = providerId ? sy.registry.list().find((c) => c.id === providerId) : undefined;
    return p?.kind === 'embedded' && p.modelPath && !p.modelPath.toLowerCase().endsWith('.gguf') ? p.modelPath : modelsDir;
  };
  const changed = (providerId?: string): void => {
    sy.registry.forget(providerId);
    services.refreshRoutes();
    modelsChanged.fire(providerId);
  };

  const fail = (e: unknown, what: string): void => {
    if (isModelError(e) && e.kind === 'canceled') {
      void vscode.window.showInformationMessage(`Switchyard: ${e.message}`);
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    log.warn(`${what}: ${message}`);
    const actions = isModelError(e) ? actionsFor(e) : [];
    void vscode.window.showErrorMessage(`Switchyard: ${message}`, ...actions.map((a) => a.title)).then((choice) => {
      const chosen = actions.find((a) => a.title === choice);
      if (chosen) void vscode.commands.executeCommand(chosen.command);
    });
  };

  async function pickOllama(given?: string): Promise<ProviderConfig | undefined> {
    const all = ollamaProviders();
    if (given) return all.find((p) => p.id === given);
    if (all.length <= 1) return all[0];
    const pick = await vscode.window.showQuickPick(all.map((p) => ({ label: p.id, description: p.baseUrl, p })), { title: 'Switchyard: Pull Model', placeHolder: 'Ollama server' });
    return pick?.p;
  }

  async function pullModel(args?: PullModelArgs): Promise<boolean> {
    const chosen = args?.providerId ? sy.registry.list().find((p) => p.id === args.providerId) : undefined;
    if (chosen?.kind === 'embedded') return downloadGgufModel({ providerId: chosen.id, model: args?.model });
    const provider = await pickOllama(chosen?.id);
    if (!provider) {
      void vscode.window.showWarningMessage(`Switchyard: ${args?.providerId ? `"${args.providerId}" is not an Ollama provider` : 'no Ollama provider is configured'}; to run a GGUF model without a server, use Download GGUF Model.`, 'Download GGUF Model').then((c) => {
        if (c) void vscode.commands.executeCommand('switchyard.downloadGgufModel');
      });
      return false;
    }
    const name =
      args?.model ??
      (await vscode.window.showInputBox({ title: `Pull a model into ${provider.id}`, prompt: 'An Ollama model name, e.g. qwen2.5-coder:1.5b or nomic-embed-text', ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'Enter a model name') }));
    if (!name?.trim()) return false;
    const gate = await sy.router.mayContact(provider.id, 'pull');
    if (!gate.ok) {
      log.warn(`pull ${name.trim()}: ${gate.reason}`);
      void vscode.window.showWarningMessage(`Switchyard: ${gate.reason}.`, 'Open Settings').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.action.openSettingsJson');
      });
      return false;
    }
    try {
      await withCancellableProgress(`Pulling ${name} into ${provider.id}`, async (progress, signal) => {
        let reported = 0;
        let digest: string | undefined;
        await pullOllamaModel({ baseUrl: provider.baseUrl, signal }, name.trim(), (p) => {
          if (p.digest !== digest) {
            digest = p.digest;
            reported = 0;
          }
          const pct = p.totalBytes ? Math.floor(((p.completedBytes ?? 0) / p.totalBytes) * 100) : undefined;
          const increment = pct !== undefined ? Math.max(0, pct - reported) : undefined;
          if (pct !== undefined) reported = pct;
          progress.report({ message: `${p.status}${p.totalBytes ? ` ${formatBytes(p.completedBytes ?? 0)} / ${formatBytes(p.totalBytes)}` : ''}`, increment });
        });
      });
      log.info(`pulled ${name} into ${provider.id}`);
      changed(provider.id);
      void vscode.window.showInformationMessage(`Switchyard: ${name} is ready on ${provider.id}.`);
      return true;
    } catch (e) {
      fail(e, `pull ${name}`);
      return false;
    }
  }

  async function downloadGgufModel(args?: { providerId?: string; model?: string; url?: string; sha256?: string }): Promise<boolean> {
    const dir = ggufDirFor(args?.providerId);
    const url =
      args?.url ??
      (await vscode.window.showInputBox({
        title: 'Switchyard: Download GGUF Model',
        prompt: `An https URL of a .gguf file (e.g. a model file on a model hub); saved in ${dir}${args?.model ? `. The route wants "${args.model}": name the file ${args.model}.gguf` : ''}`,
        placeHolder: 'https://huggingface.co/…/resolve/main/model-q4_k_m.gguf',
        ignoreFocusOut: true,
        validateInput: (v) => (/^https?:\/\/.+\.gguf(\?.*)?$/i.test(v.trim()) ? undefined : 'An http(s) URL ending in .gguf'),
      }));
    if (!url?.trim()) return false;
    // Given with the URL ('' for none, as the settings panel sends it): no second prompt.
    const sha256 = args?.url !== undefined && args.sha256 !== undefined ? args.sha256 : await vscode.window.showInputBox({
      title: 'sha256 of the file (optional)',
      prompt: 'Paste the checksum the hub shows to have the file verified, or leave empty',
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() === '' || /^[0-9a-fA-F]{64}$/.test(v.trim()) ? undefined : '64 hex digits, or empty'),
    });
    if (sha256 === undefined) return false;
    try {
      const result = await withCancellableProgress('Downloading GGUF model', async (progress, signal) => {
        let reported = 0;
        return downloadGguf({
          url: url.trim(),
          dir,
          sha256: sha256.trim() || undefined,
          signal,
          onProgress: (p) => {
            const pct = p.totalBytes ? Math.floor((p.receivedBytes / p.totalBytes) * 100) : undefined;
            if (pct !== undefined && pct === reported && p.receivedBytes !== p.totalBytes) return;
            progress.report({ message: `${formatBytes(p.receivedBytes)}${p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : ''}${p.resumedFrom ? ' (resumed)' : ''}`, increment: pct !== undefined ? pct - reported : undefined });
            if (pct !== undefined) reported = pct;
          },
        });
      });
      log.info(`downloaded GGUF ${result.id} (${formatBytes(result.sizeBytes)}, sha256 ${result.sha256})`);
      changed();
      void vscode.window.showInformationMessage(`Switchyard: ${result.id} is ready. Use it as "<embedded provider id>/${result.id}" in switchyard.tasks (an entry { "id": "embedded", "kind": "embedded" } in switchyard.providers serves this folder).`);
      return true;
    } catch (e) {
      fail(e, 'download GGUF');
      return false;
    }
  }

  async function installed(): Promise<ModelItem[]> {
    const items: ModelItem[] = [];
    for (const p of ollamaProviders()) {
      // Listing is not worth a consent question: a cloud Ollama is listed only where cloud use needs none.
      if (!p.local && !sy.router.cloudAllowedOutright()) continue;
      let models: OllamaModel[] = [];
      try {
        models = await listOllamaModels({ baseUrl: p.baseUrl, signal: AbortSignal.timeout(3000) });
      } catch {
        continue; // not running: nothing to list
      }
      if (models.length) items.push({ label: p.id, kind: vscode.QuickPickItemKind.Separator });
      for (const m of models) {
        items.push({ label: m.name, description: [formatBytes(m.sizeBytes), m.family, m.parameterSize, m.quantization].filter(Boolean).join(' · '), target: { kind: 'ollama', provider: p, name: m.name } });
      }
    }
    const dirs = new Set(ggufDirs(services).map((d) => d.dir));
    for (const dir of dirs) {
      const local = listLocalModels(dir);
      const partial = await listPartialDownloads(dir);
      if (local.length || partial.length) items.push({ label: `GGUF · ${dir}`, kind: vscode.QuickPickItemKind.Separator });
      for (const m of local) items.push({ label: m.id, description: `${formatBytes(m.sizeBytes)} · gguf`, target: { kind: 'gguf', dir, id: m.id } });
      for (const p of partial) {
        items.push({ label: `$(debug-pause) ${p.fileName}`, description: `interrupted at ${formatBytes(p.receivedBytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''}: select to resume`, action: 'resume', url: p.url, target: { kind: 'gguf', dir, id: p.fileName } });
      }
    }
    return items;
  }

  async function deleteTarget(target: NonNullable<ModelItem['target']>): Promise<boolean> {
    const name = target.kind === 'ollama' ? `${target.name} from ${target.provider.id}` : `${target.id} (${target.dir})`;
    const ok = await vscode.window.showWarningMessage(`Delete ${name}?`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return false;
    if (target.kind === 'ollama') {
      const gate = await sy.router.mayContact(target.provider.id, 'delete a model');
      if (!gate.ok) {
        log.warn(`delete ${name}: ${gate.reason}`);
        void vscode.window.showWarningMessage(`Switchyard: ${gate.reason}.`);
        return false;
      }
    }
    try {
      if (target.kind === 'ollama') await deleteOllamaModel({ baseUrl: target.provider.baseUrl }, target.name);
      else await deleteLocalModel(target.dir, target.id);
      log.info(`deleted ${name}`);
      changed(target.kind === 'ollama' ? target.provider.id : undefined);
      void vscode.window.showInformationMessage(`Switchyard: deleted ${name}.`);
      return true;
    } catch (e) {
      fail(e, `delete ${name}`);
      return false;
    }
  }

  async function deleteModel(args?: DeleteModelArgs): Promise<boolean> {
    if (args && 'providerId' in args) {
      const provider = ollamaProviders().find((p) => p.id === args.providerId);
      if (!provider) throw new Error(`"${args.providerId}" is not an Ollama provider.`);
      return deleteTarget({ kind: 'ollama', provider, name: args.model });
    }
    if (args) {
      // Only a folder this extension lists: a caller cannot point the delete anywhere else.
      if (!ggufDirs(services).some((d) => d.dir === args.dir)) throw new Error(`${args.dir} is not a Switchyard models folder.`);
      return deleteTarget({ kind: 'gguf', dir: args.dir, id: args.id });
    }
    const items = (await installed()).filter((i) => i.kind === vscode.QuickPickItemKind.Separator || i.target);
    if (!items.some((i) => i.target)) {
      void vscode.window.showInformationMessage('Switchyard: no models to delete (no Ollama models found and no GGUF files downloaded).');
      return false;
    }
    const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Delete Model', placeHolder: 'Model to delete' });
    return pick?.target ? deleteTarget(pick.target) : false;
  }

  async function manageModels(): Promise<void> {
    const items: ModelItem[] = [
      { label: '$(cloud-download) Pull Model…', description: 'into Ollama', action: 'pull' },
      { label: '$(desktop-download) Download GGUF Model…', description: 'run by Switchyard itself (kind embedded)', action: 'download' },
      ...(await installed()),
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Manage Models', placeHolder: 'Select a model to delete it, or an action', matchOnDescription: true });
    if (!pick) return;
    if (pick.action === 'pull') await pullModel();
    else if (pick.action === 'download') await downloadGgufModel();
    else if (pick.action === 'resume' && pick.url) await downloadGgufModel({ url: pick.url });
    else if (pick.target) await deleteTarget(pick.target);
  }

  return [
    vscode.commands.registerCommand('switchyard.pullModel', (args?: PullModelArgs) => pullModel(args)),
    vscode.commands.registerCommand('switchyard.deleteModel', (args?: DeleteModelArgs) => deleteModel(args)),
    vscode.commands.registerCommand('switchyard.downloadGgufModel', (args?: { providerId?: string; model?: string; url?: string; sha256?: string }) => downloadGgufModel(args)),
    vscode.commands.registerCommand('switchyard.manageModels', () => manageModels()),
  ];
}

function actionsFor(e: ModelError): { title: string; command: string }[] {
  if (e.kind === 'unreachable') return [{ title: 'Show Logs', command: 'switchyard.showLogs' }];
  if (e.kind === 'diskFull') return [{ title: 'Manage Models', command: 'switchyard.manageModels' }];
  return [];
}
