/**
 * API keys live in SecretStorage only; environment variables are the fallback. Known keys are also handed to the
 * logger's redaction so that no key can reach the log, an error or the UI even if a server echoes it back.
 */
import * as vscode from 'vscode';
import type { SecretSource } from '../core/host';

const PREFIX = 'switchyard.apiKey.';

export interface KeyChange {
  providerId: string;
  change: 'set' | 'cleared';
}

export class Secrets implements SecretSource {
  private readonly known = new Set<string>();
  private readonly changed = new vscode.EventEmitter<KeyChange>();
  /** Fires after a key was stored or removed (for the audit list); carries the provider, never the key. */
  readonly onDidChangeKey = this.changed.event;

  constructor(private readonly storage: vscode.SecretStorage) {}

  async getApiKey(providerId: string, apiKeyEnv?: string): Promise<string | undefined> {
    const stored = await this.storage.get(PREFIX + providerId);
    const key = stored || (apiKeyEnv ? process.env[apiKeyEnv] : undefined) || undefined;
    if (key) this.known.add(key);
    return key;
  }

  async hasStoredKey(providerId: string): Promise<boolean> {
    return Boolean(await this.storage.get(PREFIX + providerId));
  }

  async store(providerId: string, key: string): Promise<void> {
    this.known.add(key);
    await this.storage.store(PREFIX + providerId, key);
    this.changed.fire({ providerId, change: 'set' });
  }

  async clear(providerId: string): Promise<void> {
    await this.storage.delete(PREFIX + providerId);
    this.changed.fire({ providerId, change: 'cleared' });
  }

  /** Values to scrub from any text leaving the core. */
  values(): string[] {
    return [...this.known];
  }
}
