/**
 * The index as a hostile repository would attack it (issue 13): links out of the folder (file, folder, /proc), special
 * files (FIFO, socket, device), a file that grows or turns into a FIFO between the walk and the read, and embedding
 * servers that reject one too-long input (llama.cpp, OpenAI and Ollama's real error answers). Real SQLite, the real
 * worker thread, the real clients against the protocol-faithful test servers.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/core/config/config';
import { IndexEngine, type EngineOptions } from '../../src/core/index/engine';
import { WorkspaceIndex } from '../../src/core/index/service';
import { IndexStore } from '../../src/core/index/store';
import { readBounded } from '../../src/core/index/walker';
import { Switchyard } from '../../src/core/switchyard';
import { scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, type Backend } from '../fixtures';

const cleanup: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function tmp(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-hard-${name}-`));
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(root: string, rel: string, body: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), body);
}

function engine(root: string, extra: Partial<EngineOptions> = {}): IndexEngine {
  const e = new IndexEngine({
    root,
    dbPath: path.join(tmp('db'), 'index.sqlite'),
    exclude: [],
    maxFileSizeKb: 512,
    chunkTokens: 400,
    ...extra,
  });
  cleanup.push(() => e.close());
  return e;
}

const SECRET = 'zebraquokka7f3e';
// Built from pieces, so nothing key-shaped is committed.
const PEM = (edge: string) => `${'-'.repeat(5)}${edge} OPENSSH ${['PRIVATE', 'KEY'].join(' ')}${'-'.repeat(5)}`;
const KEY = `${PEM('BEGIN')}\nb3BlbnNzaC1rZXktdjEAAAAA${SECRET}\n${PEM('END')}\n`;

test('links out of the folder (a folder link, a file link, a /proc file) are not followed: not indexed, not embedded, not found', async () => {
  const base = tmp('links');
  const outside = path.join(base, 'outside');
  write(outside, 'id_ed25519', KEY);
  write(outside, 'notes.md', `private notes ${SECRET}\n`);
  const root = path.join(base, 'repo');
  write(root, 'src/app.ts', 'export function handleRequest() {\n  return 1;\n}\n');
  fs.symlinkSync('../outside', path.join(root, 'docs')); // docs -> ../outside (a folder link out)
  fs.symlinkSync('../outside/id_ed25519', path.join(root, 'key.txt')); // a file link out
  fs.symlinkSync('/proc/self/environ', path.join(root, 'env.txt')); // a /proc file
  fs.symlinkSync(path.join(root, 'src'), path.join(root, 'again')); // a folder link inside: indexed once, at src/
  fs.symlinkSync('src/app.ts', path.join(root, 'alias.ts')); // a file link inside

  const e = engine(root);
  const s = await e.sync();
  const reasons = Object.fromEntries(s.skipped.map((x) => [x.rel, x.reason]));
  for (const rel of ['docs', 'key.txt', 'env.txt'])
    assert.match(reasons[rel] ?? '', /outside the indexed folder/, `${rel}: ${reasons[rel]}`);
  assert.match(reasons.again ?? '', /inside the indexed folder|symlink loop/);
  assert.match(reasons['alias.ts'] ?? '', /inside the indexed folder/);
  assert.deepEqual([...e.store.files().keys()].sort(), ['src/app.ts'], 'only the real file, once');
  assert.deepEqual(e.search({ query: SECRET, k: 5 }), [], 'search finds nothing from outside');
  assert.deepEqual(e.search({ query: 'PRIVATE KEY', k: 5 }), []);
  const toEmbed = e
    .pending(1000)
    .map((p) => p.text)
    .join('\n');
  assert.doesNotMatch(toEmbed, new RegExp(`${SECRET}|PRIVATE KEY`), 'nothing from outside is handed to the embedder');

  // A file event for a path through the link (or the link itself) indexes nothing either.
  assert.deepEqual(await e.update(['docs/id_ed25519', 'docs', 'key.txt', 'env.txt']), { indexed: 0, removed: 0, unchanged: 0 });
  assert.deepEqual([...e.store.files().keys()], ['src/app.ts']);

  // A file that becomes a link out after it was indexed is dropped, not read through the link.
  write(root, 'later.ts', 'export const later = 1;\n');
  await e.sync();
  fs.rmSync(path.join(root, 'later.ts'));
  fs.symlinkSync('../outside/id_ed25519', path.join(root, 'later.ts'));
  await e.update(['later.ts']);
  assert.deepEqual([...e.store.files().keys()], ['src/app.ts']);
  assert.deepEqual(e.search({ query: SECRET, k: 5 }), []);
});

test('FIFOs, sockets and devices are skipped with a reason; only regular files are read', async () => {
  const root = tmp('special');
  write(root, 'ok.ts', 'export const ok = 1;\n');
  execFileSync('mkfifo', [path.join(root, 'pipe.ts')]);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(root, 'sock.ts'), resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const e = engine(root);
  const s = await e.sync();
  const reasons = Object.fromEntries(s.skipped.map((x) => [x.rel, x.reason]));
  assert.match(reasons['pipe.ts'] ?? '', /not a regular file \(FIFO\)/);
  assert.match(reasons['sock.ts'] ?? '', /not a regular file \(socket\)/);
  assert.deepEqual([...e.store.files().keys()], ['ok.ts']);

  // The bounded read itself: a device and a /proc file that reports size 0 but streams data.
  assert.match((readBounded('/dev/zero', 1024) as { skip: string }).skip, /not a regular file \(device\)/);
  const proc = readBounded('/proc/self/maps', 16);
  assert.ok('skip' in proc && /larger than/.test(proc.skip), 'a size-0 /proc file is read with the bound');
  const small = readBounded('/proc/self/status', 1024 * 1024);
  assert.ok('skip' in small && /reports size 0 but streams data/.test(small.skip), 'and skipped even when it fits');
  write(root, 'empty.ts', '');
  assert.ok('bytes' in readBounded(path.join(root, 'empty.ts'), 1024), 'a really empty file is fine');
});

test('a file that grows past the limit between the walk and the read is skipped: the limit holds on the bytes read', async () => {
  const root = tmp('grow');
  write(root, 'a.ts', 'export const a = 1;\n');
  write(root, 'b.ts', 'export const b = 1;\n');
  const e = engine(root, { maxFileSizeKb: 4 });
  let grown = false;
  const s = await e.sync((p) => {
    // The walk is done and a.ts was read: b.ts grows to 1 MB before its turn.
    if (p.phase === 'indexing' && !grown) {
      grown = true;
      fs.appendFileSync(path.join(root, 'b.ts'), `// ${'x'.repeat(1024 * 1024)}\n`);
    }
  });
  assert.ok(grown);
  const reasons = Object.fromEntries(s.skipped.map((x) => [x.rel, x.reason]));
  assert.match(reasons['b.ts'] ?? '', /larger than 4 KB/);
  assert.deepEqual(
    [...e.store.files().keys()].filter((f) => !e.store.files().get(f)!.skipped),
    ['a.ts'],
  );
});

test('a file replaced by a FIFO after the walk does not hang the sync', { timeout: 60_000 }, async () => {
  const root = tmp('fifo-after');
  write(root, 'a.ts', 'export const a = 1;\n');
  write(root, 'b.ts', 'export const b = 1;\n');
  const db = path.join(tmp('db'), 'index.sqlite');
  // In a child process: on the old code the read of the FIFO blocks the thread for good, and the test must see that
  // as a failure, not hang with it.
  const script = `
    const fs = require('node:fs');
    const { execFileSync } = require('node:child_process');
    const { IndexEngine } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/index/engine.ts'))});
    const e = new IndexEngine({ root: ${JSON.stringify(root)}, dbPath: ${JSON.stringify(db)}, exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
    let swapped = false;
    e.sync((p) => {
      if (p.phase === 'indexing' && !swapped) {
        swapped = true;
        fs.rmSync(${JSON.stringify(path.join(root, 'b.ts'))});
        execFileSync('mkfifo', [${JSON.stringify(path.join(root, 'b.ts'))}]);
      }
    }).then((s) => { process.stdout.write(JSON.stringify({ swapped, skipped: s.skipped })); e.close(); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const bound = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = (await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))) as [number | null, string | null];
  clearTimeout(bound);
  assert.equal(signal, null, 'the sync finished (it was killed after 30 s otherwise)');
  assert.equal(code, 0);
  const r = JSON.parse(out) as { swapped: boolean; skipped: { rel: string; reason: string }[] };
  assert.ok(r.swapped);
  assert.match(r.skipped.find((x) => x.rel === 'b.ts')?.reason ?? '', /not a regular file \(FIFO\)/);
});

// ---- One chunk must never stop embedding for the whole index ----

function switchyard(providers: unknown[], embed: string[]): Switchyard {
  // Routing defaults (a 15 s cool-down after a server error), as a user has them.
  return new Switchyard({
    config: parseConfig({ 'switchyard.providers': providers, 'switchyard.tasks': { embed }, 'switchyard.privacy': 'allow' }).config,
    secrets: { getApiKey: async () => 'sk-test-key-abcdefghij' },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
}

/**
 * A generated table on one line (~1,850 characters, 1,200 tokens to a tokenizer, ~600 by the 3-characters
 * estimate): a chunk cannot be smaller than a line, so it is longer than a 512-token embedding model takes.
 */
function denseFile(seed: number): string {
  return `// table ${seed}\nexport const t${seed} = [${Array.from({ length: 300 }, (_, i) => `${seed}*${i}`).join(',')}];\n`;
}
const denseStart = (seed: number) => `export const t${seed} = [`;

function corpus(root: string, normal: number, dense: number[]): void {
  for (let i = 0; i < normal; i++)
    write(root, `src/f${i}.ts`, `/** helper number ${i} */\nexport function helper${i}(x: number): number {\n  return x + ${i};\n}\n`);
  for (const d of dense) write(root, `gen/table${d}.ts`, denseFile(d));
}

const tooLong = (backend: Backend, limit: number) => (input: string[]) => input.some((t) => backend.countTokens(t) > limit);

for (const flavour of [
  'llama.cpp (HTTP 500 input is too large)',
  'OpenAI (400 context_length_exceeded)',
  'Ollama (500 the input length exceeds the context length)',
] as const) {
  test(
    `an embedding server that rejects too-long inputs, ${flavour}: every chunk gets a vector, the others are not held back, the limit is learned and kept`,
    { timeout: 120_000 },
    async () => {
      const backend = scriptedBackend({ dims: 16 });
      const kind = flavour.split(' ')[0]!;
      const server =
        kind === 'llama.cpp'
          ? await startLlamaCppServer({ backend, modelAlias: 'bge-small', physicalBatch: 512 })
          : kind === 'OpenAI'
            ? await startOpenAIServer({ backend, models: [{ name: 'text-embedding-small', embedding: true, contextLength: 512 }] })
            : await startOllamaServer({
                backend,
                models: [{ name: 'bge-small:latest', embedding: true, contextLength: 512 }],
                embedRejectsTooLong: 500,
              });
      cleanup.push(() => server.close());
      const sy =
        kind === 'llama.cpp'
          ? switchyard([{ id: 'llama', kind: 'llamacpp', baseUrl: server.url }], ['llama/bge-small'])
          : kind === 'OpenAI'
            ? switchyard([{ id: 'oai', kind: 'openai-compatible', baseUrl: `${server.url}/v1`, local: true }], ['oai/text-embedding-small'])
            : switchyard([{ id: 'box', kind: 'ollama', baseUrl: server.url }], ['box/bge-small:latest']);
      const embedPath = kind === 'Ollama' ? '/api/embed' : '/v1/embeddings';
      const root = tmp('overflow');
      corpus(root, 40, [1, 2, 3]);
      const dbPath = path.join(tmp('db'), 'index.sqlite');
      const statuses: string[] = [];
      const open = () =>
        WorkspaceIndex.open({
          root,
          dbPath,
          embedder: sy.router,
          batchSize: 8,
          embedTimeoutMs: 5000,
          backoffMs: { initial: 100, max: 300 },
          onStatus: (s) => s.message && statuses.push(s.message),
        });
      const embedRequests = () => server.requests.filter((r) => r.path === embedPath).map((r) => (r.body as { input: string[] }).input);
      const rejected = tooLong(backend, 512);

      let idx = await open();
      cleanup.push(() => idx.close());
      await idx.sync();
      await idx.embeddingsSettled({ untilPaused: true });
      let counts = await idx.counts();
      assert.equal(counts.pending, 0, `every chunk has a vector (${statuses.at(-1) ?? ''})`);
      assert.deepEqual(
        statuses.filter((m) => m.includes('paused')),
        [],
        'embedding never paused',
      );
      const first = embedRequests();
      assert.ok(first.some(rejected), 'the server did reject the dense chunks');
      // The dense chunks were embedded cut to what the server takes; the normal ones whole.
      const accepted = first.filter((input) => !rejected(input)).flat();
      for (const d of [1, 2, 3]) {
        const cut = accepted.filter((t) => t.startsWith(denseStart(d)));
        assert.equal(cut.length > 0, true, `a cut of table${d} was accepted`);
        assert.ok(cut.every((t) => t.length < denseFile(d).length && backend.countTokens(t) <= 512));
      }
      for (let i = 0; i < 40; i++)
        assert.ok(
          accepted.some((t) => t.includes(`helper${i}(`)),
          `helper${i} embedded`,
        );
      // Rejected requests are few: the binary split finds the dense chunk in each batch, it does not retry everything.
      assert.ok(first.filter(rejected).length <= 3 * 10, `${first.filter(rejected).length} rejected requests`);

      // Learned: a new dense file is cut to fit before it is sent, also after the index is reopened.
      write(root, 'gen/table4.ts', denseFile(4));
      await idx.update([path.join(root, 'gen/table4.ts')]);
      await idx.embeddingsSettled({ untilPaused: true });
      await idx.close();
      idx = await open();
      write(root, 'gen/table5.ts', denseFile(5));
      const before = embedRequests().length;
      await idx.sync();
      await idx.embeddingsSettled({ untilPaused: true });
      counts = await idx.counts();
      assert.equal(counts.pending, 0);
      const later = embedRequests().slice(before);
      assert.ok(later.length > 0 && later.flat().some((t) => t.startsWith(denseStart(5))));
      assert.deepEqual(later.filter(rejected), [], 'no rejected request once the limit is known (kept in the index)');
    },
  );
}

test('pending chunks are handed out from a cursor: each once, released ones again, reused ids found; the kept pending count stays exact', () => {
  const store = IndexStore.open(path.join(tmp('db'), 'index.sqlite'));
  cleanup.push(() => store.close());
  const chunk = (t: string) => ({ startLine: 1, endLine: 1, text: t, hash: `h:${t}`, tokens: 1 });
  const put = (file: string, texts: string[]) =>
    store.putFile({ path: file, hash: file, size: 1, mtimeMs: 1, language: 'text' }, texts.map(chunk));
  const exact = () =>
    store.db
      .prepare(
        'select count(*) from (select distinct c.hash from chunks c where not exists (select 1 from vectors v where v.hash = c.hash))',
      )
      .pluck()
      .get() as number;
  put('a', ['a1', 'a2', 'a3', 'dup']);
  put('b', ['b1', 'dup']);
  store.useModel('m', 2);
  const inFlight = new Set<string>();
  const take = (n: number) => {
    const got = store.pending(n, inFlight);
    for (const g of got) inFlight.add(g.hash);
    return got.map((g) => g.text);
  };
  assert.equal(store.counts().pending, 5);
  assert.deepEqual(take(3), ['a1', 'a2', 'a3']);
  assert.deepEqual(take(3), ['dup', 'b1'], 'a hash twice is handed out once');
  assert.deepEqual(take(3), []);
  store.putVectors([
    { hash: 'h:a1', vector: [1, 0] },
    { hash: 'h:a2', vector: [0, 1] },
  ]);
  assert.equal(store.counts().pending, 3);
  assert.equal(store.counts().pending, exact());
  // A failed batch is released: offered again.
  inFlight.delete('h:a3');
  store.rewind();
  assert.deepEqual(take(5), ['a3']);
  // The file with the highest chunk ids is replaced: its new chunks may reuse ids below the cursor.
  put('b', ['b2', 'b3']);
  assert.deepEqual(take(5), ['b2', 'b3']);
  store.putVectors([
    { hash: 'h:b2', vector: [1, 1] },
    { hash: 'h:zzz', vector: [1, 1] },
  ]);
  assert.equal(store.counts().pending, exact(), 'a vector for a hash no chunk has does not count');
});

test('chunk budgets count dense code as a tokenizer does: no chunk of operator-heavy code is several times the budget', async () => {
  const root = tmp('dense');
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) lines.push(`m[${i}]=q[${i}]+r[${i + 1}]-s[${i * 7}]*(t[${i}]|u[${i}]);`);
  write(root, 'gen/table.ts', `${lines.join('\n')}\n`);
  write(root, 'README.md', `# Notes\n\n${'Plain prose about the project and how it is built, line after line.\n'.repeat(40)}`);
  const e = engine(root, { chunkTokens: 400 });
  await e.sync();
  const tokenizer = scriptedBackend(); // counts every mark and word, as WordPiece does for code
  const rows = e.store.db.prepare('select c.text, c.tokens, f.path from chunks c join files f on f.id = c.file_id').all() as {
    text: string;
    tokens: number;
    path: string;
  }[];
  const code = rows.filter((r) => r.path === 'gen/table.ts');
  assert.ok(code.length > 1);
  for (const r of code)
    assert.ok(
      tokenizer.countTokens(r.text) <= 400 * 1.1,
      `${tokenizer.countTokens(r.text)} tokens in a chunk of ${r.text.length} characters`,
    );
  // Prose is measured as before (about 3 characters a token).
  const prose = rows.filter((r) => r.path === 'README.md');
  assert.ok(prose.length > 0);
  for (const r of prose) assert.equal(r.tokens, Math.ceil(r.text.length / 3));
});

test(
  'a cancel lands during the walk (the worker busy in a synchronous walk of 40k folders): the sync stops there',
  { timeout: 120_000 },
  async () => {
    const root = tmp('walk');
    for (let i = 0; i < 100; i++) {
      write(root, `d${i}/file.ts`, `export const f${i} = ${i};\n`);
      for (let j = 0; j < 400; j++) fs.mkdirSync(path.join(root, `d${i}`, `e${j}`));
    }
    const idx = await WorkspaceIndex.open({ root, dbPath: path.join(tmp('db'), 'index.sqlite') });
    cleanup.push(() => idx.close());
    const controller = new AbortController();
    // The scanning report is posted just before the walk starts: cancel then.
    const summary = await idx.sync({ signal: controller.signal, onProgress: (p) => p.phase === 'scanning' && controller.abort() });
    assert.equal(summary.canceled, true);
    assert.ok(summary.files < 100, `the walk stopped early (${summary.files} of 100 files found)`);
    assert.ok((await idx.counts()).files < 100);
  },
);

test(
  'one odd chunk the estimate counts low (a run of symbols a tokenizer splits into bytes) does not make ordinary chunks be cut',
  { timeout: 120_000 },
  async () => {
    const base = scriptedBackend({ dims: 16 });
    // Byte-level BPE: a snowman is 3 bytes, 4 tokens with its joiner; the code-aware estimate counts it as one.
    const backend: Backend = { ...base, countTokens: (t) => base.countTokens(t) + 3 * (t.match(/☃/g)?.length ?? 0) };
    const server = await startLlamaCppServer({ backend, modelAlias: 'bge-small', physicalBatch: 512 });
    cleanup.push(() => server.close());
    const sy = switchyard([{ id: 'llama', kind: 'llamacpp', baseUrl: server.url }], ['llama/bge-small']);
    const root = tmp('odd');
    const prose = (i: number) =>
      `/**\n${Array.from({ length: 14 }, (_, k) => ` * Explains how the scheduler ${i} balances queued requests between workers, part ${k}.`).join('\n')}\n */\nexport const note${i} = ${i};\n`;
    for (let i = 0; i < 6; i++) write(root, `src/n${i}.ts`, prose(i));
    write(root, 'src/z_snow.ts', `export const snow = "${'☃'.repeat(200)}";\n`);
    const idx = await WorkspaceIndex.open({
      root,
      dbPath: path.join(tmp('db'), 'index.sqlite'),
      embedder: sy.router,
      batchSize: 8,
      embedTimeoutMs: 5000,
      backoffMs: { initial: 100, max: 300 },
    });
    cleanup.push(() => idx.close());
    await idx.sync();
    await idx.embeddingsSettled({ untilPaused: true });
    assert.equal((await idx.counts()).pending, 0);
    const inputs = () => server.requests.filter((r) => r.path === '/v1/embeddings').flatMap((r) => (r.body as { input: string[] }).input);
    assert.ok(
      inputs().some((t) => t.includes('☃') && !t.includes('☃'.repeat(200))),
      'the snowman chunk was cut to fit',
    );
    // A new ordinary chunk, as long as the ones taken whole before, is sent whole.
    write(root, 'src/n9.ts', prose(9));
    await idx.update([path.join(root, 'src/n9.ts')]);
    await idx.embeddingsSettled({ untilPaused: true });
    const sent = inputs().filter((t) => t.includes('scheduler 9'));
    assert.ok(sent.length > 0);
    assert.ok(
      sent.every((t) => t.includes('part 13.')),
      'not cut',
    );
  },
);

test(
  "a server that counts tokens (llama.cpp /tokenize): refused inputs are cut to its own limit, not the estimate's, whatever the text is made of",
  { timeout: 120_000 },
  async () => {
    const base = scriptedBackend({ dims: 16 });
    // A small-vocabulary tokenizer: two characters a token, spaces included. The estimate counts long words at about
    // a quarter of that and short words at two thirds, so a limit learned in estimate units fits one kind of text and
    // cuts the other far short (or lets it be refused again).
    const backend: Backend = { ...base, countTokens: (t) => Math.ceil(t.length / 2) };
    const limit = 300;
    const server = await startLlamaCppServer({ backend, modelAlias: 'bge-small', physicalBatch: limit });
    cleanup.push(() => server.close());
    const sy = switchyard([{ id: 'llama', kind: 'llamacpp', baseUrl: server.url }], ['llama/bge-small']);
    const root = tmp('exact');
    const longWords = (i: number) =>
      Array.from(
        { length: 40 },
        (_, k) => `// ${Array.from({ length: 6 }, (_, w) => `characteristically${'abcdefghij'[(i + k + w) % 10]}`).join(' ')}`,
      ).join('\n');
    const shortWords = (i: number) =>
      Array.from(
        { length: 40 },
        (_, k) => `// ${Array.from({ length: 14 }, (_, w) => `${'abcdefghij'[(i + k + w) % 10]}x`).join(' ')}`,
      ).join('\n');
    write(root, 'src/a_long.ts', `${longWords(1)}\nexport const a = 1;\n`);
    write(root, 'src/b_short.ts', `${shortWords(1)}\nexport const b = 1;\n`);
    const dbPath = path.join(tmp('db'), 'index.sqlite');
    const open = () =>
      WorkspaceIndex.open({ root, dbPath, embedder: sy.router, batchSize: 8, embedTimeoutMs: 5000, backoffMs: { initial: 100, max: 300 } });
    let idx = await open();
    cleanup.push(() => idx.close());
    await idx.sync();
    await idx.embeddingsSettled({ untilPaused: true });
    assert.equal((await idx.counts()).pending, 0);
    const embedded = () => server.requests.filter((r) => r.path === '/v1/embeddings').map((r) => (r.body as { input: string[] }).input);
    const tooLong = (input: string[]) => input.some((t) => backend.countTokens(t) > limit);
    assert.ok(embedded().some(tooLong), 'the server refused long chunks');
    assert.ok(
      server.requests.some((r) => r.path === '/tokenize'),
      'the server was asked to count',
    );
    // Every input cut to fit holds nearly all the server takes, for both kinds of text.
    const accepted = () =>
      embedded()
        .filter((input) => !tooLong(input))
        .flat();
    const sources = () => [longWords, shortWords].flatMap((f) => [1, 2].map((i) => f(i)));
    const cutOnes = () => accepted().filter((t) => sources().some((src) => src.startsWith(t) && src.length > t.length && t.length > 200));
    assert.ok(cutOnes().length >= 2, `cut inputs of both kinds (${cutOnes().length})`);
    for (const t of cutOnes())
      assert.ok(backend.countTokens(t) >= limit * 0.9, `a cut input keeps ${backend.countTokens(t)} of ${limit} tokens`);

    // Learned in the server's tokens and kept: new files of both kinds, after a reopen, are cut before they are sent.
    await idx.close();
    idx = await open();
    write(root, 'src/c_long.ts', `${longWords(2)}\nexport const c = 1;\n`);
    write(root, 'src/d_short.ts', `${shortWords(2)}\nexport const d = 1;\n`);
    const before = embedded().length;
    await idx.sync();
    await idx.embeddingsSettled({ untilPaused: true });
    assert.equal((await idx.counts()).pending, 0);
    const later = embedded().slice(before);
    assert.ok(
      later.flat().some((t) => longWords(2).startsWith(t.slice(0, 100))) &&
        later.flat().some((t) => shortWords(2).startsWith(t.slice(0, 100))),
    );
    assert.deepEqual(later.filter(tooLong), [], 'no refused request once the limit is known');
    for (const t of cutOnes())
      assert.ok(backend.countTokens(t) >= limit * 0.9, `a cut input keeps ${backend.countTokens(t)} of ${limit} tokens`);
  },
);
