/**
 * `npm run bench -- index`: the workspace index on a real codebase nobody here wrote, installed from the npm registry
 * at bench time (lodash and rxjs: their JavaScript and TypeScript sources, 1,000+ files).
 *  1. a full index through the worker thread, embedding excluded: files/s and chunks/s (target ≥ 250 files/s);
 *  2. incremental update latency after touching one file, embedding excluded (target p50 ≤ 150 ms);
 *  3. hybrid query latency at 100k chunks (the codebase's chunks repeated to 100k, 384-dimension vectors),
 *     bm25 + binary-quantized KNN with float re-score, fused (target p50 ≤ 20 ms), and the same query with a plain
 *     flat scan of the float vectors for comparison; the query's own embedding is excluded;
 *  4. embedding throughput at 100k chunks against embedding servers that answer at once: an in-process one (the
 *     pipeline alone: fetching pending chunks from the worker, handing vectors back, storing them) and the Ollama
 *     test server over HTTP through the router; the pipeline's own time per batch of 32 is printed next to the
 *     server's (target ≤ 5 ms per batch, 100k chunks in under 60 s);
 *  5. peak memory (max RSS of the process, worker included).
 * Numbers, not pass/fail. BENCH_INDEX_DIR=<folder> indexes that folder instead of installing packages;
 * BENCH_INDEX_ONLY=embed runs only the embedding throughput part (on a generated corpus).
 */
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexEngine } from '../src/core/index/engine';
import { WorkspaceIndex } from '../src/core/index/service';
import { parseConfig } from '../src/core/config/config';
import type { Embedder } from '../src/core/index/service';
import { Switchyard } from '../src/core/switchyard';
import { hashEmbedding, scriptedBackend, startOllamaServer } from '../test/fixtures';

const PACKAGES = ['lodash@4.17.21', 'rxjs@7.8.2'];
const DIMS = 384;
const TARGET_CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p95: q(0.95) };
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

function corpus(work: string): string {
  if (process.env.BENCH_INDEX_DIR) return path.resolve(process.env.BENCH_INDEX_DIR);
  const prefix = path.join(work, 'pkgs');
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"name":"bench-corpus","private":true}');
  console.log(`installing ${PACKAGES.join(', ')} from the npm registry…`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', ...PACKAGES], {
    cwd: prefix,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`npm install ${PACKAGES.join(' ')} failed (exit ${r.status})`);
  return path.join(prefix, 'node_modules');
}

/** 100k distinct chunks (no vectors) in a fresh index at `db`, written through the store as the engine would. */
function seedChunks(db: string, n: number): void {
  const e = new IndexEngine({ root: os.tmpdir(), dbPath: db, exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
  const body =
    'export function handler(request: Request): Response {\n  const url = new URL(request.url);\n  return route(url.pathname, request.method);\n}\n';
  for (let f = 0; f * 10 < n; f++) {
    const chunks = Array.from({ length: Math.min(10, n - f * 10) }, (_, i) => {
      const text = `// chunk ${f}:${i}\n${body}`;
      return {
        startLine: i * 5 + 1,
        endLine: i * 5 + 5,
        symbol: `handler${i}`,
        kind: 'function' as never,
        text,
        hash: `h${f}:${i}`,
        tokens: 40,
      };
    });
    e.store.putFile({ path: `src/f${f}.ts`, hash: String(f), size: 1, mtimeMs: 1, language: 'typescript' }, chunks);
  }
  e.close();
}

/** Embeds every pending chunk of `db` through `embedder`; the time inside `embedder.embed` is the server's. */
async function embedAll(label: string, db: string, embedder: Embedder, n: number): Promise<void> {
  let serverMs = 0;
  let batches = 0;
  const timed: Embedder = {
    async embed(request) {
      const t = performance.now();
      try {
        return await embedder.embed(request);
      } finally {
        serverMs += performance.now() - t;
        batches++;
      }
    },
  };
  const idx = await WorkspaceIndex.open({ root: os.tmpdir(), dbPath: db, embedder: timed, batchSize: 32, embedTimeoutMs: 30_000 });
  const t0 = performance.now();
  await idx.embeddingsSettled();
  const wall = performance.now() - t0;
  const counts = await idx.counts();
  await idx.close();
  if (counts.vectors < n || counts.pending !== 0) throw new Error(`${label}: ${counts.vectors} vectors, ${counts.pending} pending`);
  const own = (wall - serverMs) / batches;
  console.log(
    `embedding ${n} chunks, ${label}: ${(wall / 1000).toFixed(1)} s, ${batches} batches of 32; per batch: pipeline ${ms(own)}, embedding server ${ms(serverMs / batches)} (target: pipeline ≤ 5 ms per batch, 100k chunks < 60 s)`,
  );
}

async function embedThroughput(work: string): Promise<void> {
  const n = TARGET_CHUNKS;
  const seed = path.join(work, 'embed-seed.sqlite');
  seedChunks(seed, n);
  const fresh = (name: string) => {
    const db = path.join(work, `${name}.sqlite`);
    fs.copyFileSync(seed, db);
    return db;
  };
  // An in-process server that answers at once: a fixed vector per input (the pipeline's cost alone).
  const unit = Array.from({ length: DIMS }, (_, i) => Math.sin(i + 1) / Math.sqrt(DIMS / 2));
  const instant: Embedder = {
    async embed(request) {
      return { vectors: request.input.map(() => unit), providerId: 'bench', model: 'instant', local: true } as never;
    },
  };
  await embedAll('in-process server that answers at once', fresh('instant'), instant, n);
  // The Ollama test server over loopback HTTP through the router and the real ollama client.
  const backend = { ...scriptedBackend({ dims: DIMS }), embed: async (texts: string[]) => texts.map(() => unit) };
  const ollama = await startOllamaServer({ backend });
  try {
    const sy = new Switchyard({
      config: parseConfig({
        'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
        'switchyard.tasks': { embed: ['box/nomic-embed-text:latest'] },
      }).config,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    });
    await embedAll('Ollama test server over HTTP, through the router', fresh('ollama'), sy.router, n);
  } finally {
    await ollama.close();
  }
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-index-'));
  if (process.env.BENCH_INDEX_ONLY === 'embed') {
    try {
      await embedThroughput(work);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    return;
  }
  try {
    const root = corpus(work);

    // 1. Full index, no embedder: chunking, hashing and SQL in the worker.
    const db = path.join(work, 'index.sqlite');
    const idx = await WorkspaceIndex.open({ root, dbPath: db });
    const t0 = performance.now();
    const summary = await idx.sync();
    const wall = performance.now() - t0;
    const counts = await idx.counts();
    const reasons = new Map<string, number>();
    for (const s of summary.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    console.log(
      `corpus: ${root}: ${summary.files} files read, ${summary.indexed} chunked, ${summary.skipped.length} skipped (${[...reasons].map(([r, n]) => `${n} ${r}`).join('; ')})`,
    );
    console.log(
      `full index: ${summary.files} files, ${summary.chunks} chunks in ${ms(wall)}: ${(summary.files / (wall / 1000)).toFixed(0)} files/s read and decided, ${(summary.indexed / (wall / 1000)).toFixed(0)} files/s chunked, ${(summary.chunks / (wall / 1000)).toFixed(0)} chunks/s (embedding excluded; target ≥ 250 files/s)`,
    );
    const again = performance.now();
    const noop = await idx.sync();
    console.log(`re-sync with nothing changed: ${noop.unchanged} files checked in ${ms(performance.now() - again)}`);

    // 2. Incremental: change one file, update it, until the worker has re-chunked and stored it.
    const files = [...(await listIndexed(db))].filter((f) => /\.(ts|js)$/.test(f)).slice(0, 400);
    const lat: number[] = [];
    for (let i = 0; i < 40; i++) {
      const rel = files[(i * 37) % files.length]!;
      const abs = path.join(root, rel);
      fs.appendFileSync(abs, `\n// touched ${i}\n`);
      const s = performance.now();
      const r = await idx.update([abs]);
      lat.push(performance.now() - s);
      if (r.indexed !== 1) throw new Error(`expected one file re-indexed for ${rel}, got ${JSON.stringify(r)}`);
    }
    const inc = stats(lat);
    console.log(`incremental update of one touched file: p50 ${ms(inc.p50)}, p95 ${ms(inc.p95)} (embedding excluded; target p50 ≤ 150 ms)`);
    await idx.close();

    // 3. 100k chunks with vectors: the real chunks repeated under new paths.
    const big = new IndexEngine({ root, dbPath: path.join(work, 'big.sqlite'), exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
    const real = new Database(db, { readonly: true });
    const rows = real
      .prepare(
        'select f.path, c.start_line as s, c.end_line as e, c.symbol, c.kind, c.language, c.text from chunks c join files f on f.id = c.file_id order by f.path, c.start_line',
      )
      .all() as {
      path: string;
      s: number;
      e: number;
      symbol: string | null;
      kind: string | null;
      language: string;
      text: string;
    }[];
    real.close();
    const byFile = new Map<string, typeof rows>();
    for (const r of rows) (byFile.get(r.path) ?? byFile.set(r.path, []).get(r.path)!).push(r);
    const fill = performance.now();
    let total = 0;
    let copy = 0;
    const vectors = new Map<string, number[]>();
    big.store.useModel('bench/hash-384', DIMS);
    while (total < TARGET_CHUNKS) {
      for (const [file, chunks] of byFile) {
        if (total >= TARGET_CHUNKS) break;
        const list = chunks.slice(0, TARGET_CHUNKS - total).map((c) => {
          const text = copy === 0 ? c.text : `// copy ${copy}\n${c.text}`;
          return {
            startLine: c.s,
            endLine: c.e,
            symbol: c.symbol ?? undefined,
            kind: (c.kind ?? undefined) as never,
            text,
            hash: `${copy}:${file}:${c.s}`,
            tokens: 0,
          };
        });
        big.store.putFile({ path: `copy${copy}/${file}`, hash: `${copy}`, size: 0, mtimeMs: 0, language: chunks[0]!.language }, list);
        for (const c of list) vectors.set(c.hash, hashEmbedding(c.text, DIMS));
        total += list.length;
        if (vectors.size >= 5000) {
          big.store.putVectors([...vectors].map(([hash, vector]) => ({ hash, vector })));
          vectors.clear();
        }
      }
      copy++;
    }
    big.store.putVectors([...vectors].map(([hash, vector]) => ({ hash, vector })));
    const bc = big.counts();
    console.log(`built a ${bc.chunks}-chunk index with ${bc.vectors} vectors of ${DIMS} dimensions in ${ms(performance.now() - fill)}`);

    const queries = [
      'debounce function wait',
      'deep clone object',
      'observable subscribe error',
      'merge map concurrency',
      'throttle leading trailing',
      'isEqual',
      'combineLatest',
      'parse http header',
      'memoize resolver cache',
      'scheduler async delay',
    ];
    for (const q of queries) big.search({ query: q, vector: hashEmbedding(q, DIMS), k: 10 }); // warm
    const hybrid: number[] = [];
    const flat: number[] = [];
    let agree = 0;
    for (let round = 0; round < 5; round++) {
      for (const q of queries) {
        const v = hashEmbedding(q, DIMS);
        let s = performance.now();
        const a = big.search({ query: q, vector: v, k: 10 });
        hybrid.push(performance.now() - s);
        s = performance.now();
        const b = big.search({ query: q, vector: v, k: 10, vectorMode: 'exact' });
        flat.push(performance.now() - s);
        if (round === 0 && a[0]?.path === b[0]?.path && a[0]?.startLine === b[0]?.startLine) agree++;
      }
    }
    const h = stats(hybrid);
    const f = stats(flat);
    console.log(
      `hybrid query at ${bc.chunks} chunks (bm25 + binary KNN + float re-score, fused): p50 ${ms(h.p50)}, p95 ${ms(h.p95)} (target p50 ≤ 20 ms)`,
    );
    console.log(
      `same query with a flat scan of the float vectors: p50 ${ms(f.p50)}, p95 ${ms(f.p95)}; same top result in ${agree}/${queries.length} queries`,
    );
    big.close();

    // 4. Embedding throughput.
    await embedThroughput(work);

    console.log(`peak memory (max RSS, worker included): ${mb(process.resourceUsage().maxRSS)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function listIndexed(db: string): Promise<string[]> {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('select path from files where skipped is null order by path').pluck().all() as string[];
  } finally {
    d.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
