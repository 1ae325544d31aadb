/**
 * `switchyard pull <ollama-model | url>`: pulls a model into Ollama (progress from /api/pull), or downloads a GGUF
 * file from an http(s) URL into the models folder that kind `embedded` serves (resumable, sha256-checked). Progress
 * goes to stderr; the result (model name or file path) to stdout. Ctrl+C cancels.
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../core/models/errors';
import { downloadGguf, displayUrl } from '../../core/models/gguf';
import { formatBytes } from '../../core/models/modelsFolder';
import { pullOllamaModel } from '../../core/models/ollama';
import type { ProviderConfig } from '../../core/providers/types';
import type { Switchyard } from '../../core/switchyard';
import { COMMON_OPTIONS, UsageError, build, loadConfig, type Io } from '../common';

/** The CLI's models folder: --models-dir, $SWITCHYARD_MODELS_DIR, or ~/.switchyard/models. */
export function cliModelsDir(env: NodeJS.ProcessEnv, given?: string): string {
  return given ?? env.SWITCHYARD_MODELS_DIR ?? join(homedir(), '.switchyard', 'models');
}

export const MODEL_OPTIONS = {
  ...COMMON_OPTIONS,
  provider: { type: 'string' },
  'models-dir': { type: 'string' },
} as const;

/** The Ollama provider to use: --provider, or the first configured/discovered one of kind ollama. */
export function ollamaProvider(sy: Switchyard, id: string | undefined): ProviderConfig {
  const all = sy.registry.list();
  const p = id ? all.find((c) => c.id === id) : all.find((c) => c.kind === 'ollama');
  if (!p) throw new UsageError(id ? `no provider "${id}" in switchyard.providers` : 'no Ollama provider is configured');
  if (p.kind !== 'ollama') throw new UsageError(`provider "${p.id}" is of kind ${p.kind}; pull and rm by name work with Ollama providers`);
  return p;
}

/** Models folder for GGUF files: an embedded provider's folder when --provider names one, else the CLI's folder. */
export function ggufDir(sy: Switchyard, providerId: string | undefined, env: NodeJS.ProcessEnv, given?: string): string {
  if (providerId) {
    const p = sy.registry.list().find((c) => c.id === providerId);
    if (!p) throw new UsageError(`no provider "${providerId}" in switchyard.providers`);
    if (p.kind !== 'embedded') throw new UsageError(`provider "${p.id}" is of kind ${p.kind}: GGUF files go to an "embedded" provider`);
    if (p.modelPath && p.modelPath.toLowerCase().endsWith('.gguf'))
      throw new UsageError(`provider "${p.id}" serves one file (${p.modelPath}); give it a folder as modelPath to download into`);
    if (p.modelPath) return p.modelPath;
  }
  return cliModelsDir(env, given);
}

/** Ctrl+C → abort; returns the signal and a function that removes the handler. */
export function interruptSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const onInt = (): void => controller.abort();
  process.once('SIGINT', onInt);
  return { signal: controller.signal, release: () => process.off('SIGINT', onInt) };
}

/** Exit code and stderr line for a ModelError: bad input 2, canceled 130, anything else 1. */
export function reportModelError(e: unknown, io: Io): number {
  if (!(e instanceof ModelError)) throw e;
  io.stderr.write(`switchyard: ${e.message}\n`);
  return e.kind === 'invalid' ? 2 : e.kind === 'canceled' ? 130 : 1;
}

/** Progress on stderr: one rewritten line on a terminal, a line per 10 % otherwise. */
function progressWriter(io: Io) {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let lastStep = -1;
  let lastText = '';
  return {
    update(label: string, done?: number, total?: number) {
      const pct = done !== undefined && total ? Math.floor((done / total) * 100) : undefined;
      const text = `${label}${done !== undefined ? ` ${formatBytes(done)}${total ? ` / ${formatBytes(total)} (${pct} %)` : ''}` : ''}`;
      if (tty) {
        io.stderr.write(`\r\x1b[2K${text}`);
        return;
      }
      const step = pct === undefined ? -2 : Math.floor(pct / 10);
      if (text.startsWith(lastText.split(' ')[0] ?? '') && step === lastStep && label === lastText.slice(0, label.length)) return;
      lastStep = step;
      lastText = text;
      io.stderr.write(`${text}\n`);
    },
    end() {
      if (tty) io.stderr.write('\n');
    },
  };
}

export async function pull(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, sha256: { type: 'string' }, name: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new UsageError(
      'pull takes one model name or URL, e.g. `switchyard pull qwen2.5-coder:1.5b` or `switchyard pull https://…/model.gguf`',
    );
  const what = positionals[0]!;
  const sy = build(loadConfig(values.config, io), io, { allowCloud: false, verbose: values.verbose ?? false });
  const progress = progressWriter(io);
  const { signal, release } = interruptSignal();
  try {
    if (/^https?:\/\//i.test(what)) {
      const dir = ggufDir(sy, values.provider, io.env, values['models-dir']);
      io.stderr.write(`downloading ${displayUrl(what)} into ${dir}\n`);
      const result = await downloadGguf({
        url: what,
        dir,
        fileName: values.name,
        sha256: values.sha256,
        signal,
        onProgress: (p) =>
          progress.update(p.resumedFrom > 0 ? `resuming at ${formatBytes(p.resumedFrom)}:` : 'downloading', p.receivedBytes, p.totalBytes),
      });
      progress.end();
      io.stderr.write(
        `${result.alreadyPresent ? 'already there' : 'done'}: ${result.id} (${formatBytes(result.sizeBytes)}, ` +
          `sha256 ${result.sha256})${result.resumedBytes ? `, resumed after ${formatBytes(result.resumedBytes)}` : ''}\n`,
      );
      io.stdout.write(`${result.path}\n`);
      return 0;
    }
    if (values.sha256) throw new UsageError('--sha256 is for GGUF downloads (a URL); Ollama checks its own layers');
    const provider = ollamaProvider(sy, values.provider);
    const gate = await sy.router.mayContact(provider.id, 'pull');
    if (!gate.ok) {
      io.stderr.write(`switchyard: ${gate.reason}\n`);
      return 1;
    }
    io.stderr.write(`pulling ${what} into ${provider.id} (${provider.baseUrl})\n`);
    await pullOllamaModel({ baseUrl: provider.baseUrl, signal }, what, (p) => progress.update(p.status, p.completedBytes, p.totalBytes));
    progress.end();
    sy.registry.forget(provider.id);
    io.stdout.write(`${provider.id}/${what}\n`);
    return 0;
  } catch (e) {
    progress.end();
    return reportModelError(e, io);
  } finally {
    release();
  }
}
