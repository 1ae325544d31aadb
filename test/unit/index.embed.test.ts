/**
 * The workspace index with its worker thread and real embeddings through the router, against the test servers:
 * hybrid search, privacy (local-only sends nothing to a cloud embedder), a hung embedding server and one that fails
 * large batches never stall chunking or keyword search, and the index catches up once the server recovers. One test
 * embeds with real llama.cpp inference (the tiny GGUF behind the llama.cpp test server).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/core/config/config';
import { WorkspaceIndex, type WorkspaceIndexOptions } from '../../src/core/index/service';
import { Switchyard } from '../../src/core/switchyard';
import {
  llamaBackend,
  scriptedBackend,
  startLlamaCppServer,
  startOllamaServer,
  startOpenAIServer,
  type Backend,
  type FixtureServer,
} from '../fixtures';

const servers: FixtureServer[] = [];
const indexes: WorkspaceIndex[] = [];
after(async () => {
  for (const i of indexes) await i.close();
  for (const s of servers) await s.close();
});

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-${name}-`));
}

/** A small project: 12 files, two functions each, distinct words per file. */
function project(): string {
  const root = tmp('proj');
  const topics = ['router fallback', 'vector search', 'chat webview', 'model download', 'usage ledger', 'gateway token'];
  for (let i = 0; i < 12; i++) {
    const t = topics[i % topics.length]!;
    fs.mkdirSync(path.join(root, 'src'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'src', `file${i}.ts`),
      `/** ${t} helpers, part ${i}. */\nexport function ${t.replace(' ', '_')}_${i}(input: string): string {\n  return input + '${t} ${i}';\n}\n\nexport function other${i}() {\n  return ${i};\n}\n`,
    );
  }
  return root;
}

function switchyard(providers: unknown[], embed: string[], privacy = 'allow'): Switchyard {
  return new Switchyard({
    config: parseConfig({
      'switchyard.providers': providers,
      'switchyard.tasks': { embed },
      'switchyard.privacy': privacy,
      'switchyard.routing.cooldownMs': 0,
    }).config,
    secrets: { getApiKey: async () => 'sk-test-key-abcdefghij' },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
}

async function open(root: string, sy: Switchyard, extra: Partial<WorkspaceIndexOptions> = {}): Promise<WorkspaceIndex> {
  const idx = await WorkspaceIndex.open({
    root,
    dbPath: path.join(tmp('db'), 'index.sqlite'),
    embedder: sy.router,
    batchSize: 8,
    embedTimeoutMs: 400,
    queryTimeoutMs: 400,
    backoffMs: { initial: 100, max: 300 },
    ...extra,
  });
  indexes.push(idx);
  return idx;
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('hybrid: chunks are embedded in batches through the router, search fuses bm25 and vectors', async () => {
  const ollama = await startOllamaServer({ backend: scriptedBackend({ dims: 32 }) });
  servers.push(ollama);
  const sy = switchyard([{ id: 'box', kind: 'ollama', baseUrl: ollama.url }], ['box/nomic-embed-text:latest']);
  const idx = await open(project(), sy);
  const summary = await idx.sync();
  assert.equal(summary.indexed, 12);
  await idx.embeddingsSettled();
  const counts = await idx.counts();
  assert.equal(counts.pending, 0);
  assert.equal(counts.model, 'box/nomic-embed-text:latest');
  assert.equal(counts.dims, 32);
  const batches = ollama.requests.filter((r) => r.path === '/api/embed').map((r) => (r.body as { input: string[] }).input.length);
  assert.ok(
    batches.every((n) => n <= 8),
    `batches of at most 8: ${batches.join(',')}`,
  );
  assert.equal(
    batches.reduce((a, b) => a + b, 0),
    counts.vectors,
    'each distinct chunk embedded once',
  );

  const hits = await idx.search('vector search helpers', { k: 3 });
  assert.equal(idx.lastSearchHybrid, true);
  assert.match(hits[0]!.path, /^src\/file(1|7)\.ts$/);
  assert.equal(hits[0]!.root, idx.root);
  assert.equal(idx.status().keywordOnly, false);

  // An edit re-embeds only the changed chunk.
  const before = ollama.requests.length;
  const file = path.join(idx.root, 'src', 'file3.ts');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('return 3;', 'return 33;'));
  await idx.update([file]);
  await idx.embeddingsSettled();
  const embedded = ollama.requests
    .slice(before)
    .filter((r) => r.path === '/api/embed')
    .flatMap((r) => (r.body as { input: string[] }).input);
  assert.equal(embedded.length, 1);
  assert.match(embedded[0]!, /return 33/);
});

test('privacy local-only: a cloud embedder gets zero requests; the index is keyword-only and says why', async () => {
  const cloud = await startOpenAIServer({ backend: scriptedBackend({ dims: 16 }) });
  servers.push(cloud);
  const sy = switchyard(
    [{ id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false }],
    ['cloud/text-embedding-3-small'],
    'local-only',
  );
  const idx = await open(project(), sy);
  await idx.sync();
  await idx.embeddingsSettled({ untilPaused: true });
  const status = idx.status();
  assert.equal(status.keywordOnly, true);
  assert.match(status.message!, /^embeddings paused: /);
  const hits = await idx.search('gateway token', { k: 2 });
  assert.equal(idx.lastSearchHybrid, false);
  assert.match(hits[0]!.path, /^src\/file(5|11)\.ts$/);
  assert.equal(cloud.counts.total, 0, 'not one request reached the cloud server');
});

test('a hung embedding server never stalls chunking or keyword search; embeddings resume when it recovers', async () => {
  const ollama = await startOllamaServer({ backend: scriptedBackend({ dims: 16 }) });
  servers.push(ollama);
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/embed');
  const sy = switchyard([{ id: 'box', kind: 'ollama', baseUrl: ollama.url }], ['box/nomic-embed-text:latest']);
  const idx = await open(project(), sy);
  const summary = await idx.sync();
  assert.equal(summary.indexed, 12, 'chunking finished while the embedder hangs');
  const paused = await until('embeddings to pause', () => idx.status().message?.startsWith('embeddings paused') && idx.status());
  assert.match(paused.message!, /timeout/);
  assert.equal(paused.keywordOnly, true);
  assert.ok(paused.embeddingsPending > 0);
  const hits = await idx.search('model download', { k: 2 });
  assert.match(hits[0]!.path, /^src\/file(3|9)\.ts$/);
  assert.equal(idx.lastSearchHybrid, false, 'a paused embedder is not asked for the query vector');
  assert.ok(ollama.aborted > 0, 'timed-out requests were aborted, not left open');

  ollama.setBehaviour({ mode: 'ok' }, 'POST /api/embed');
  await idx.embeddingsSettled();
  const counts = await idx.counts();
  assert.equal(counts.pending, 0);
  assert.equal(idx.status().message, undefined);
  assert.equal(idx.status().keywordOnly, false);
  await idx.search('model download', { k: 2 });
  assert.equal(idx.lastSearchHybrid, true);
});

test('a server that fails large batches: the batch is retried in halves and everything gets embedded', async () => {
  const base = scriptedBackend({ dims: 16 });
  const picky: Backend = {
    ...base,
    async embed(texts) {
      if (texts.length > 2) throw new Error(`batch of ${texts.length} is too large`);
      return base.embed(texts);
    },
  };
  const ollama = await startOllamaServer({ backend: picky });
  servers.push(ollama);
  const sy = switchyard([{ id: 'box', kind: 'ollama', baseUrl: ollama.url }], ['box/nomic-embed-text:latest']);
  const idx = await open(project(), sy);
  await idx.sync();
  await idx.embeddingsSettled();
  assert.equal((await idx.counts()).pending, 0);
  const sizes = ollama.requests.filter((r) => r.path === '/api/embed').map((r) => (r.body as { input: string[] }).input.length);
  assert.deepEqual(sizes.slice(0, 3), [8, 4, 2], 'halved after each failure');
});

test('a server that fails everything pauses embedding (keyword-only), then the index catches up when it recovers', async () => {
  const ollama = await startOllamaServer({ backend: scriptedBackend({ dims: 16 }) });
  servers.push(ollama);
  ollama.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/embed');
  const sy = switchyard([{ id: 'box', kind: 'ollama', baseUrl: ollama.url }], ['box/nomic-embed-text:latest']);
  const idx = await open(project(), sy);
  await idx.sync();
  await idx.embeddingsSettled({ untilPaused: true });
  assert.match(idx.status().message!, /embeddings paused: box\/nomic-embed-text:latest: server/);
  assert.equal((await idx.search('usage ledger', { k: 1 }))[0]?.path.startsWith('src/file'), true);
  ollama.setBehaviour({ mode: 'ok' }, 'POST /api/embed');
  await idx.embeddingsSettled();
  assert.equal((await idx.counts()).pending, 0);
  assert.equal(idx.status().keywordOnly, false);
});

test(
  "real llama.cpp embeddings (tiny GGUF behind the llama.cpp test server): vectors of the model's dimension",
  { timeout: 120_000 },
  async () => {
    const backend = await llamaBackend();
    const server = await startLlamaCppServer({ backend, modelAlias: 'tiny-embed' });
    servers.push(server);
    try {
      const sy = switchyard([{ id: 'llama', kind: 'llamacpp', baseUrl: server.url }], ['llama/tiny-embed']);
      const idx = await open(project(), sy, { embedTimeoutMs: 30_000, queryTimeoutMs: 30_000 });
      await idx.sync();
      await idx.embeddingsSettled();
      const counts = await idx.counts();
      assert.equal(counts.pending, 0);
      assert.equal(counts.dims, backend.dims);
      assert.equal(counts.model, 'llama/tiny-embed');
      const hits = await idx.search('router fallback helpers', { k: 3 });
      assert.equal(idx.lastSearchHybrid, true);
      assert.equal(hits.length, 3);
    } finally {
      await backend.dispose();
    }
  },
);

test("a multi-root workspace: one Retriever over every folder's index, merged by score, within the token budget", async () => {
  const { CombinedRetriever } = await import('../../src/core/index/combined');
  const sy = switchyard([], []);
  const a = await open(project(), sy);
  const b = await open(project(), sy);
  fs.writeFileSync(
    path.join(b.root, 'src', 'only-b.ts'),
    'export function gatewayTokenRotation() {\n  return "gateway token rotation, only in folder B";\n}\n',
  );
  await a.sync();
  await b.sync();
  const both = new CombinedRetriever(() => [a, b]);
  const hits = await both.search('gateway token rotation', { k: 6 });
  assert.equal(hits.length, 5, 'two chunks in each folder, and the one only in B');
  assert.deepEqual(new Set(hits.map((h) => h.root)), new Set([a.root, b.root]));
  // Scores are reciprocal ranks: the lists interleave by rank, so each folder's best comes first.
  assert.deepEqual(new Set(hits.slice(0, 2).map((h) => h.root)), new Set([a.root, b.root]));
  assert.ok(hits.slice(0, 2).some((h) => h.path === 'src/only-b.ts'));
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i]!.score <= hits[i - 1]!.score);
  assert.equal((await both.search('gateway token', { k: 10, tokenBudget: 60 })).length, 1);
  const status = both.status();
  assert.equal(status.state, 'idle');
  assert.equal(status.chunks, a.status().chunks + b.status().chunks);
  assert.equal(status.keywordOnly, true);
});
