/**
 * `switchyard index` and `switchyard search`, the built dist/cli.js run as a user would, against the test servers;
 * and crash consistency: the CLI (with its index worker) killed with SIGKILL at random points mid-index, then the
 * database reopened and checked.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexStore } from '../../src/core/index/store';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import { spawn } from 'node:child_process';
import { CLI, runCli, type CliResult } from '../fixtures/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-index-'));
let ollama: FixtureServer;
let cloud: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ dims: 16 }) });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ dims: 16 }) });
});
after(async () => {
  await ollama.close();
  await cloud.close();
});

function configFile(settings: Record<string, unknown>): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(settings));
  return file;
}

function run(args: string[]): Promise<CliResult> {
  return runCli(args, { env: { XDG_CACHE_HOME: path.join(dir, 'cache') } });
}

/**
 * A folder of `n` TypeScript files made from this repository's own sources (each one distinct), plus a README and
 * lib/ about parsing HTTP headers. Sources that speak of parsing, HTTP or headers themselves are left out, so the
 * search below has the same answers however src/core changes (a new gateway module took README out of the top 5).
 */
function project(n: number): string {
  const root = fs.mkdtempSync(path.join(dir, 'proj-'));
  const srcRoot = path.resolve(__dirname, '../../src/core');
  const sources: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const text = fs.readFileSync(p, 'utf8');
        if (!/pars|http|header/i.test(text)) sources.push(text);
      }
    }
  };
  walk(srcRoot);
  for (let i = 0; i < n; i++) {
    const sub = path.join(root, `pkg${i % 10}`);
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `mod${i}.ts`), `// variant ${i}\n${sources[i % sources.length]}`);
  }
  fs.writeFileSync(path.join(root, 'README.md'), '# Demo\n\n## Parsing\nWe parse the HTTP header here.\n');
  fs.mkdirSync(path.join(root, 'lib'));
  fs.writeFileSync(
    path.join(root, 'lib', 'http.ts'),
    'export function parseHttpHeader(line: string): [string, string] {\n  const i = line.indexOf(":");\n  return [line.slice(0, i), line.slice(i + 1)];\n}\n',
  );
  fs.writeFileSync(
    path.join(root, 'lib', 'use.ts'),
    'import { parseHttpHeader } from "./http";\nexport function headers(lines: string[]) {\n  return lines.map((l) => parseHttpHeader(l)).filter((h) => parseHttpHeader(h[0]));\n}\n',
  );
  return root;
}

const embedConfig = () =>
  configFile({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { embed: ['box/nomic-embed-text:latest'] },
  });

test('index prints progress and a summary; search --json answers the contract, best first, paths relative', async () => {
  const root = project(30);
  const db = path.join(dir, 'a.sqlite');
  const cfg = embedConfig();
  const r = await run(['index', root, '--db', db, '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /indexing: \d+\/33 files, \d+ chunks/);
  assert.match(
    r.stdout,
    new RegExp(
      `^indexed ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 33 files, \\d+ chunks \\(33 files re-indexed, 0 unchanged, 0 removed\\)`,
    ),
  );
  assert.match(r.stdout, /vectors: every chunk embedded with box\/nomic-embed-text:latest \(16 dimensions\)/);
  assert.match(r.stdout, new RegExp(`database: ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

  const again = await run(['index', root, '--db', db, '--config', cfg]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(0 files re-indexed, 33 unchanged, 0 removed\)/);

  const s = await run(['search', root, 'parse http header', '--db', db, '--config', cfg, '-k', '5', '--json']);
  assert.equal(s.code, 0, s.stderr);
  assert.doesNotMatch(s.stderr, /keyword-only/);
  const hits = JSON.parse(s.stdout) as { path: string; startLine: number; endLine: number; symbol: string | null; score: number }[];
  assert.equal(hits.length, 5);
  for (const h of hits) {
    assert.deepEqual(Object.keys(h).sort(), ['endLine', 'path', 'score', 'startLine', 'symbol']);
    assert.ok(!path.isAbsolute(h.path) && fs.existsSync(path.join(root, h.path)), h.path);
    assert.ok(h.startLine >= 1 && h.endLine >= h.startLine);
  }
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i]!.score <= hits[i - 1]!.score, 'best first');
  assert.ok(hits.some((h) => h.path === 'README.md'));

  // An identifier finds its definition before its callers.
  const human = await run(['search', root, 'parseHttpHeader', '--db', db, '--config', cfg, '-k', '1']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^lib\/http\.ts:1-4 {2}parseHttpHeader {2}\(0\.\d+\)\n$/);
});

test('with no embedding model allowed (local-only, cloud embedder) the index is keyword-only and says so; zero cloud requests', async () => {
  const root = project(5);
  const db = path.join(dir, 'b.sqlite');
  const cfg = configFile({
    'switchyard.providers': [{ id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false }],
    'switchyard.tasks': { embed: ['cloud/text-embedding-3-small'] },
    'switchyard.privacy': 'local-only',
  });
  const r = await run(['index', root, '--db', db, '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vectors: \d+ chunks not embedded \(embeddings paused: .*\); search is keyword-only/);
  const s = await run(['search', root, 'router', '--db', db, '--config', cfg, '--json']);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /keyword-only search/);
  assert.ok((JSON.parse(s.stdout) as unknown[]).length > 0);
  assert.equal(cloud.counts.total, 0);
});

test('usage errors exit 2, failures exit 1, each with a one-line reason', async () => {
  const noFolder = await run(['index']);
  assert.equal(noFolder.code, 2);
  assert.match(noFolder.stderr, /index needs a folder/);
  const missing = await run(['index', path.join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such folder/);
  const noQuery = await run(['search', dir]);
  assert.equal(noQuery.code, 2);
  const badK = await run(['search', dir, 'x', '-k', '0']);
  assert.equal(badK.code, 2);
  assert.match(badK.stderr, /-k must be a whole number/);
  const noIndex = await run(['search', dir, 'x', '--db', path.join(dir, 'absent.sqlite')]);
  assert.equal(noIndex.code, 1);
  assert.match(noIndex.stderr, /^switchyard: no index of .* run `switchyard index .*` first\n$/);
});

test(
  'killed at random points mid-index (SIGKILL of the CLI and its worker), the index reopens consistent and resumes',
  { timeout: 180_000 },
  async () => {
    const root = project(600);
    const cfg = configFile({ 'switchyard.tasks': { embed: [] } });
    const full = path.join(dir, 'full.sqlite');
    const complete = await run(['index', root, '--db', full, '--config', cfg]);
    assert.equal(complete.code, 0, complete.stderr);
    const reference = IndexStore.open(full);
    const want = reference.counts();
    reference.close();
    assert.equal(want.indexedFiles, 603);

    let midway = 0;
    const delays = [300, 600, 900, 1200, 1500, 1800].map((d) => d + Math.floor(Math.random() * 300));
    for (const delay of delays) {
      const db = path.join(dir, `crash-${delay}.sqlite`);
      const child = spawn(process.execPath, [CLI, 'index', root, '--db', db, '--config', cfg], { stdio: 'ignore' });
      // Listened for from the start: a run that finishes before its kill has already closed when the kill comes.
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await closed;
      if (!fs.existsSync(db)) continue;
      const store = IndexStore.open(db);
      try {
        assert.deepEqual(store.messages, [], 'a killed index is not corrupt');
        assert.deepEqual(store.verify(), [], `consistent after a kill at ${delay} ms`);
        const c = store.counts();
        if (c.files > 0 && c.files < 603) midway++;
      } finally {
        store.close();
      }
      // Resuming finishes the job: the same chunks as an index that was never interrupted.
      const resumed = await run(['index', root, '--db', db, '--config', cfg]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const after = IndexStore.open(db);
      try {
        const c = after.counts();
        assert.deepEqual([c.indexedFiles, c.chunks], [want.indexedFiles, want.chunks]);
        assert.deepEqual(after.verify(), []);
      } finally {
        after.close();
      }
    }
    assert.ok(midway >= 1, 'at least one kill landed while files were being indexed');
  },
);

/** Spawns `switchyard index` and resolves with the first stderr progress line that matches `re` (and the child). */
function spawnIndex(args: string[]): {
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  stderr: () => string;
  progress(re: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<[number | null, string | null]>;
} {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve(m: RegExpMatchArray): void }[] = [];
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of [...waiters]) {
      const m = err.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const exit = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    progress: (re) =>
      new Promise((resolve, reject) => {
        const m = err.match(re);
        if (m) return resolve(m);
        waiters.push({ re, resolve });
        void exit.then(() => reject(new Error(`exited before ${re}: ${err}`)));
      }),
    exit,
  };
}

test(
  'Ctrl+C (SIGINT) stops index within a second (1.5 s allowed), exit 130 with one line; the database is consistent and a rerun finishes',
  { timeout: 180_000 },
  async () => {
    const root = project(3000);
    const cfg = configFile({ 'switchyard.tasks': { embed: [] } });
    const db = path.join(dir, 'sigint.sqlite');
    const run1 = spawnIndex(['index', root, '--db', db, '--config', cfg]);
    await run1.progress(/indexing: \d+\/3003 files/);
    const sent = performance.now();
    run1.child.kill('SIGINT');
    const [code, signal] = await run1.exit;
    const took = performance.now() - sent;
    assert.ok(took < 1500, `exited ${took.toFixed(0)} ms after SIGINT`);
    assert.equal(signal, null, run1.stderr());
    assert.equal(code, 130, run1.stderr());
    const lines = run1
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('switchyard:'));
    assert.deepEqual(lines, ['switchyard: canceled; what was indexed is kept']);
    assert.match(run1.stdout(), /^canceled /);
    const store = IndexStore.open(db);
    try {
      assert.deepEqual(store.messages, []);
      assert.deepEqual(store.verify(), [], 'integrity_check ok, no torn file');
      assert.ok(store.counts().files < 3003, 'stopped before the end');
    } finally {
      store.close();
    }
    const resumed = await run(['index', root, '--db', db, '--config', cfg]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^indexed .*: 3003 files/);
    const s = await run(['search', root, 'parseHttpHeader', '--db', db, '--config', cfg, '-k', '1']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^lib\/http\.ts:1-4/);
  },
);

test(
  'killed with SIGKILL during a first index, a rerun re-chunks only the files that were not committed',
  { timeout: 180_000 },
  async () => {
    const root = project(2000);
    const cfg = configFile({ 'switchyard.tasks': { embed: [] } });
    const db = path.join(dir, 'resume.sqlite');
    const first = spawnIndex(['index', root, '--db', db, '--config', cfg]);
    // The first progress line comes after the first file was committed; kill at the one after it (about a second in).
    await first.progress(/indexing: \d+\/2003 files[^]*indexing: \d+\/2003 files/);
    first.child.kill('SIGKILL');
    await first.exit;
    const store = IndexStore.open(db);
    let committed: number;
    try {
      assert.deepEqual(store.verify(), []);
      committed = store.counts().files;
    } finally {
      store.close();
    }
    assert.ok(committed > 0 && committed < 2003, `${committed} files committed before the kill`);
    const rerun = await run(['index', root, '--db', db, '--config', cfg]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const m = rerun.stdout.match(/\((\d+) files re-indexed, (\d+) unchanged, 0 removed\)/);
    assert.ok(m, rerun.stdout);
    assert.equal(Number(m[2]), committed, 'every committed file is unchanged');
    assert.equal(Number(m[1]), 2003 - committed, 'only the rest is chunked');
  },
);
