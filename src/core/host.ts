/**
 * What the core needs from whoever hosts it (VS Code, the CLI, tests). Core never imports `vscode`.
 */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SecretSource {
  /** The API key for a provider, or undefined. Never logged. */
  getApiKey(providerId: string, apiKeyEnv?: string): Promise<string | undefined>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Escapes a string for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * Every spelling of a known secret that a server or a URL may echo back: the value itself, percent-encoded in any
 * mix (encodeURIComponent, application/x-www-form-urlencoded with `+` for a space, upper- or lower-case hex), and
 * the base64 runs that contain it at each of the three byte alignments (so `Basic base64(user:key)` is caught
 * whatever the user name). Compiled once per secret.
 */
const secretPatterns = new Map<string, RegExp>();

function secretPattern(secret: string): RegExp {
  let re = secretPatterns.get(secret);
  if (re) return re;
  const chars = [...secret].map((c) => {
    const bytes = [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const alternatives = [escapeRegExp(c), bytes.replace(/[a-f]/g, (h) => `[${h}${h.toUpperCase()}]`)];
    if (c === ' ') alternatives.push('\\+');
    return `(?:${alternatives.join('|')})`;
  });
  const parts = [chars.join('')];
  const raw = Buffer.from(secret, 'utf8');
  for (const offset of [0, 1, 2]) {
    // Characters of base64(prefix + secret) fixed by the secret alone, whatever the `offset` bytes before it.
    const b64 = Buffer.concat([Buffer.alloc(offset), raw]).toString('base64');
    const run = b64.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + raw.length) * 8) / 6));
    if (run.length >= 8) parts.push(escapeRegExp(run), escapeRegExp(run.replace(/\+/g, '-').replace(/\//g, '_')));
  }
  re = new RegExp(parts.join('|'), 'g');
  if (secretPatterns.size > 64) secretPatterns.clear();
  secretPatterns.set(secret, re);
  return re;
}

/** Replaces anything that looks like a credential in text meant for logs, errors or the UI. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.replace(secretPattern(s), '***');
  }
  return (
    out
      .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi, '$1***')
      .replace(/(Basic\s+)[A-Za-z0-9+/=]{6,}/gi, '$1***')
      // Key shapes, also percent-encoded (`sk%2Dabc…`, `sk-abc%2Bdef…`).
      .replace(/\b(sk|xai|gsk|pk|rk)(?:-|%2[dD])[A-Za-z0-9_%-]{8,}/g, '$1-***')
      .replace(/([?&](?:key|api_key|apikey|token|access_token)=)[^&\s]+/gi, '$1***')
  );
}
