/**
 * What every `switchyard` command shares: the --config file (the same `switchyard.*` keys as settings.json, one
 * schema and one validator), keys from the environment, the core built for a terminal, and exit-code errors.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { format, parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { parseConfig, type ParsedConfig } from '../core/config/config';
import { redact, type Logger, type SecretSource } from '../core/host';
import { Switchyard } from '../core/switchyard';
import type { RouteAttempt } from '../core/routing/router';
import { candidateName } from '../core/describe';
import { privacyContext } from '../core/routing/privacy';
import { dotEnvValues } from '../core/routing/dotenv';
import { priceOf } from '../core/usage/pricing';

/** A usage error (bad arguments): exit code 2, the reason and a pointer to --help. */
export class UsageError extends Error {}

/** A configuration or environment error (bad --config, Node too old): exit code 2, the reason alone. */
export class ConfigError extends Error {}

/** Node versions that load the native modules (better-sqlite3 13 needs Node-API of Node 22+; on 20 it segfaults). */
export const NATIVE_NODE_MAJOR = 22;

/**
 * Call before anything loads better-sqlite3 or sqlite-vec: on an older Node they crash the process with a
 * segmentation fault and no message, so say how to run the command instead.
 */
export function requireNativeNode(command: string, version = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (major >= NATIVE_NODE_MAJOR) return;
  throw new ConfigError(
    `${command} needs Node.js ${NATIVE_NODE_MAJOR} or newer (this is ${version}): ` +
      `run it as \`npx switchyard ${command} …\` or through an npm script ` +
      `(both use the project's pinned Node 24), or install Node ${NATIVE_NODE_MAJOR}+`,
  );
}

/** What a command opened that must end with it (the embedded models' process, ledgers): run() closes them. */
const openResources: (() => unknown)[] = [];

export function closeWithCommand(close: () => unknown): void {
  openResources.push(close);
}

/** Closes what the command opened, last opened first; a failing close does not stop the others. */
export async function closeAll(): Promise<void> {
  while (openResources.length > 0) {
    const close = openResources.pop()!;
    try {
      await close();
    } catch {
      // the process is ending; nothing more to do about it
    }
  }
}

/**
 * Text from outside (file names, model ids, server messages) made safe for a terminal: control characters,
 * including ESC and newlines, are shown escaped (`\x1b`, `\n`) instead of acting on the terminal.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Markup of an HTML page (a proxy's or a web server's error page) that a model server's error body may carry. */
const HTML_MARKUP = new RegExp(
  String.raw`<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|` +
    String.raw`<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>|` +
    String.raw`<\/?(?:html|head|body|title|meta|link|div|span|p|a|b|i|em|strong|h[1-6]|hr|br|center|pre|code|table|tr|td|th|ul|ol|li|` +
    String.raw`main|section|header|footer|nav|img|form|input|button|noscript)\b[^<>]{0,500}>`,
  'gi',
);

/**
 * One line of text from outside (an upstream error, a library's message) for the terminal: redacted, HTML markup
 * dropped (its text kept), whitespace and newlines collapsed, control characters escaped, and bounded in length.
 */
export function terminalLine(text: string, max = 400): string {
  const line = printable(redact(text).replace(HTML_MARKUP, ' ').replace(/\s+/g, ' ').trim());
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Libraries (the `ollama` and `openai` clients) write to the console around our logger: a 15-line stack for a bad
 * URL, raw upstream lines (HTML, random bytes) they could not parse, even console.log on stdout. While a command
 * runs, console output goes through the redacting logger as one debug line (shown with --verbose), never raw.
 * Returns the function that puts the console back.
 */
export function captureConsole(logger: Logger): () => void {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => [m, console[m]] as const);
  const toLog = (...args: unknown[]): void => {
    logger.debug(`library output: ${terminalLine(format(...args).split('\n')[0]!, 300)}`);
  };
  for (const m of methods) console[m] = toLog;
  return () => {
    for (const [m, fn] of saved) console[m] = fn;
  };
}

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

/** A command's arguments: its own options next to COMMON_OPTIONS, positionals allowed, an unknown option refused. */
export function commandArgs<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  return parseArgs({ args, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options }, strict: true });
}

export function loadConfig(file: string | undefined, io: Io): ParsedConfig {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read --config ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`--config ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`--config ${file} must hold a JSON object of "switchyard.*" settings`);
    }
    raw = parsed as Record<string, unknown>;
  }
  const result = parseConfig(raw);
  // The documented contract: any invalid setting is a configuration error, not a warning followed by running.
  if (result.problems.length > 0) {
    // One line per key: a key can report the same mistake twice (the privacy lock and the entry's schema check).
    const keys = new Set<string>();
    const firstPerKey = result.problems.filter((p) => !keys.has(p.key) && keys.add(p.key));
    throw new ConfigError(firstPerKey.map((p) => `invalid setting${file ? ` in --config ${file}` : ''}: ${p.message}`).join('\n'));
  }
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
  const write = (level: string) => (m: string) => io.stderr.write(`[${level}] ${printable(redact(m))}\n`);
  const none = () => {};
  return {
    trace: none,
    debug: verbose ? write('debug') : none,
    info: verbose ? write('info') : none,
    warn: verbose ? write('warn') : none,
    error: write('error'),
  };
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
  const sy = new Switchyard({
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
  // A one-shot command ends its embedded models' process when it finishes, not after the idle timeout.
  closeWithCommand(() => sy.dispose());
  return sy;
}

export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

export function attemptLines(attempts: readonly RouteAttempt[]): string {
  return attempts
    .filter((a) => a.outcome !== 'answered')
    .map(
      (a) =>
        `  ${a.outcome} ${candidateName({ providerId: a.providerId, model: printable(a.model) })}: ${a.kind ? `${a.kind}: ` : ''}` +
        `${terminalLine(a.reason ?? '')}\n`,
    )
    .join('');
}
