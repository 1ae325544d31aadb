/**
 * Turns settings into providers: configured entries, presets named by candidates ("openai/gpt-4.1-mini" works
 * with nothing but a key), and the zero-config local servers on their standard ports. Instances are reused while
 * their configuration is unchanged; discovery is cached briefly.
 */
import { pathToFileURL } from 'node:url';
import { silentLogger, systemClock, type Clock, type Logger, type SecretSource } from '../host';
import { splitRef, type SwitchyardConfig } from '../config/config';
import { createProvider } from '../providers/index';
import { mergeWithDiscovered } from '../config/catalog';
import { LOCAL_DEFAULTS, getPreset, configFromPreset } from '../providers/presets';
import type { ModelInfo, Provider, ProviderConfig } from '../providers/types';
import type { EmbeddedRuntime } from '../providers/embedded/runtime';
import { isLocalUrl } from './privacy';
import type { ProviderSource } from './router';

export interface RegistryDeps {
  secrets: SecretSource;
  logger?: Logger;
  fetch?: typeof fetch;
  /** How long discovered model lists are trusted. */
  discoveryTtlMs?: number;
  /** Times discovery (tests move it); performance.now by default. */
  clock?: Clock;
  /** Builds a provider; tests and the embedded host may replace it. */
  create?: (config: ProviderConfig) => Provider;
  /** The child process that runs kind `embedded`. */
  embedded?: EmbeddedRuntime;
}

/** The provider configurations a config implies, in order: configured, presets named by candidates, local defaults. */
export function resolveProviders(config: SwitchyardConfig): ProviderConfig[] {
  const out: ProviderConfig[] = [];
  const ids = new Set<string>();
  for (const p of config.providers) {
    if (p.kind === 'embedded') {
      // Runs in a child process of this machine: always local. The "URL" only names what it serves.
      out.push({
        id: p.id,
        kind: p.kind,
        baseUrl: p.modelPath ? pathToFileURL(p.modelPath).href : 'embedded:',
        local: true,
        modelPath: p.modelPath,
      });
      ids.add(p.id);
      continue;
    }
    const base = p.preset ? configFromPreset(p.preset, { id: p.id, baseUrl: p.baseUrl, apiKeyEnv: p.apiKeyEnv }) : undefined;
    const baseUrl = p.baseUrl ?? base?.baseUrl ?? '';
    out.push({
      id: p.id,
      kind: p.kind,
      baseUrl,
      local: p.local ?? isLocalUrl(baseUrl, config.localHosts),
      preset: p.preset,
      apiKeyEnv: p.apiKeyEnv ?? base?.apiKeyEnv,
    });
    ids.add(p.id);
  }
  const named = new Set<string>();
  for (const list of Object.values(config.tasks)) {
    for (const c of list) {
      const ref = splitRef(c.ref);
      if (ref) named.add(ref.providerId);
      if (ref && !ids.has(ref.providerId) && getPreset(ref.providerId)) {
        const preset = configFromPreset(ref.providerId);
        out.push({ ...preset, local: preset.local && isLocalUrl(preset.baseUrl, config.localHosts) });
        ids.add(ref.providerId);
      }
    }
  }
  // The standard local ports are probed only with zero configuration (no switchyard.providers): a user who lists
  // providers said where to look. A default a task names by id ("ollama/qwen2.5-coder:7b") is kept either way.
  const zeroConfig = config.providers.length === 0;
  for (const d of LOCAL_DEFAULTS) {
    if (!ids.has(d.id) && (zeroConfig || named.has(d.id))) {
      out.push({ ...d });
      ids.add(d.id);
    }
  }
  return out;
}

function sameConfig(a: ProviderConfig, b: ProviderConfig): boolean {
  return (
    a.id === b.id &&
    a.kind === b.kind &&
    a.baseUrl === b.baseUrl &&
    a.local === b.local &&
    a.preset === b.preset &&
    a.apiKeyEnv === b.apiKeyEnv &&
    a.modelPath === b.modelPath
  );
}

export class ProviderRegistry implements ProviderSource {
  private configs: ProviderConfig[] = [];
  private readonly instances = new Map<string, Provider>();
  private readonly discovered = new Map<string, { at: number; models: ModelInfo[] }>();
  private readonly inflight = new Map<string, Promise<ModelInfo[]>>();
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(private readonly deps: RegistryDeps) {
    this.logger = deps.logger ?? silentLogger;
    this.clock = deps.clock ?? systemClock;
  }

  /** Applies new settings; providers whose configuration changed are rebuilt and their discovery forgotten. */
  update(config: SwitchyardConfig): void {
    const next = resolveProviders(config);
    for (const [id, instance] of this.instances) {
      const now = next.find((c) => c.id === id);
      if (!now || !sameConfig(now, instance.config)) {
        this.instances.delete(id);
        this.discovered.delete(id);
      }
    }
    this.configs = next;
  }

  list(): ProviderConfig[] {
    return this.configs;
  }

  get(providerId: string): Provider | undefined {
    const existing = this.instances.get(providerId);
    if (existing) return existing;
    const config = this.configs.find((c) => c.id === providerId);
    if (!config) return undefined;
    const provider = this.deps.create
      ? this.deps.create(config)
      : createProvider(config, { secrets: this.deps.secrets, logger: this.logger, fetch: this.deps.fetch, embedded: this.deps.embedded });
    this.instances.set(providerId, provider);
    return provider;
  }

  cachedModels(providerId: string, maxAgeMs = this.deps.discoveryTtlMs ?? 60_000): ModelInfo[] | undefined {
    const hit = this.discovered.get(providerId);
    if (!hit) return undefined;
    if (this.clock.now() - hit.at > maxAgeMs) return undefined;
    return hit.models;
  }

  async discover(providerId: string, signal?: AbortSignal, maxAgeMs?: number): Promise<ModelInfo[]> {
    const cached = this.cachedModels(providerId, maxAgeMs);
    if (cached) return cached;
    const pending = this.inflight.get(providerId);
    if (pending) return pending;
    const provider = this.get(providerId);
    if (!provider) return [];
    const p = provider
      .listModels(signal)
      .then((found) => {
        // What the server says wins; the catalog fills in context windows and capabilities it left out.
        const models: ModelInfo[] = mergeWithDiscovered(found, provider.config.preset ?? provider.config.kind);
        this.discovered.set(providerId, { at: this.clock.now(), models });
        return models;
      })
      .finally(() => this.inflight.delete(providerId));
    this.inflight.set(providerId, p);
    return p;
  }

  /** Forgets discovery (after a pull or delete, or when the user asks to refresh). */
  forget(providerId?: string): void {
    if (providerId) this.discovered.delete(providerId);
    else this.discovered.clear();
  }
}
