/**
 * `switchyard complete --file F --line L --column C`: the inline completion the editor would show at that place
 * (line and column 1-based, as editors show them), through the same CompletionService: the complete route, the
 * model's FIM template, post-processing. The suggestion goes to stdout (nothing when there is none), the route to
 * stderr; `--json` prints `{ text, source, route, latencyMs }` (text null when there is nothing to show, with why).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { offsetAt } from '../../core/complete/context';
import { CompletionService } from '../../core/complete/service';
import { languageOf } from '../../core/index/languages';
import { RouteError } from '../../core/routing/router';
import { describeCandidate } from '../../core/describe';
import { COMMON_OPTIONS, UsageError, attemptLines, build, loadConfig, printable, type Io } from '../common';

function positiveInt(value: string | undefined, name: string): number {
  if (value === undefined) throw new UsageError(`complete needs --${name} (1-based, as editors show it)`);
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number of at least 1, got "${printable(value)}"`);
  return n;
}

/** The file's text and the offset of the 1-based `line`/`column` in it; a UsageError when either is past the end. */
function readAt(file: string, line: number, column: number): { text: string; offset: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --file ${printable(file)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  if (line > Math.max(1, lines.length))
    throw new UsageError(`--line ${line} is past the end of ${printable(file)} (${lines.length} lines)`);
  const lineText = (lines[line - 1] ?? '').replace(/\r$/, '');
  if (column > lineText.length + 1)
    throw new UsageError(
      `--column ${column} is past the end of line ${line} (${lineText.length} characters: the last column is ${lineText.length + 1})`,
    );
  return { text, offset: offsetAt(text, line, column)! };
}

/** The path the model is told: relative to the working directory with `/` separators, or the base name when outside it. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.basename(file) : relative.split(path.sep).join('/');
}

/** Why the service served nothing, in the words `complete` prints. */
function noSuggestionReason(canceled: boolean, enabled: boolean, service: CompletionService, languageId: string): string {
  if (canceled) return 'canceled';
  if (!enabled) return 'completions are off (switchyard.completion.enabled is false)';
  if (service.isExcluded(languageId)) return `the language "${languageId}" is in switchyard.completion.excludeLanguages`;
  return 'the model had nothing to add here';
}

export async function complete(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...COMMON_OPTIONS,
      file: { type: 'string' },
      line: { type: 'string' },
      column: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError('complete takes no positional arguments: use --file F --line L --column C');
  if (!values.file) throw new UsageError('complete needs --file F');
  const line = positiveInt(values.line, 'line');
  const column = positiveInt(values.column, 'column');
  const { text, offset } = readAt(values.file, line, column);

  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const service = new CompletionService(sy, { debounceMs: 0 });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const filePath = displayPath(values.file);
  const languageId = languageOf(values.file);
  try {
    const served = await service.complete(
      { filePath, languageId, prefix: text.slice(0, offset), suffix: text.slice(offset) },
      controller.signal,
    );
    if (served) {
      const r = served.route;
      io.stderr.write(
        `route: complete answered by ${describeCandidate({ ...r, model: printable(r.model) })} in ${Math.round(served.latencyMs)} ms\n`,
      );
      if (values.json)
        io.stdout.write(
          `${JSON.stringify({ text: served.text, source: served.source, route: r, latencyMs: Math.round(served.latencyMs * 10) / 10 })}\n`,
        );
      else io.stdout.write(`${served.text}\n`);
      return 0;
    }
    const why = noSuggestionReason(controller.signal.aborted, sy.config.completion.enabled, service, languageId);
    io.stderr.write(`no suggestion: ${why}\n`);
    if (values.json) io.stdout.write(`${JSON.stringify({ text: null, reason: why })}\n`);
    return 0;
  } catch (e) {
    if (e instanceof RouteError) {
      io.stderr.write(`route: complete failed\n${attemptLines(e.attempts)}`);
      if (e.kind === 'config') throw e;
      throw new Error(e.kind === 'canceled' ? 'canceled' : `${e.kind}: ${e.message}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    service.dispose();
  }
}
