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
}

export class Switchyard {
  readonly registry: ProviderRegistry;
  readonly router: Router;
  private current: SwitchyardConfig;

  constructor(options: SwitchyardOptions) {
    this.current = options.config;
    const logger = options.logger ?? silentLogger;
    this.registry = new ProviderRegistry({ secrets: options.secrets, logger, fetch: options.fetch, create: options.createProvider });
    this.registry.update(options.config);
    this.router = new Router({
      config: () => this.current,
      providers: this.registry,
      privacy: () => options.privacy(this.current),
      askCloud: options.askCloud,
      usage: options.usage,
      price: options.price,
      logger,
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
  }
}
