/**
 * What every `switchyard` command shares: the --config file (the same `switchyard.*` keys as settings.json, one
 * schema and one validator), keys from the environment, the core built for a terminal, and exit-code errors.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type ParsedConfig } from '../core/config/config';
import type { Logger, SecretSource } from '../core/host';
import { Switchyard } from '../core/switchyard';
import type { RouteAttempt } from '../core/routing/router';
import { privacyContext } from '../core/routing/privacy';
import { dotEnvValues } from '../core/routing/dotenv';
import { priceOf } from '../core/usage/pricing';

/** A usage or configuration error: exit code 2. */
export class UsageError extends Error {}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** A command: gets its arguments (after the command name) and returns the exit code. */
export type Command = (args: string[], io: Io) => Promise<number>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  'allow-cloud': { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

export function loadConfig(file: string | undefined, io: Io): ParsedConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --config ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--config ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--config ${file} must hold a JSON object of "switchyard.*" settings`);
    }
    raw = parsed as Record<string, unknown>;
  }
  const result = parseConfig(raw);
  for (const p of result.problems) io.stderr.write(`switchyard: warning: ${p.message}\n`);
  return result;
}

export function envSecrets(env: NodeJS.ProcessEnv): SecretSource {
  return {
    async getApiKey(_providerId: string, apiKeyEnv?: string) {
      return apiKeyEnv ? env[apiKeyEnv] || undefined : undefined;
    },
  };
}

export function stderrLogger(io: Io, verbose: boolean): Logger {
  const write = (level: string) => (m: string) => io.stderr.write(`[${level}] ${m}\n`);
  const none = () => {};
  return { trace: none, debug: verbose ? write('debug') : none, info: verbose ? write('info') : none, warn: verbose ? write('warn') : none, error: write('error') };
}

/**
 * Literal secrets to keep out of cloud requests: the values of the `.env*` files under the current folder (read once,
 * on the first cloud request).
 */
export function cliSecretValues(): () => readonly string[] {
  let values: string[] | undefined;
  return () => (values ??= dotEnvValues([process.cwd()]));
}

export function build(config: ParsedConfig, io: Io, options: { allowCloud: boolean; verbose: boolean }): Switchyard {
  return new Switchyard({
    config: config.config,
    secrets: envSecrets(io.env),
    logger: stderrLogger(io, options.verbose),
    privacy: (c) => privacyContext(c),
    // Under privacy "ask" the terminal has no one to ask: --allow-cloud is the answer given in advance.
    askCloud: options.allowCloud ? async () => true : undefined,
    price: priceOf,
    // Kind "embedded" without a modelPath serves the folder `switchyard pull <url>` downloads into.
    modelsDir: io.env.SWITCHYARD_MODELS_DIR ?? join(homedir(), '.switchyard', 'models'),
    secretValues: cliSecretValues(),
  });
}

export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

export function attemptLines(attempts: readonly RouteAttempt[]): string {
  return attempts
    .filter((a) => a.outcome !== 'answered')
    .map((a) => `  ${a.outcome} ${a.providerId}${a.model ? `/${a.model}` : ''}: ${a.kind ? `${a.kind}: ` : ''}${a.reason ?? ''}\n`)
    .join('');
}

