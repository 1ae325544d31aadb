/**
 * `switchyard search <folder> "<query>"`: hybrid search (bm25 + vectors, ranked by score) over an index
 * built by `switchyard index`. With --json, an array of { path, startLine, endLine, symbol, score }, paths relative to
 * the folder, best first. Keyword-only (and says so on stderr) when the index has no vectors or no embedding model
 * answers for the query.
 */
import fs from 'node:fs';
import path from 'node:path';
import { commandArgs, UsageError, build, loadConfig, printable, requireNativeNode, type Io } from '../common';
import { defaultDbPath, openIndex, resolveFolder } from './index';

export async function search(args: string[], io: Io): Promise<number> {
  const { values, positionals } = commandArgs(args, {
    db: { type: 'string' },
    k: { type: 'string', short: 'k' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 2) throw new UsageError('search needs a folder and a query: `switchyard search . "parse http header"`');
  const folder = resolveFolder(positionals[0], 'search');
  const query = positionals[1]!;
  if (!query.trim()) throw new UsageError('the query is empty');
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new UsageError(`-k must be a whole number from 1 to 1000, got "${values.k}"`);
  requireNativeNode('search'); // before the index (better-sqlite3) is looked for or opened
  const verbose = values.verbose ?? false;
  const config = loadConfig(values.config, io); // a configuration error comes first, as in every command
  const dbPath = path.resolve(values.db ?? defaultDbPath(folder, io.env));
  if (!fs.existsSync(dbPath)) throw new Error(`no index of ${folder} at ${dbPath}: run \`switchyard index ${positionals[0]}\` first`);
  const sy = build(config, io, { allowCloud: values['allow-cloud'] ?? false, verbose });
  const idx = await openIndex(sy, folder, dbPath, io, verbose, false);
  try {
    const hits = await idx.search(query, { k });
    if (!idx.lastSearchHybrid)
      io.stderr.write('switchyard: keyword-only search (no vectors in the index, or no embedding model answered)\n');
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify(
          hits.map((h) => ({ path: h.path, startLine: h.startLine, endLine: h.endLine, symbol: h.symbol ?? null, score: h.score })),
          null,
          2,
        )}\n`,
      );
    } else if (hits.length === 0) {
      io.stdout.write('no results\n');
    } else {
      for (const h of hits) {
        io.stdout.write(
          `${printable(h.path)}:${h.startLine}-${h.endLine}${h.symbol ? `  ${printable(h.symbol)}` : ''}  (${h.score.toFixed(4)})\n`,
        );
      }
    }
    return 0;
  } finally {
    await idx.close();
  }
}
