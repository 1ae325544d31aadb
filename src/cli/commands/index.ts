/**
 * `switchyard index <folder>`: builds or updates the folder's index (the same engine as in VS Code, in a worker
 * thread), printing progress on stderr and a summary on stdout. Embeddings go through the router's `embed` task, so
 * privacy and fallback apply; when no embedding model answers, the index is keyword-only and the summary says so.
 * Also the shared opening of an index for `switchyard search`.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chunkBudget } from '../../core/index/budget';
import { WorkspaceIndex, type SyncProgress } from '../../core/index/service';
import type { Switchyard } from '../../core/switchyard';
import { commandArgs, UsageError, build, loadConfig, printable, requireNativeNode, stderrLogger, type Io } from '../common';

/** Without --db: one file per folder under the user's cache folder. */
export function defaultDbPath(folder: string, env: NodeJS.ProcessEnv): string {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const id = createHash('sha1').update(folder).digest('hex').slice(0, 12);
  return path.join(cache, 'switchyard', 'index', `${path.basename(folder) || 'root'}-${id}.sqlite`);
}

export function resolveFolder(given: string | undefined, command: string): string {
  if (!given) throw new UsageError(`${command} needs a folder, e.g. \`switchyard ${command} .\``);
  const folder = path.resolve(given);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(folder);
  } catch {
    throw new UsageError(`no such folder: ${given}`);
  }
  if (!stat.isDirectory()) throw new UsageError(`not a folder: ${given}`);
  return folder;
}

export async function openIndex(
  sy: Switchyard,
  folder: string,
  dbPath: string,
  io: Io,
  verbose: boolean,
  background: boolean,
): Promise<WorkspaceIndex> {
  requireNativeNode(background ? 'index' : 'search'); // the index is better-sqlite3 + sqlite-vec
  const config = sy.config;
  return WorkspaceIndex.open({
    root: folder,
    dbPath,
    embedder: sy.router,
    embedInBackground: background,
    exclude: config.index.exclude,
    maxFileSizeKb: config.index.maxFileSizeKb,
    chunkTokens: background ? await chunkBudget(sy) : undefined,
    logger: stderrLogger(io, verbose),
    backoffMs: { initial: 1000, max: 30_000 },
    onMessage: (m) => io.stderr.write(`switchyard: ${m}\n`),
  });
}

function progressWriter(io: Io): { update(p: SyncProgress): void; line(text: string): void; done(): void } {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(p) {
      if (p.phase !== 'indexing') return;
      const now = Date.now();
      if (!tty && now - last < 1000) return;
      last = now;
      const text = `indexing: ${p.filesDone}/${p.filesTotal} files, ${p.chunks} chunks`;
      io.stderr.write(tty ? `\r${text}\x1b[K` : `${text}\n`);
      shown = true;
    },
    line(text) {
      io.stderr.write(tty ? `\r${text}\x1b[K` : `${text}\n`);
      shown = true;
    },
    done() {
      if (tty && shown) io.stderr.write('\n');
    },
  };
}

export async function index(args: string[], io: Io): Promise<number> {
  const { values, positionals } = commandArgs(args, { db: { type: 'string' } });
  if (positionals.length > 1) throw new UsageError('index takes one folder');
  const folder = resolveFolder(positionals[0], 'index');
  const dbPath = path.resolve(values.db ?? defaultDbPath(folder, io.env));
  const verbose = values.verbose ?? false;
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose });
  const idx = await openIndex(sy, folder, dbPath, io, verbose, true);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const progress = progressWriter(io);
  try {
    const summary = await idx.sync({ signal: controller.signal, onProgress: (p) => progress.update(p) });
    if (!summary.canceled) {
      let lastLine = 0;
      const tick = setInterval(() => {
        const s = idx.status();
        if (s.embeddingsPending > 0 && Date.now() - lastLine > 1000) {
          lastLine = Date.now();
          progress.line(`embedding: ${s.embeddingsPending} chunks pending`);
        }
      }, 250);
      try {
        await idx.embeddingsSettled({ untilPaused: true, signal: controller.signal });
      } finally {
        clearInterval(tick);
      }
    }
    progress.done();
    const counts = await idx.counts();
    const status = idx.status();
    const reasons = new Map<string, number>();
    for (const s of summary.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    const out: string[] = [];
    out.push(
      `${summary.canceled ? 'canceled' : 'indexed'} ${folder}: ${counts.indexedFiles} files, ${counts.chunks} chunks ` +
        `(${summary.indexed} files re-indexed, ${summary.unchanged} unchanged, ${summary.removed} removed) ` +
        `in ${(summary.ms / 1000).toFixed(1)} s`,
    );
    if (summary.skipped.length) {
      out.push(`skipped ${summary.skipped.length} files: ${[...reasons].map(([r, n]) => `${n} ${r}`).join('; ')}`);
      if (verbose) for (const s of summary.skipped) out.push(`  ${printable(s.rel)}: ${s.reason}`);
    }
    for (const d of summary.decoded) out.push(`  ${printable(d.rel)}: ${d.reason}`);
    if (counts.pending === 0 && counts.vectors > 0)
      out.push(`vectors: every chunk embedded with ${counts.model} (${counts.dims} dimensions)`);
    else if (counts.chunks > 0) {
      out.push(
        `vectors: ${counts.pending} chunks not embedded${status.message ? ` (${status.message})` : ''}; ` +
          `search is keyword-only for them until \`switchyard index\` runs with an embedding model reachable`,
      );
    }
    out.push(`database: ${dbPath}`);
    io.stdout.write(`${out.join('\n')}\n`);
    if (summary.canceled || controller.signal.aborted) {
      io.stderr.write('switchyard: canceled; what was indexed is kept\n');
      // 128 + SIGINT, as shells report a command stopped by Ctrl+C.
      return controller.signal.aborted ? 130 : 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await idx.close();
  }
}
