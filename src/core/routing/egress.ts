/**
 * What a cloud candidate receives: the request's texts with secrets redacted (or the request blocked), measured for
 * the egress record. Local candidates never pass through here: they get the text unchanged.
 */
import type { RedactMode } from '../config/config';
import type { EgressSource } from '../usage/ledger';
import { redactSecrets } from './secrets';

export interface Outbound {
  /** The texts to send, in the input's order (redacted under "redact"). */
  texts: string[];
  /** Secrets found, by kind (counts only). */
  redactions: Record<string, number>;
  found: number;
  /** UTF-8 bytes of the texts sent. */
  bytes: number;
}

/** Scans every text for secrets (and the workspace's known secret values) and applies the mode. */
export function outbound(texts: readonly string[], mode: RedactMode, knownValues: readonly string[] = []): Outbound {
  const redactions: Record<string, number> = {};
  let found = 0;
  const out = texts.map((text) => {
    if (mode === 'off') return text;
    const r = redactSecrets(text, { knownValues });
    found += r.found;
    for (const [kind, n] of Object.entries(r.redactions)) redactions[kind] = (redactions[kind] ?? 0) + n;
    return mode === 'redact' ? r.text : text;
  });
  return { texts: out, redactions, found, bytes: out.reduce((n, t) => n + Buffer.byteLength(t), 0) };
}

/** Sources named once each, in order (a file attached twice, or cited by two chunks of the same lines). */
export function uniqueSources(sources: readonly EgressSource[] = []): EgressSource[] {
  const seen = new Set<string>();
  return sources.filter((s) => {
    const key = `${s.path}:${s.startLine ?? ''}-${s.endLine ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
