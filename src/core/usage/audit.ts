/** The usage ledger's audit list of settings changes: entries in words, never with a key value. */
import { redact } from '../host';

export interface AuditEntry {
  at: string;
  /** The setting, e.g. "switchyard.privacy". */
  key: string;
  /** What changed, in words ("ask → local-only"); never a key value. */
  change: string;
}

/** An audit entry for an API key stored or removed: names the provider, never the value. */
export function apiKeyChange(providerId: string, change: 'set' | 'cleared', at = new Date().toISOString()): AuditEntry {
  const words = change === 'set' ? 'set (stored in SecretStorage; the value is never recorded)' : 'cleared';
  return { at, key: `API key of ${providerId}`, change: words };
}

/** Settings changes between two snapshots of the `switchyard.*` keys, in words, never with key values. */
export function settingsChanges(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
  at = new Date().toISOString(),
): AuditEntry[] {
  const out: AuditEntry[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a === b) continue;
    const secretish = /key|token|secret|password/i.test(key);
    const show = (v: string | undefined) =>
      v === undefined ? '(default)' : secretish ? '(hidden)' : v.length > 300 ? `${v.slice(0, 300)}…` : v;
    out.push({ at, key, change: redact(`${show(a)} → ${show(b)}`) });
  }
  return out;
}
