/**
 * "Switchyard: Open Model Settings": a WebviewPanel over the same `switchyard.*` settings. It shows what settings.json
 * says (re-sent on every change, hand edits included) and writes the user's edits back. Providers and privacy are
 * written to user settings only (application scope: a workspace can never override them); the cloud opt-out is written
 * to the workspace, where it can only make things stricter. Keys go to SecretStorage through a host input box and
 * never reach the webview.
 */
import * as vscode from 'vscode';
import { TASKS, type TaskName } from '../../core/config/config';
import { describePlan, describeSkip } from '../../core/describe';
import { isProviderError } from '../../core/errors';
import { LOCAL_DEFAULTS } from '../../core/providers/presets';
import { testFailure } from '../chat/errorActions';
import type {
  ProviderEdit,
  ProviderView,
  RouteView,
  SettingsNotifications,
  SettingsRequests,
  SettingsState,
  TestResult,
} from '../../protocol/settings';
import { inspectSetting, readSettings, updateSetting, workspaceOptedOut } from '../settings';
import { askApiKey } from '../secrets';
import type { Services } from '../services';
import { WebviewHost } from '../webview/host';
import { webviewHtml, webviewOptions } from '../webview/html';
import { SETTINGS_SHAPES } from '../webview/validate';
import { modelOptions, toView, writeTask } from './model';
import { deleteModel, downloadGguf, installedModels, pullModel } from './installed';
import { onDidChangeModels } from '../models';

export class SettingsPanel implements vscode.Disposable {
  static current?: SettingsPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private soon: ReturnType<typeof setTimeout> | undefined;
  private readonly host: WebviewHost<SettingsRequests, SettingsNotifications, keyof SettingsRequests>;

  static show(services: Services): SettingsPanel {
    if (SettingsPanel.current) {
      SettingsPanel.current.panel.reveal();
      return SettingsPanel.current;
    }
    const panel = vscode.window.createWebviewPanel('switchyard.settings', 'Switchyard Model Settings', vscode.ViewColumn.Active, {
      ...webviewOptions(services.context.extensionUri),
      retainContextWhenHidden: false,
    });
    SettingsPanel.current = new SettingsPanel(panel, services);
    return SettingsPanel.current;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly services: Services,
  ) {
    panel.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'switchyard.svg');
    panel.webview.html = webviewHtml(panel.webview, services.context.extensionUri, 'settings', 'Switchyard Model Settings');
    this.host = this.listen();
    this.disposables.push(this.host);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    vscode.workspace.onDidChangeConfiguration(
      (e) => {
        // The extension re-reads settings in its own listener; read them here as well so the order does not matter.
        if (e.affectsConfiguration('switchyard')) void this.pushState();
      },
      null,
      this.disposables,
    );
    // A model pulled from the command palette (or a chat's Pull action) shows here at once.
    onDidChangeModels(() => void this.pushInstalled(), null, this.disposables);
    // So does a key set or cleared elsewhere (Switchyard: Set API Key, a chat's action, another window): its badge,
    // and the provider's models, which the page asks for again on every state.
    services.secrets.onDidChangeStoredKey(() => this.pushStateSoon(), null, this.disposables);
    // And a server going down or coming back (seen by a request, a probe, the index): the routes each task shows and
    // "(found on this machine)" follow the router's health, as the status bar and the chat's header do.
    this.disposables.push(services.switchyard.router.health.onChange(() => this.pushStateSoon()));
  }

  /** Coalesced: a key or health change can come in a burst (one per provider, reported from inside routing). */
  private pushStateSoon(): void {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => void this.pushState(), 100);
  }

  private async pushInstalled(): Promise<void> {
    this.host.notify('settings/installed', await installedModels(this.services));
  }

  dispose(): void {
    clearTimeout(this.soon);
    if (SettingsPanel.current === this) SettingsPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  async state(): Promise<SettingsState> {
    const { config, problems } = readSettings();
    const configured = new Map(config.providers.map((p) => [p.id, p]));
    const registry = this.services.switchyard.registry;
    const providers: ProviderView[] = await Promise.all(
      registry.list().map(async (p) => {
        const s = configured.get(p.id);
        // A zero-config server is "found on this machine" only when it answers now (the list holds every standard
        // port whether or not anything listens there).
        const answered = s
          ? undefined
          : await registry
              .get(p.id)
              ?.health(AbortSignal.timeout(1500))
              .then(
                () => true,
                () => false,
              );
        return {
          id: p.id,
          kind: p.kind as ProviderView['kind'],
          baseUrl: s?.baseUrl,
          preset: s?.preset ?? p.preset,
          local: s?.local,
          effectiveLocal: p.local,
          effectiveBaseUrl: p.baseUrl,
          apiKeyEnv: s?.apiKeyEnv ?? p.apiKeyEnv,
          hasStoredKey: await this.services.secrets.hasStoredKey(p.id),
          implicit: !s,
          ...(answered === undefined ? {} : { answered }),
        };
      }),
    );
    const inspected = inspectSetting('switchyard.workspaceCloudOptOut');
    return {
      providers,
      tasks: Object.fromEntries(TASKS.map((t) => [t, config.tasks[t].map(toView)])) as SettingsState['tasks'],
      privacy: config.privacy,
      workspaceOptOut: inspected?.workspaceValue === true,
      optOutAnywhere: workspaceOptedOut(),
      trusted: vscode.workspace.isTrusted,
      hasWorkspace: (vscode.workspace.workspaceFolders?.length ?? 0) > 0,
      problems: problems.map((p) => p.message),
      defaultUrls: defaultUrls(),
    };
  }

  private async pushState(): Promise<void> {
    this.host.notify('settings/state', await this.state());
  }

  /** The panel's protocol: one handler per request of SettingsRequests (src/protocol/settings.ts). */
  private listen(): WebviewHost<SettingsRequests, SettingsNotifications, keyof SettingsRequests> {
    const cfg = () => vscode.workspace.getConfiguration();
    const global = vscode.ConfigurationTarget.Global;
    const services = this.services;
    return (
      new WebviewHost<SettingsRequests, SettingsNotifications>(this.panel.webview, {
        shapes: SETTINGS_SHAPES,
        label: 'settings panel',
        log: services.log,
        onReady: () => void this.pushState(),
      })
        .on('settings/setTask', (p) => writeTask(p.task, p.candidates).then(() => null))
        .on('settings/saveProvider', (p) => this.saveProvider(p.provider, p.previousId))
        .on('settings/removeProvider', async (p) => {
          await cfg().update(
            'switchyard.providers',
            this.rawProviders().filter((r) => r.id !== p.id),
            global,
          );
          return null;
        })
        .on('settings/setKey', (p) => setKey(services, p.providerId))
        .on('settings/clearKey', (p) => services.secrets.clear(p.providerId).then(() => null))
        .on('settings/test', (p) => this.test(p.providerId))
        .on('settings/models', (p) => modelOptions(services.switchyard, p.refresh))
        .on('settings/routes', () => routeViews(services))
        // Application scope: user settings only, so no workspace can loosen it.
        .on('settings/setPrivacy', (p) => updateSetting('switchyard.privacy', p.mode, global).then(() => null))
        .on('settings/setOptOut', async (p) => {
          if (!vscode.workspace.workspaceFolders?.length) throw new Error('Open a folder first: the opt-out is a workspace setting.');
          await updateSetting('switchyard.workspaceCloudOptOut', p.value ? true : undefined, vscode.ConfigurationTarget.Workspace);
          return null;
        })
        .on('settings/openJson', () => vscode.commands.executeCommand('workbench.action.openSettingsJson').then(() => null))
        .on('settings/installed', () => installedModels(services))
        .on('settings/pullModel', (p) => pullModel(services, p.providerId, p.model))
        .on('settings/deleteModel', (p) => deleteModel(services, p.target))
        .on('settings/downloadGguf', (p) => downloadGguf(services, p.url, p.sha256, p.providerId))
        .listen()
    );
  }

  private async saveProvider(provider: ProviderEdit, previousId: string | undefined): Promise<null> {
    const list = this.rawProviders();
    const edit = clean(provider);
    const at = list.findIndex((p) => p.id === (previousId ?? edit.id));
    if (previousId === undefined && at >= 0) throw new Error(`A provider named "${edit.id}" already exists.`);
    if (at >= 0) {
      // Keep fields the panel does not edit (modelPath, …).
      const { baseUrl: _b, preset: _p, local: _l, apiKeyEnv: _a, ...rest } = list[at]!;
      list[at] = { ...rest, ...edit };
    } else list.push(edit);
    await vscode.workspace.getConfiguration().update('switchyard.providers', list, vscode.ConfigurationTarget.Global);
    return null;
  }

  private async test(id: string): Promise<TestResult> {
    const { registry, router } = this.services.switchyard;
    const provider = registry.get(id);
    if (!provider) throw new Error(`No provider "${id}".`);
    try {
      const started = performance.now();
      const health = await provider.health(AbortSignal.timeout(5000));
      const models = await registry.discover(id, AbortSignal.timeout(5000)).catch(() => undefined);
      router.health.markHealthy(id);
      // A zero-config server that answers now is "found on this machine": show it so.
      if (!readSettings().config.providers.some((p) => p.id === id)) void this.pushState();
      return {
        ok: true,
        latencyMs: Math.round(health.latencyMs ?? performance.now() - started),
        version: health.version,
        modelCount: health.modelCount ?? models?.length,
      };
    } catch (e) {
      const kind = isProviderError(e) ? e.kind : 'unreachable';
      const hasKey = kind === 'auth' && (await this.services.secrets.getApiKey(id, provider.config.apiKeyEnv)) !== undefined;
      return testFailure(id, kind, e instanceof Error ? e.message : String(e), hasKey);
    }
  }

  /** switchyard.providers as the user wrote it (user settings; application scope). */
  private rawProviders(): Record<string, unknown>[] {
    const v = vscode.workspace.getConfiguration().inspect<unknown[]>('switchyard.providers')?.globalValue;
    return Array.isArray(v) ? (JSON.parse(JSON.stringify(v)) as Record<string, unknown>[]) : [];
  }
}

async function setKey(services: Services, providerId: string): Promise<{ stored: boolean }> {
  const key = await askApiKey(providerId, "Stored in VS Code's SecretStorage; never written to settings, logs or this panel.");
  if (!key) return { stored: false };
  // The key change reaches discovery, the routes and this page through secrets.onDidChangeStoredKey.
  await services.secrets.store(providerId, key);
  return { stored: true };
}

/** What each task would use now (probing), and what it skips. */
async function routeViews(services: Services): Promise<Record<TaskName, RouteView>> {
  const router = services.switchyard.router;
  const plans = await Promise.all(TASKS.map((t) => router.plan(t, { probe: true }).catch(() => undefined)));
  const out: Partial<Record<TaskName, RouteView>> = {};
  TASKS.forEach((t, i) => {
    const plan = plans[i];
    out[t] = {
      answer: plan ? describePlan(plan) : 'no model available',
      local: plan?.candidate?.local,
      asksFirst: plan?.asksFirst,
      skipped: (plan?.skipped ?? []).map(describeSkip),
    };
  });
  return out as Record<TaskName, RouteView>;
}

/** Each kind's standard local URL (the zero-config defaults), for the provider form's Kind switch. */
function defaultUrls(): SettingsState['defaultUrls'] {
  const out: NonNullable<SettingsState['defaultUrls']> = {};
  for (const d of LOCAL_DEFAULTS) out[d.kind as ProviderView['kind']] ??= d.baseUrl;
  return out;
}

function clean(p: ProviderEdit): Record<string, unknown> {
  const o: Record<string, unknown> = { id: p.id, kind: p.kind };
  if (p.baseUrl) o.baseUrl = p.baseUrl;
  if (p.preset) o.preset = p.preset;
  if (p.local !== undefined) o.local = p.local;
  if (p.apiKeyEnv) o.apiKeyEnv = p.apiKeyEnv;
  return o;
}
