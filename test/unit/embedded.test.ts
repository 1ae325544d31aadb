/**
 * The embedded provider (kind `embedded`): real llama.cpp (node-llama-cpp) on the tiny GGUF, in a child process.
 * Chat streams and aborts, embeddings have the model's width, token counts are the model's own, a killed child
 * gives a typed error and the next request starts a new one, and the router falls back when the file is missing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProviderError } from '../../src/core/errors';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { EmbeddedProvider } from '../../src/core/providers/embedded/provider';
import { EmbeddedRuntime } from '../../src/core/providers/embedded/runtime';
import type { ChatEvent } from '../../src/core/providers/types';
import { scriptedBackend, startOllamaServer, tinyModelPath, type FixtureServer } from '../fixtures';

const secrets = { getApiKey: async () => undefined };
let modelPath: string;
let modelsDir: string;
let runtime: EmbeddedRuntime;
let provider: EmbeddedProvider;
let ollama: FixtureServer;

before(async () => {
  modelPath = await tinyModelPath();
  modelsDir = mkdtempSync(path.join(tmpdir(), 'switchyard-embedded-'));
  copyFileSync(modelPath, path.join(modelsDir, 'tiny.gguf'));
  runtime = new EmbeddedRuntime({ gpu: false, maxThreads: 1, idleTimeoutMs: 0, modelsDir });
  provider = new EmbeddedProvider(
    { id: 'emb', kind: 'embedded', baseUrl: 'embedded:', local: true },
    { secrets, logger: silent(), embedded: runtime },
  );
  ollama = await startOllamaServer({ backend: scriptedBackend() });
});
after(async () => {
  runtime.dispose();
  await ollama.close();
});

function silent() {
  return { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
}

async function collect(events: AsyncIterable<ChatEvent>): Promise<{ text: string; chunks: number; usage?: ChatEvent }> {
  let text = '';
  let chunks = 0;
  let usage: ChatEvent | undefined;
  for await (const e of events) {
    if (e.type === 'text') {
      text += e.text;
      chunks++;
    } else usage = e;
  }
  return { text, chunks, usage };
}

test('lists the GGUF files of its folder as models', async () => {
  const models = await provider.listModels();
  assert.deepEqual(
    models.map((m) => m.id),
    ['tiny'],
  );
  assert.ok(models[0]!.sizeBytes! > 100_000);
});

test('answers a chat with real llama.cpp in a child process, streaming, with exact token counts', async () => {
  const result = await collect(
    provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello world' }], maxTokens: 12, temperature: 0 }),
  );
  assert.ok(result.chunks >= 1, 'at least one streamed chunk');
  assert.ok(runtime.pid !== undefined && runtime.pid !== process.pid, 'runs in another process');
  assert.equal(result.usage?.type, 'usage');
  const usage = result.usage as Extract<ChatEvent, { type: 'usage' }>;
  assert.ok(usage.outputTokens! >= 1 && usage.outputTokens! <= 12, `output tokens ${usage.outputTokens}`);
  assert.ok(usage.inputTokens! > 2, `input tokens ${usage.inputTokens}`);
});

test('sampling options reach llama.cpp: a stop string ends the real answer before it, and a seed repeats it', async () => {
  const ask = (sampling?: { stop?: string[]; seed?: number; topP?: number }) =>
    collect(provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], maxTokens: 24, temperature: 0, sampling }));
  const full = (await ask()).text;
  // A stop string taken from the middle of the greedy answer: the answer must end right before it.
  const words = full.split(/(?<=\S)(?=\s)/).filter((w) => w.trim() !== '');
  assert.ok(words.length >= 3, `a long enough answer to cut: ${JSON.stringify(full)}`);
  const stop = words[Math.floor(words.length / 2)]!.trim();
  const cut = (await ask({ stop: [stop] })).text;
  assert.ok(full.indexOf(stop) > 0);
  assert.equal(cut.trimEnd(), full.slice(0, full.indexOf(stop)).trimEnd(), `${JSON.stringify(full)} cut before ${JSON.stringify(stop)}`);
  // Sampling (temperature 1): the seed decides the answer (the same seed repeats it, another changes it).
  const seeded = async (seed: number) =>
    (
      await collect(
        provider.chat({
          model: 'tiny',
          messages: [{ role: 'user', content: 'hello' }],
          maxTokens: 16,
          temperature: 1,
          sampling: { seed, topP: 0.95 },
        }),
      )
    ).text;
  const seven = await seeded(7);
  assert.equal(await seeded(7), seven);
  assert.notEqual(await seeded(8), seven);
});

test("embeds with the model's embedding width and counts tokens with its tokenizer", async () => {
  const result = await provider.embed({ model: 'tiny', input: ['hello world', 'the test server', ''] });
  assert.equal(result.vectors.length, 3);
  for (const v of result.vectors) assert.equal(v.length, 64);
  assert.notDeepEqual(result.vectors[0], result.vectors[1]);
  const counts = await provider.countTokens('tiny', ['hello world', 'hello', '']);
  assert.equal(counts[2], 0);
  assert.ok(counts[0]! > counts[1]! && counts[1]! >= 1, `counts ${counts}`);
  assert.equal(result.inputTokens, counts[0]! + (await provider.countTokens('tiny', ['the test server']))[0]!);
});

test('aborting mid-answer stops the stream with kind canceled; the process stays up', async () => {
  const controller = new AbortController();
  const pid = runtime.pid;
  await assert.rejects(
    (async () => {
      for await (const e of provider.chat({
        model: 'tiny',
        messages: [{ role: 'user', content: 'write code' }],
        maxTokens: 400,
        temperature: 0.8,
        signal: controller.signal,
      })) {
        if (e.type === 'text') controller.abort();
      }
    })(),
    (e: unknown) => e instanceof ProviderError && e.kind === 'canceled',
  );
  assert.equal(runtime.pid, pid);
  const again = await collect(provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }));
  assert.ok(again.chunks >= 1);
});

test('killing the child mid-answer gives a typed server error, and the next request starts a new process', async () => {
  const first = runtime.pid!;
  const startsBefore = runtime.starts;
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const e of provider.chat({
        model: 'tiny',
        messages: [{ role: 'user', content: 'explain the code' }],
        maxTokens: 400,
        temperature: 0.8,
      })) {
        if (e.type === 'text' && got++ === 0) process.kill(first, 'SIGKILL');
      }
    })(),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError, String(e));
      assert.equal(e.kind, 'server');
      assert.equal(e.providerId, 'emb');
      assert.equal(e.afterOutput, true);
      assert.match(e.message, /killed \(SIGKILL\).*restarts on the next request/);
      return true;
    },
  );
  const next = await collect(provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], maxTokens: 6 }));
  assert.ok(next.chunks >= 1);
  assert.notEqual(runtime.pid, first);
  assert.equal(runtime.starts, startsBefore + 1);
});

test('a missing model is modelMissing, without starting a process', async () => {
  const fresh = new EmbeddedRuntime({ gpu: false, modelsDir });
  const p = new EmbeddedProvider(
    { id: 'emb2', kind: 'embedded', baseUrl: 'embedded:', local: true },
    { secrets, logger: silent(), embedded: fresh },
  );
  await assert.rejects(
    collect(p.chat({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })),
    (e: unknown) => e instanceof ProviderError && e.kind === 'modelMissing' && /Download GGUF Model/.test(e.message),
  );
  await assert.rejects(
    p.embed({ model: '../tiny', input: ['x'] }),
    (e: unknown) => e instanceof ProviderError && e.kind === 'modelMissing',
  );
  assert.equal(fresh.starts, 0);
});

test('the router falls back from an embedded model whose file is missing to the next candidate', async () => {
  const missing = path.join(modelsDir, 'gone.gguf');
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'emb', kind: 'embedded', modelPath: missing },
      { id: 'up', kind: 'ollama', baseUrl: ollama.url },
    ],
    'switchyard.tasks': { chat: ['emb/gone', 'up/qwen2.5-coder:7b'] },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({ config, secrets, privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }) });
  try {
    let route;
    let text = '';
    for await (const e of sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] })) {
      if (e.type === 'route') route = e.route;
      if (e.type === 'text') text += e.text;
    }
    assert.equal(route!.providerId, 'up');
    assert.equal(route!.fallback, true);
    assert.equal(route!.attempts[0]!.providerId, 'emb');
    assert.equal(route!.attempts[0]!.kind, 'modelMissing');
    assert.ok(text.length > 0);
    assert.equal(sy.embedded.starts, 0, 'no process for a file that is not there');
  } finally {
    sy.dispose();
  }
});

test('the router answers from an embedded model in a Switchyard (config → registry → child process)', async () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [{ id: 'emb', kind: 'embedded', modelPath }],
    'switchyard.tasks': { chat: ['emb/tiny-model'], embed: ['emb/tiny-model'] },
    'switchyard.privacy': 'local-only',
    'switchyard.embedded.gpu': 'off',
  });
  assert.deepEqual(problems, []);
  // The bundled worker (esbuild's embeddedWorker entry; npm run test:unit builds first), as the extension runs it.
  const embeddedWorkerPath = path.resolve(__dirname, '../../dist/embeddedWorker.js');
  const sy = new Switchyard({
    config,
    secrets,
    embeddedWorkerPath,
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  try {
    let route;
    let done;
    for await (const e of sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hello' }], maxTokens: 5 })) {
      if (e.type === 'route') route = e.route;
      if (e.type === 'done') done = e.usage;
    }
    assert.equal(route!.providerId, 'emb');
    assert.equal(route!.local, true);
    assert.equal(done!.tokensEstimated, undefined, 'token counts come from the model, not an estimate');
    const embedded = await sy.router.embed({ input: ['hello'] });
    assert.equal(embedded.vectors[0]!.length, 64);
  } finally {
    sy.dispose();
  }
});

test('settings: embedded entries take modelPath, not baseUrl; modelPath is for embedded only', () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'a', kind: 'embedded' },
      { id: 'b', kind: 'embedded', baseUrl: 'http://127.0.0.1:1' },
      { id: 'c', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434', modelPath: '/x.gguf' },
    ],
  });
  assert.deepEqual(
    config.providers.map((p) => p.id),
    ['a'],
  );
  assert.equal(problems.length, 2);
  assert.match(problems[0]!.message, /kind "embedded".*modelPath/);
  assert.match(problems[1]!.message, /modelPath is for kind "embedded" only/);
});

test('close() resolves once the child process has exited (deactivate awaits it)', async () => {
  const own = new EmbeddedRuntime({ gpu: false, maxThreads: 1, idleTimeoutMs: 0, modelsDir });
  const p = new EmbeddedProvider(
    { id: 'emb3', kind: 'embedded', baseUrl: 'embedded:', local: true },
    { secrets, logger: silent(), embedded: own },
  );
  assert.ok((await collect(p.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 }))).chunks >= 1);
  const pid = own.pid!;
  await own.close();
  assert.equal(own.pid, undefined);
  assert.throws(
    () => process.kill(pid, 0),
    (e: NodeJS.ErrnoException) => e.code === 'ESRCH',
    'the child is gone when close() resolves',
  );
  await own.close();
});
