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

/** Replaces anything that looks like a credential in text meant for logs, errors or the UI. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi, '$1***')
    .replace(/\b(sk|xai|gsk|pk|rk)-[A-Za-z0-9_-]{8,}/g, '$1-***')
    .replace(/([?&](?:key|api_key|apikey|token)=)[^&\s]+/gi, '$1***');
}
