/**
 * Ollama pull, list and delete against the Ollama test server (real NDJSON progress stream, real DELETE).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  deleteOllamaModel,
  findOllamaExecutable,
  listOllamaModels,
  pullOllamaModel,
  type PullProgress,
} from '../../src/core/models/ollama';
import { ModelError } from '../../src/core/models/errors';
import { closedPort, scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';

let server: FixtureServer;

before(async () => {
  server = await startOllamaServer({ backend: scriptedBackend(), pullable: ['tinyllama:latest', 'qwen2.5-coder:1.5b'] });
});
after(() => server.close());
beforeEach(() => server.reset());

const kindIs = (kind: string) => (e: unknown) => {
  assert.ok(e instanceof ModelError, String(e));
  assert.equal(e.kind, kind, e.message);
  return true;
};

test('lists installed models with size and family', async () => {
  const models = await listOllamaModels({ baseUrl: server.url });
  assert.ok(models.length >= 1);
  for (const m of models) {
    assert.ok(m.name);
    assert.ok(m.sizeBytes > 0);
    assert.ok(m.family);
  }
});

test('pull reports progress in order, ends with success, and the model is then listed', async () => {
  const events: PullProgress[] = [];
  await pullOllamaModel({ baseUrl: server.url }, 'tinyllama', (p) => events.push(p));
  const statuses = events.map((e) => e.status);
  assert.equal(statuses[0], 'pulling manifest');
  assert.equal(statuses.at(-1), 'success');
  assert.deepEqual(statuses.slice(-3), ['verifying sha256 digest', 'writing manifest', 'success']);
  const layer = events.filter((e) => e.digest && e.digest === events.find((x) => x.digest)!.digest);
  assert.ok(layer.length >= 2);
  for (let i = 1; i < layer.length; i++) assert.ok(layer[i]!.completedBytes! >= layer[i - 1]!.completedBytes!, 'completed bytes grow');
  assert.equal(layer.at(-1)!.completedBytes, layer.at(-1)!.totalBytes);
  assert.ok((await listOllamaModels({ baseUrl: server.url })).some((m) => m.name === 'tinyllama:latest'));
});

test('cancel mid-pull rejects with canceled and the model is not added', async () => {
  server.setBehaviour({ mode: 'slow', delayMs: 40 }, 'POST /api/pull');
  const controller = new AbortController();
  const events: PullProgress[] = [];
  await assert.rejects(
    pullOllamaModel({ baseUrl: server.url, signal: controller.signal }, 'qwen2.5-coder:1.5b', (p) => {
      events.push(p);
      if (events.length === 3) controller.abort();
    }),
    kindIs('canceled'),
  );
  assert.ok(events.length >= 3 && !events.some((e) => e.status === 'success'));
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(!(await listOllamaModels({ baseUrl: server.url })).some((m) => m.name === 'qwen2.5-coder:1.5b'));
});

test("a model the registry does not have is a server error carrying Ollama's words", async () => {
  await assert.rejects(
    pullOllamaModel({ baseUrl: server.url }, 'no-such-model'),
    (e: unknown) => kindIs('server')(e) && /file does not exist/.test((e as Error).message),
  );
});

test('delete removes a model; deleting it again is notFound', async () => {
  await pullOllamaModel({ baseUrl: server.url }, 'tinyllama');
  await deleteOllamaModel({ baseUrl: server.url }, 'tinyllama');
  assert.ok(!(await listOllamaModels({ baseUrl: server.url })).some((m) => m.name === 'tinyllama:latest'));
  await assert.rejects(deleteOllamaModel({ baseUrl: server.url }, 'tinyllama'), kindIs('notFound'));
});

test('Ollama not running is unreachable with a next step', async () => {
  const port = await closedPort();
  await assert.rejects(
    pullOllamaModel({ baseUrl: `http://127.0.0.1:${port}` }, 'tinyllama'),
    (e: unknown) => kindIs('unreachable')(e) && /ollama serve/.test((e as Error).message),
  );
});

test('findOllamaExecutable: the first executable ollama on PATH; none when absent or not executable; PATHEXT on Windows', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ollama-path-'));
  try {
    const [empty, plain, bin, win] = ['empty', 'plain', 'bin', 'win'].map((d) => {
      fs.mkdirSync(path.join(root, d));
      return path.join(root, d);
    }) as [string, string, string, string];
    fs.writeFileSync(path.join(plain, 'ollama'), '#!/bin/sh\n', { mode: 0o644 });
    fs.writeFileSync(path.join(bin, 'ollama'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(win, 'ollama.exe'), 'MZ');
    assert.equal(
      findOllamaExecutable({ PATH: `${empty}:${plain}` }, 'linux'),
      undefined,
      'a file without the executable bit is not a command',
    );
    assert.equal(findOllamaExecutable({ PATH: `${empty}::${plain}:${bin}` }, 'linux'), path.join(bin, 'ollama'));
    assert.equal(findOllamaExecutable({}, 'linux'), undefined);
    assert.equal(findOllamaExecutable({ Path: `${empty};${win}`, PATHEXT: '.COM;.EXE' }, 'win32'), path.join(win, 'ollama.exe'));
    assert.equal(findOllamaExecutable({ PATH: `${empty};${bin}` }, 'win32'), undefined, 'Windows needs an extension from PATHEXT');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
