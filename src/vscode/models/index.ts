/**
 * The model manager in VS Code: Pull Model (Ollama; also the action offered when a route fails with
 * `modelMissing`, called with `{ providerId, model }`), Delete Model, Download GGUF Model (into global storage,
 * which kind `embedded` serves) and Manage Models, as quick picks: the commands of one ModelManager, whose long
 * tasks run in withCancellableProgress (../progress.ts). What needs no editor (folders, progress steps) is ./report.ts.
 */
import * as vscode from 'vscode';
import { join } from 'node:path';
import { isModelError, type ModelError } from '../../core/models/errors';
import { downloadGguf } from '../../core/models/gguf';
import { deleteLocalModel, formatBytes, listLocalModels, listPartialDownloads } from '../../core/models/modelsFolder';
import { deleteOllamaModel, listOllamaModels, pullOllamaModel, type OllamaModel } from '../../core/models/ollama';
import type { ProviderConfig } from '../../core/providers/types';
import type { Services } from '../services';
import { withCancellableProgress } from '../progress';
import { downloadSteps, ggufDirFor, ggufFolders, pullSteps } from './report';

interface PullModelArgs {
  providerId?: string;
  model?: string;
}

/** Download GGUF Model's arguments: a route's provider and model (a chat's action), or the settings panel's URL. */
interface DownloadGgufArgs {
  providerId?: string;
  model?: string;
  url?: string;
  sha256?: string;
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
function modelsDirOf(services: Services): string {
  return join(services.context.globalStorageUri.fsPath, 'models');
}

/** Every folder with GGUF models: global storage, and embedded providers' folder modelPaths, with who serves each. */
export function ggufDirs(services: Services): { dir: string; providerIds: string[] }[] {
  return ggufFolders(services.switchyard.registry.list(), modelsDirOf(services));
}

export function registerModels(services: Services): vscode.Disposable[] {
  return new ModelManager(services).register();
}

type Target = NonNullable<ModelItem['target']>;

/**
 * Pull, delete, download and manage models: the commands (also run by the settings panel's Models section and a
 * chat's Pull action), each long one in one cancellable progress notification (withCancellableProgress).
 */
class ModelManager {
  private readonly modelsDir: string;

  constructor(private readonly services: Services) {
    this.modelsDir = modelsDirOf(services);
    services.switchyard.embedded.configure({ modelsDir: this.modelsDir });
  }

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('switchyard.pullModel', (args?: PullModelArgs) => this.pull(args)),
      vscode.commands.registerCommand('switchyard.deleteModel', (args?: DeleteModelArgs) => this.delete(args)),
      vscode.commands.registerCommand('switchyard.downloadGgufModel', (args?: DownloadGgufArgs) => this.downloadGguf(args)),
      vscode.commands.registerCommand('switchyard.manageModels', () => this.manage()),
    ];
  }

  private get sy() {
    return this.services.switchyard;
  }

  private ollamaProviders(): ProviderConfig[] {
    return this.sy.registry.list().filter((p) => p.kind === 'ollama');
  }

  private changed(providerId?: string): void {
    this.sy.registry.forget(providerId);
    this.services.refreshRoutes();
    modelsChanged.fire(providerId);
  }

  private fail(e: unknown, what: string): void {
    if (isModelError(e) && e.kind === 'canceled') {
      void vscode.window.showInformationMessage(`Switchyard: ${e.message}`);
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    this.services.log.warn(`${what}: ${message}`);
    const actions = isModelError(e) ? actionsFor(e) : [];
    void vscode.window.showErrorMessage(`Switchyard: ${message}`, ...actions.map((a) => a.title)).then((choice) => {
      const chosen = actions.find((a) => a.title === choice);
      if (chosen) void vscode.commands.executeCommand(chosen.command);
    });
  }

  /**
   * Whether the privacy policy lets this provider be contacted for `what`; when not, logs why under `logAs` and says
   * so (with Open Settings when `openSettings`).
   */
  private async mayContact(providerId: string, what: string, logAs: string, openSettings: boolean): Promise<boolean> {
    const gate = await this.sy.router.mayContact(providerId, what);
    if (gate.ok) return true;
    this.services.log.warn(`${logAs}: ${gate.reason}`);
    const actions = openSettings ? ['Open Settings'] : [];
    void vscode.window.showWarningMessage(`Switchyard: ${gate.reason}.`, ...actions).then((c) => {
      if (c) void vscode.commands.executeCommand('workbench.action.openSettingsJson');
    });
    return false;
  }

  private async pickOllama(given?: string): Promise<ProviderConfig | undefined> {
    const all = this.ollamaProviders();
    if (given) return all.find((p) => p.id === given);
    if (all.length <= 1) return all[0];
    const items = all.map((p) => ({ label: p.id, description: p.baseUrl, p }));
    const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Pull Model', placeHolder: 'Ollama server' });
    return pick?.p;
  }

  async pull(args?: PullModelArgs): Promise<boolean> {
    const chosen = args?.providerId ? this.sy.registry.list().find((p) => p.id === args.providerId) : undefined;
    if (chosen?.kind === 'embedded') return this.downloadGguf({ providerId: chosen.id, model: args?.model });
    const provider = await this.pickOllama(chosen?.id);
    if (!provider) {
      const which = args?.providerId ? `"${args.providerId}" is not an Ollama provider` : 'no Ollama provider is configured';
      const message = `Switchyard: ${which}; to run a GGUF model without a server, use Download GGUF Model.`;
      void vscode.window.showWarningMessage(message, 'Download GGUF Model').then((c) => {
        if (c) void vscode.commands.executeCommand('switchyard.downloadGgufModel');
      });
      return false;
    }
    const name =
      args?.model ??
      (await vscode.window.showInputBox({
        title: `Pull a model into ${provider.id}`,
        prompt: 'An Ollama model name, e.g. qwen2.5-coder:1.5b or nomic-embed-text',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Enter a model name'),
      }));
    if (!name?.trim()) return false;
    if (!(await this.mayContact(provider.id, 'pull', `pull ${name.trim()}`, true))) return false;
    try {
      await withCancellableProgress(`Pulling ${name} into ${provider.id}`, async (progress, signal) => {
        const step = pullSteps();
        await pullOllamaModel({ baseUrl: provider.baseUrl, signal }, name.trim(), (p) => progress.report(step(p)));
      });
      this.services.log.info(`pulled ${name} into ${provider.id}`);
      this.changed(provider.id);
      void vscode.window.showInformationMessage(`Switchyard: ${name} is ready on ${provider.id}.`);
      return true;
    } catch (e) {
      this.fail(e, `pull ${name}`);
      return false;
    }
  }

  /** The URL and checksum of a GGUF file: as given (the settings panel), else asked for; undefined when canceled. */
  private async askGguf(dir: string, args?: DownloadGgufArgs): Promise<{ url: string; sha256: string } | undefined> {
    const wanted = args?.model ? `. The route wants "${args.model}": name the file ${args.model}.gguf` : '';
    const url =
      args?.url ??
      (await vscode.window.showInputBox({
        title: 'Switchyard: Download GGUF Model',
        prompt: `An https URL of a .gguf file (e.g. a model file on a model hub); saved in ${dir}${wanted}`,
        placeHolder: 'https://huggingface.co/…/resolve/main/model-q4_k_m.gguf',
        ignoreFocusOut: true,
        validateInput: (v) => (/^https?:\/\/.+\.gguf(\?.*)?$/i.test(v.trim()) ? undefined : 'An http(s) URL ending in .gguf'),
      }));
    if (!url?.trim()) return undefined;
    // Given with the URL ('' for none, as the settings panel sends it): no second prompt.
    const sha256 =
      args?.url !== undefined && args.sha256 !== undefined
        ? args.sha256
        : await vscode.window.showInputBox({
            title: 'sha256 of the file (optional)',
            prompt: 'Paste the checksum the hub shows to have the file verified, or leave empty',
            ignoreFocusOut: true,
            validateInput: (v) => (v.trim() === '' || /^[0-9a-fA-F]{64}$/.test(v.trim()) ? undefined : '64 hex digits, or empty'),
          });
    return sha256 === undefined ? undefined : { url: url.trim(), sha256: sha256.trim() };
  }

  async downloadGguf(args?: DownloadGgufArgs): Promise<boolean> {
    const dir = ggufDirFor(this.sy.registry.list(), this.modelsDir, args?.providerId);
    const file = await this.askGguf(dir, args);
    if (!file) return false;
    try {
      const result = await withCancellableProgress('Downloading GGUF model', async (progress, signal) => {
        const step = downloadSteps();
        return downloadGguf({
          url: file.url,
          dir,
          sha256: file.sha256 || undefined,
          signal,
          onProgress: (p) => {
            const s = step(p);
            if (s) progress.report(s);
          },
        });
      });
      this.services.log.info(`downloaded GGUF ${result.id} (${formatBytes(result.sizeBytes)}, sha256 ${result.sha256})`);
      this.changed();
      void vscode.window.showInformationMessage(
        `Switchyard: ${result.id} is ready. Use it as "<embedded provider id>/${result.id}" in switchyard.tasks ` +
          '(an entry { "id": "embedded", "kind": "embedded" } in switchyard.providers serves this folder).',
      );
      return true;
    } catch (e) {
      this.fail(e, 'download GGUF');
      return false;
    }
  }

  /** What Manage Models and Delete Model list: each Ollama server's models, then each GGUF folder's files. */
  private async installed(): Promise<ModelItem[]> {
    const items: ModelItem[] = [];
    for (const p of this.ollamaProviders()) {
      // Listing is not worth a consent question: a cloud Ollama is listed only where cloud use needs none.
      if (!p.local && !this.sy.router.cloudAllowedOutright()) continue;
      let models: OllamaModel[] = [];
      try {
        models = await listOllamaModels({ baseUrl: p.baseUrl, signal: AbortSignal.timeout(3000) });
      } catch {
        continue; // not running: nothing to list
      }
      if (models.length) items.push({ label: p.id, kind: vscode.QuickPickItemKind.Separator });
      for (const m of models) {
        const description = [formatBytes(m.sizeBytes), m.family, m.parameterSize, m.quantization].filter(Boolean).join(' · ');
        items.push({ label: m.name, description, target: { kind: 'ollama', provider: p, name: m.name } });
      }
    }
    for (const dir of new Set(ggufDirs(this.services).map((d) => d.dir))) items.push(...(await ggufItems(dir)));
    return items;
  }

  private async deleteTarget(target: Target): Promise<boolean> {
    const name = target.kind === 'ollama' ? `${target.name} from ${target.provider.id}` : `${target.id} (${target.dir})`;
    const ok = await vscode.window.showWarningMessage(`Delete ${name}?`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return false;
    if (target.kind === 'ollama' && !(await this.mayContact(target.provider.id, 'delete a model', `delete ${name}`, false))) return false;
    try {
      if (target.kind === 'ollama') await deleteOllamaModel({ baseUrl: target.provider.baseUrl }, target.name);
      else await deleteLocalModel(target.dir, target.id);
      this.services.log.info(`deleted ${name}`);
      this.changed(target.kind === 'ollama' ? target.provider.id : undefined);
      void vscode.window.showInformationMessage(`Switchyard: deleted ${name}.`);
      return true;
    } catch (e) {
      this.fail(e, `delete ${name}`);
      return false;
    }
  }

  async delete(args?: DeleteModelArgs): Promise<boolean> {
    if (args && 'providerId' in args) {
      const provider = this.ollamaProviders().find((p) => p.id === args.providerId);
      if (!provider) throw new Error(`"${args.providerId}" is not an Ollama provider.`);
      return this.deleteTarget({ kind: 'ollama', provider, name: args.model });
    }
    if (args) {
      // Only a folder this extension lists: a caller cannot point the delete anywhere else.
      if (!ggufDirs(this.services).some((d) => d.dir === args.dir)) throw new Error(`${args.dir} is not a Switchyard models folder.`);
      return this.deleteTarget({ kind: 'gguf', dir: args.dir, id: args.id });
    }
    const items = (await this.installed()).filter((i) => i.kind === vscode.QuickPickItemKind.Separator || i.target);
    if (!items.some((i) => i.target)) {
      void vscode.window.showInformationMessage('Switchyard: no models to delete (no Ollama models found and no GGUF files downloaded).');
      return false;
    }
    const pick = await vscode.window.showQuickPick(items, { title: 'Switchyard: Delete Model', placeHolder: 'Model to delete' });
    return pick?.target ? this.deleteTarget(pick.target) : false;
  }

  async manage(): Promise<void> {
    const items: ModelItem[] = [
      { label: '$(cloud-download) Pull Model…', description: 'into Ollama', action: 'pull' },
      { label: '$(desktop-download) Download GGUF Model…', description: 'run by Switchyard itself (kind embedded)', action: 'download' },
      ...(await this.installed()),
    ];
    const pick = await vscode.window.showQuickPick(items, {
      title: 'Switchyard: Manage Models',
      placeHolder: 'Select a model to delete it, or an action',
      matchOnDescription: true,
    });
    if (!pick) return;
    if (pick.action === 'pull') await this.pull();
    else if (pick.action === 'download') await this.downloadGguf();
    else if (pick.action === 'resume' && pick.url) await this.downloadGguf({ url: pick.url });
    else if (pick.target) await this.deleteTarget(pick.target);
  }
}

/** A GGUF folder's files and interrupted downloads (select one to resume it), under a separator. */
async function ggufItems(dir: string): Promise<ModelItem[]> {
  const local = listLocalModels(dir);
  const partial = await listPartialDownloads(dir);
  const items: ModelItem[] = [];
  if (local.length || partial.length) items.push({ label: `GGUF · ${dir}`, kind: vscode.QuickPickItemKind.Separator });
  for (const m of local) {
    items.push({ label: m.id, description: `${formatBytes(m.sizeBytes)} · gguf`, target: { kind: 'gguf', dir, id: m.id } });
  }
  for (const p of partial) {
    const of = p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : '';
    items.push({
      label: `$(debug-pause) ${p.fileName}`,
      description: `interrupted at ${formatBytes(p.receivedBytes)}${of}: select to resume`,
      action: 'resume',
      url: p.url,
      target: { kind: 'gguf', dir, id: p.fileName },
    });
  }
  return items;
}

function actionsFor(e: ModelError): { title: string; command: string }[] {
  if (e.kind === 'unreachable') return [{ title: 'Show Logs', command: 'switchyard.showLogs' }];
  if (e.kind === 'diskFull') return [{ title: 'Manage Models', command: 'switchyard.manageModels' }];
  return [];
}
