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

export class Secrets implements SecretSource, vscode.Disposable {
  private readonly known = new Set<string>();
  private readonly changed = new vscode.EventEmitter<KeyChange>();
  /**
   * Stored keys by provider, read once: every chat request asks for its provider's key, and SecretStorage.get is a
   * round trip to VS Code's main process. Dropped whenever the storage says the secret changed (here or in another
   * window).
   */
  private readonly cache = new Map<string, Promise<string | undefined>>();
  private readonly subscription: vscode.Disposable;
  private readonly anyChange = new vscode.EventEmitter<string>();
  /** Fires after a key was stored or removed (for the audit list); carries the provider, never the key. */
  readonly onDidChangeKey = this.changed.event;
  /**
   * Fires with the provider id whenever its stored key may have changed, wherever it was set: here (the settings
   * panel, Switchyard: Set API Key, a chat's Set API Key action) or in another window. What shows a provider's models
   * or key follows it. May fire twice for one change (here and SecretStorage's own event).
   */
  readonly onDidChangeStoredKey = this.anyChange.event;

  constructor(private readonly storage: vscode.SecretStorage) {
    this.subscription = storage.onDidChange((e) => {
      if (!e.key.startsWith(PREFIX)) return;
      const providerId = e.key.slice(PREFIX.length);
      this.cache.delete(providerId);
      this.anyChange.fire(providerId);
    });
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    this.anyChange.dispose();
    this.cache.clear();
  }

  private stored(providerId: string): Promise<string | undefined> {
    let value = this.cache.get(providerId);
    if (!value) {
      value = Promise.resolve(this.storage.get(PREFIX + providerId));
      this.cache.set(providerId, value);
      // A failed read is not remembered: the next request asks again.
      value.catch(() => this.cache.delete(providerId));
    }
    return value;
  }

  async getApiKey(providerId: string, apiKeyEnv?: string): Promise<string | undefined> {
    const stored = await this.stored(providerId);
    const key = stored || (apiKeyEnv ? process.env[apiKeyEnv] : undefined) || undefined;
    if (key) this.known.add(key);
    return key;
  }

  async hasStoredKey(providerId: string): Promise<boolean> {
    return Boolean(await this.stored(providerId));
  }

  async store(providerId: string, key: string): Promise<void> {
    this.known.add(key);
    this.cache.delete(providerId);
    await this.storage.store(PREFIX + providerId, key);
    this.cache.delete(providerId);
    this.changed.fire({ providerId, change: 'set' });
    this.anyChange.fire(providerId);
  }

  async clear(providerId: string): Promise<void> {
    this.cache.delete(providerId);
    await this.storage.delete(PREFIX + providerId);
    this.cache.delete(providerId);
    this.changed.fire({ providerId, change: 'cleared' });
    this.anyChange.fire(providerId);
  }

  /** Values to scrub from any text leaving the core. */
  values(): string[] {
    return [...this.known];
  }
}

/** Asks for a provider's key in a password box (trimmed; undefined when the user pressed Escape). */
export async function askApiKey(providerId: string, prompt: string): Promise<string | undefined> {
  const key = await vscode.window.showInputBox({
    title: `API key for ${providerId}`,
    prompt,
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'Enter a key, or press Escape to cancel'),
  });
  return key?.trim() || undefined;
}
