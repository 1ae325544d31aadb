/**
 * The core, composed: configuration → provider registry → router. The VS Code adapter, the CLI and the gateway
 * each build one of these with their own host parts (secrets, log, privacy context, how to ask about cloud use).
 */
import type { SwitchyardConfig } from './config/config';
import { silentLogger, type Logger, type SecretSource } from './host';
import { ProviderRegistry } from './routing/registry';
import { Router } from './routing/router';
import type { AskCloud, PrivacyContext } from './routing/privacy';
import type { UsageSink } from './usage/ledger';
import type { Provider, ProviderConfig } from './providers/types';
import { EmbeddedRuntime } from './providers/embedded/runtime';

export interface SwitchyardOptions {
  config: SwitchyardConfig;
  secrets: SecretSource;
  logger?: Logger;
  /** The workspace's trust and opt-out, read at request time. */
  privacy: (config: SwitchyardConfig) => PrivacyContext;
  askCloud?: AskCloud;
  usage?: UsageSink;
  fetch?: typeof fetch;
  price?: (provider: ProviderConfig, model: string, inputTokens: number, outputTokens: number) => number | undefined;
  createProvider?: (config: ProviderConfig) => Provider;
  /** Where downloaded GGUF models live (kind `embedded` serves this folder when an entry names no modelPath). */
  modelsDir?: string;
  /** Replaces the embedded runtime's worker script (tests). */
  embeddedWorkerPath?: string;
  /** Literal secret values to keep out of cloud requests (the workspace's .env values, stored API keys). */
  secretValues?: () => readonly string[];
}

function embeddedOptions(config: SwitchyardConfig) {
  return {
    idleTimeoutMs: config.embedded.idleTimeoutSeconds * 1000,
    maxLoadedModels: config.embedded.maxLoadedModels,
    gpu: config.embedded.gpu === 'off' ? (false as const) : ('auto' as const),
  };
}

export class Switchyard {
  readonly registry: ProviderRegistry;
  readonly router: Router;
  /** The child process that runs embedded (GGUF) models: started on first use, stopped when idle. */
  readonly embedded: EmbeddedRuntime;
  private current: SwitchyardConfig;

  constructor(options: SwitchyardOptions) {
    this.current = options.config;
    const logger = options.logger ?? silentLogger;
    this.embedded = new EmbeddedRuntime({
      ...embeddedOptions(options.config),
      modelsDir: options.modelsDir,
      workerPath: options.embeddedWorkerPath,
      logger,
    });
    this.registry = new ProviderRegistry({
      secrets: options.secrets,
      logger,
      fetch: options.fetch,
      create: options.createProvider,
      embedded: this.embedded,
    });
    this.registry.update(options.config);
    this.router = new Router({
      config: () => this.current,
      providers: this.registry,
      privacy: () => options.privacy(this.current),
      askCloud: options.askCloud,
      usage: options.usage,
      price: options.price,
      logger,
      secretValues: options.secretValues,
    });
  }

  get config(): SwitchyardConfig {
    return this.current;
  }

  /** Applies changed settings without a restart: providers rebuilt as needed, cool-downs kept. */
  setConfig(config: SwitchyardConfig): void {
    this.current = config;
    this.registry.update(config);
    this.router.health.setCooldown(config.cooldownMs);
    this.embedded.configure(embeddedOptions(config));
  }

  /** Stops the embedded models' process (end of a CLI command). */
  dispose(): void {
    this.embedded.dispose();
  }

  /** As dispose(), resolving once the embedded models' process has exited (extension deactivation). */
  close(): Promise<void> {
    return this.embedded.close();
  }
}
