/**
 * `switchyard` on the terminal: the same router as the extension, configured by a JSON file with the same
 * `switchyard.*` keys as settings.json. Exit codes: 0 ok, 2 usage or configuration error, 1 failure.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isProviderError } from '../core/errors';
import { parseConfig, type ParsedConfig } from '../core/config/config';
import { redact, type Logger, type SecretSource } from '../core/host';
import { Switchyard } from '../core/switchyard';
import { RouteError, type RouteAttempt } from '../core/routing/router';
import { cloudVerdict } from '../core/routing/privacy';
import { formatUsage } from '../core/usage/ledger';
import { priceOf } from '../core/usage/pricing';
import type { ModelCapabilities } from '../core/providers/types';

const USAGE = `Usage: switchyard <command> [options]

Commands:
  models [--config FILE] [--json]                 providers, their health and models
  route <task> [--config FILE] [--json]           what the router would use now, and why not the others
  ask [--task T] [--config FILE] [--allow-cloud] ["<prompt>"]
                                                  stream an answer (prompt from stdin when absent)

Tasks: chat, explain, edit, commitMessage, summarize, embed (or switchyard/<alias>).
--config FILE: JSON with the same "switchyard.*" keys as VS Code's settings.json.
API keys come from the environment (OPENAI_API_KEY, … or a provider's "apiKeyEnv").`;

export class UsageError extends Error {}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

function loadConfig(file: string | undefined, io: Io): ParsedConfig {
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

function envSecrets(env: NodeJS.ProcessEnv): SecretSource {
  return {
    async getApiKey(_providerId: string, apiKeyEnv?: string) {
      return apiKeyEnv ? env[apiKeyEnv] || undefined : undefined;
    },
  };
}

function stderrLogger(io: Io, verbose: boolean): Logger {
  const write = (level: string) => (m: string) => io.stderr.write(`[${level}] ${m}\n`);
  const none = () => {};
  return { trace: none, debug: verbose ? write('debug') : none, info: verbose ? write('info') : none, warn: verbose ? write('warn') : none, error: write('error') };
}

function build(config: ParsedConfig, io: Io, options: { allowCloud: boolean; verbose: boolean }): Switchyard {
  return new Switchyard({
    config: config.config,
    secrets: envSecrets(io.env),
    logger: stderrLogger(io, options.verbose),
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: c.workspaceCloudOptOut }),
    // Under privacy "ask" the terminal has no one to ask: --allow-cloud is the answer given in advance.
    askCloud: options.allowCloud ? async () => true : undefined,
    price: priceOf,
  });
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function attemptLines(attempts: readonly RouteAttempt[]): string {
  return attempts
    .filter((a) => a.outcome !== 'answered')
    .map((a) => `  ${a.outcome} ${a.providerId}${a.model ? `/${a.model}` : ''}: ${a.kind ? `${a.kind}: ` : ''}${a.reason ?? ''}\n`)
    .join('');
}

interface ModelsRow {
  id: string;
  kind: string;
  baseUrl: string;
  local: boolean;
  /** null: not contacted (privacy). */
  healthy: boolean | null;
  latencyMs?: number;
  version?: string;
  error?: string;
  models: { id: string; contextLength?: number; capabilities: ModelCapabilities }[];
}

async function cmdModels(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean' }, 'allow-cloud': { type: 'boolean' }, verbose: { type: 'boolean' } }, strict: true });
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const privacy = { mode: sy.config.privacy, trusted: true, workspaceOptOut: sy.config.workspaceCloudOptOut };
  const cloudOk = cloudVerdict(privacy, values['allow-cloud'] ?? false).allowed !== false;
  const rows: ModelsRow[] = await Promise.all(
    sy.registry.list().map(async (p): Promise<ModelsRow> => {
      const base = { id: p.id, kind: p.kind, baseUrl: p.baseUrl, local: p.local };
      if (!p.local && !cloudOk) return { ...base, healthy: null, error: 'not contacted: privacy forbids cloud requests', models: [] };
      const provider = sy.registry.get(p.id)!;
      try {
        const h = await provider.health(AbortSignal.timeout(3000));
        const models = await sy.registry.discover(p.id, AbortSignal.timeout(5000)).catch(() => []);
        return { ...base, healthy: true, latencyMs: Math.round(h.latencyMs), version: h.version, models: models.map((m) => ({ id: m.id, contextLength: m.contextLength, capabilities: m.capabilities })) };
      } catch (e) {
        return { ...base, healthy: false, error: isProviderError(e) ? `${e.kind}: ${e.message}` : String(e), models: [] };
      }
    }),
  );
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const r of rows) {
    const state = r.healthy === true ? `up (${r.latencyMs ?? '?'} ms${r.version ? `, ${r.version}` : ''})` : r.healthy === false ? `down: ${r.error}` : r.error;
    io.stdout.write(`${r.id}  ${r.kind}  ${r.baseUrl}  ${r.local ? 'local' : 'cloud'}  ${state}\n`);
    for (const m of r.models) {
      const caps = Object.entries(m.capabilities).filter(([, v]) => v).map(([k]) => k).join(',');
      io.stdout.write(`    ${m.id}${m.contextLength ? `  ctx ${m.contextLength}` : ''}${caps ? `  [${caps}]` : ''}\n`);
    }
  }
  return 0;
}

async function cmdRoute(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' }, json: { type: 'boolean' }, 'allow-cloud': { type: 'boolean' }, verbose: { type: 'boolean' } }, strict: true });
  if (positionals.length !== 1) throw new UsageError('route needs exactly one task, e.g. `switchyard route chat`');
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const plan = await sy.router.plan(positionals[0], { probe: true });
  const out = {
    task: plan.task,
    candidate: plan.candidate ? { provider: plan.candidate.providerId, model: plan.candidate.model, local: plan.candidate.local } : null,
    skipped: plan.skipped.map((s) => ({ provider: s.providerId, model: s.model, reason: s.reason })),
  };
  if (values.json) io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else {
    io.stdout.write(plan.candidate ? `${plan.task}: ${plan.candidate.providerId}/${plan.candidate.model} (${plan.candidate.local ? 'local' : 'cloud'})\n` : `${plan.task}: no model can answer now\n`);
    for (const s of plan.skipped) io.stdout.write(`  skipped ${s.providerId}${s.model ? `/${s.model}` : ''}: ${s.reason}\n`);
  }
  if (!plan.candidate) {
    io.stderr.write(`switchyard: no model can serve ${plan.task} now: start a local server or fix switchyard.tasks.${plan.task}\n`);
    return 1;
  }
  return 0;
}

async function cmdAsk(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { task: { type: 'string', default: 'chat' }, config: { type: 'string' }, 'allow-cloud': { type: 'boolean' }, verbose: { type: 'boolean' } }, strict: true });
  if (positionals.length > 1) throw new UsageError('ask takes one prompt argument; quote it, or pipe it on stdin');
  const prompt = positionals[0] ?? (await readStdin(io.stdin));
  if (!prompt.trim()) throw new UsageError('ask needs a prompt: `switchyard ask "…"` or on stdin');
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    for await (const ev of sy.router.chat({ task: values.task!, messages: [{ role: 'user', content: prompt }], signal: controller.signal })) {
      if (ev.type === 'text') io.stdout.write(ev.text);
      else if (ev.type === 'route') {
        const r = ev.route;
        io.stderr.write(`route: ${r.requested} answered by ${r.providerId}/${r.model} (${r.local ? 'local' : 'cloud'})${r.fallback ? ' after fallback' : ''}\n${attemptLines(r.attempts)}`);
      } else {
        io.stdout.write('\n');
        io.stderr.write(`${formatUsage(ev.usage)}\n`);
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof RouteError) {
      io.stdout.write('\n');
      io.stderr.write(`route: ${values.task} failed\n${attemptLines(e.attempts)}`);
      throw new Error(e.kind === 'canceled' ? 'canceled' : `${e.kind}: ${e.message}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'models':
        return await cmdModels(rest, io);
      case 'route':
        return await cmdRoute(rest, io);
      case 'ask':
        return await cmdAsk(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`switchyard: ${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
    if (isProviderError(e) && e.kind === 'config') {
      io.stderr.write(`switchyard: ${e.message}\n`);
      return 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.stderr.write(`switchyard: ${redact(message.split('\n')[0])}\n`);
    return 1;
  }
}

// Runs when bundled as dist/cli.js; tests call run() directly.
if (require.main === module) {
  run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
  );
}
