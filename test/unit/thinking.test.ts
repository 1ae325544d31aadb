/**
 * Thinking models (qwen3, deepseek-r1, gpt-oss): their reasoning streams before the answer, apart from it — Ollama's
 * `message.thinking`, llama.cpp's / vLLM's `reasoning_content`, OpenRouter's `reasoning`. Driven through the real
 * `ollama` and `openai` clients against test servers that send those fields as the servers do.
 *
 * What must hold: reasoning is output (a model that thinks for longer than the first-token timeout is not timed out,
 * cooled down and replaced by the next candidate, maybe a cloud one), it is never answer text, and it reaches the
 * gateway's clients (as `reasoning_content`) and `switchyard ask` (on stderr).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { Gateway } from '../../src/core/gateway/server';
import type { RoutedChatEvent } from '../../src/core/routing/router';
import { pieceBatcher } from '../../src/core/providers/embedded/pieces';
import { runCli } from '../fixtures/cli';
import { scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const THOUGHT = ['Let', ' me', ' think', ' about', ' <b>this</b>', '.'];
const ANSWER = ['Four', '.'];
/**
 * Each reasoning piece 250 ms apart: ~1.5 s of thinking, longer than the 1 s first-token timeout below, which leaves
 * the first piece (due at ~250 ms) 750 ms of slack on a busy machine (at 80 ms and 250 ms it came late under load).
 */
const thinker = () => scriptedBackend({ reasoning: THOUGHT, reasoningIntervalMs: 250, tokens: ANSWER });
const TIMEOUT_MS = 1000;
const TOKEN = 'sy-thinking-token-0123456789';

let ollama: FixtureServer;
let llamacpp: FixtureServer;
let openrouter: FixtureServer;
let cloud: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({
    backend: thinker(),
    models: [
      { name: 'qwen3:8b', contextLength: 40960, thinking: true },
      { name: 'qwen3:small', contextLength: 4096, thinking: true },
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
    ],
  });
  llamacpp = await startLlamaCppServer({ backend: thinker() });
  openrouter = await startOpenAIServer({ backend: thinker(), reasoningField: 'reasoning' });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', '.'] }) });
});
after(async () => {
  await Promise.all([ollama.close(), llamacpp.close(), openrouter.close(), cloud.close()]);
});
beforeEach(() => {
  for (const s of [ollama, llamacpp, openrouter, cloud]) s.reset();
});

function settings(chat: string[]): Record<string, unknown> {
  return {
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'llama', kind: 'llamacpp', baseUrl: llamacpp.url },
      { id: 'router', kind: 'openai-compatible', baseUrl: `${openrouter.url}/v1`, local: true },
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
    ],
    'switchyard.tasks': { chat },
    'switchyard.privacy': 'allow',
    'switchyard.routing.firstTokenTimeoutMs': TIMEOUT_MS,
  };
}

function switchyard(chat: string[]): Switchyard {
  const { config, problems } = parseConfig(settings(chat));
  assert.deepEqual(problems, []);
  return new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage: new MemoryLedger(),
  });
}

async function collect(events: AsyncIterable<RoutedChatEvent>) {
  const order: string[] = [];
  const out = {
    text: '',
    reasoning: '',
    order,
    route: undefined as Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined,
    usage: undefined as Extract<RoutedChatEvent, { type: 'done' }>['usage'] | undefined,
  };
  for await (const ev of events) {
    if (order.at(-1) !== ev.type) order.push(ev.type);
    if (ev.type === 'text') out.text += ev.text;
    else if (ev.type === 'reasoning') out.reasoning += ev.text;
    else if (ev.type === 'route') out.route = ev.route;
    else if (ev.type === 'done') out.usage = ev.usage;
  }
  return out;
}

const question = [{ role: 'user' as const, content: 'What is 2 + 2?' }];

for (const [name, model] of [
  ['Ollama (message.thinking)', 'box/qwen3:8b'],
  ['llama.cpp (reasoning_content)', 'llama/tiny'],
  ['an OpenRouter-style server (reasoning)', 'router/gpt-4.1-mini'],
] as const) {
  test(`${name}: a model that thinks longer than the first-token timeout answers; its reasoning streams first and is not answer text`, async () => {
    const sy = switchyard([model, 'cloud/gpt-4.1-mini']);
    const started = performance.now();
    const out = await collect(sy.router.chat({ task: 'chat', messages: question }));
    assert.ok(performance.now() - started > TIMEOUT_MS, 'the thinking took longer than the first-token timeout');
    assert.equal(`${out.route?.providerId}/${out.route?.model}`, model, 'no fallback: the thinking model answered');
    assert.equal(out.route?.fallback, false);
    assert.deepEqual(out.order, ['route', 'reasoning', 'text', 'done']);
    assert.equal(out.reasoning, THOUGHT.join(''));
    assert.equal(out.text, ANSWER.join(''), 'reasoning is not answer text');
    assert.equal(cloud.counts['POST /v1/chat/completions'] ?? 0, 0, 'the cloud was never asked');
    assert.equal(sy.router.health.coolingFor(model.split('/')[0]!), 0, 'the thinking model is not cooling down');
    assert.equal(out.usage?.outcome, 'ok');
    assert.ok(out.usage!.ttftMs! < TIMEOUT_MS, `time to first output counts the first reasoning (${out.usage!.ttftMs} ms)`);
  });
}

test('a model that says nothing, not even reasoning, still times out and falls back', async () => {
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/chat');
  const sy = switchyard(['box/qwen3:8b', 'cloud/gpt-4.1-mini']);
  const out = await collect(sy.router.chat({ task: 'chat', messages: question }));
  assert.equal(out.route?.providerId, 'cloud');
  assert.equal(out.route?.attempts[0]?.kind, 'timeout');
});

test('the gateway passes reasoning on as reasoning_content: framed (Ollama) and relayed (OpenAI-compatible), streaming and not', async () => {
  const { config, problems } = parseConfig({
    ...settings(['box/qwen3:8b']),
    'switchyard.aliases': { relayed: 'explain' },
    'switchyard.tasks': { chat: ['box/qwen3:8b'], explain: ['llama/tiny'] },
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage: new MemoryLedger(),
  });
  const gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gateway.start();
  try {
    const client = new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
    for (const model of ['switchyard/chat', 'switchyard/relayed']) {
      const stream = await client.chat.completions.create({ model, messages: question, stream: true });
      let reasoning = '';
      let text = '';
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
        if (delta?.reasoning_content) {
          assert.equal(text, '', `${model}: reasoning comes before the answer`);
          reasoning += delta.reasoning_content;
        }
        if (delta?.content) text += delta.content;
      }
      assert.equal(reasoning, THOUGHT.join(''), model);
      assert.equal(text, ANSWER.join(''), model);
    }
    const whole = await client.chat.completions.create({ model: 'switchyard/chat', messages: question });
    const message = whole.choices[0]!.message as { content: string | null; reasoning_content?: string };
    assert.equal(message.content, ANSWER.join(''));
    assert.equal(message.reasoning_content, THOUGHT.join(''));
  } finally {
    await gateway.stop();
  }
});

test('switchyard ask: the answer alone on stdout, the reasoning on stderr', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-thinking-'));
  const cfg = path.join(dir, 'settings.json');
  writeFileSync(cfg, JSON.stringify(settings(['box/qwen3:8b'])));
  const r = await runCli(['ask', '--config', cfg, 'What is 2 + 2?']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ANSWER.join('')}\n`);
  assert.ok(r.stderr.includes(`thinking: ${THOUGHT.join('')}\n`), r.stderr);
});

test('embedded llama.cpp: thought segments go to the host as reasoning, never joined with answer text; one message per turn of the loop', async () => {
  const sent: [string, boolean][] = [];
  let aborted = false;
  const pieces = pieceBatcher(
    (text, reasoning) => sent.push([text, reasoning]),
    () => aborted,
  );
  // node-llama-cpp's chunk shapes: a segment (a thinking model's thoughts) and main text (type undefined).
  pieces.add({ type: 'segment', text: 'Let me' });
  pieces.add({ type: 'segment', text: ' think.' });
  pieces.add({ type: undefined, text: 'Four' });
  pieces.add({ type: undefined, text: '' });
  await new Promise((resolve) => setImmediate(resolve));
  pieces.add({ type: undefined, text: '.' });
  pieces.flush();
  assert.deepEqual(sent, [
    ['Let me think.', true],
    ['Four', false],
    ['.', false],
  ]);
  aborted = true;
  pieces.add({ type: undefined, text: 'after the abort' });
  pieces.flush();
  assert.equal(sent.length, 3, 'nothing is sent after an abort');
});

test('<think> tags in the answer text (a server without a reasoning parser): ask shows them as reasoning; the gateway passes the text as sent', async () => {
  const inline = await startOllamaServer({
    backend: scriptedBackend({ tokens: ['<think>', '\nHmm,', ' 2 + 2.\n', '</think>', '\n\nFour', '.'] }),
    models: [{ name: 'deepseek-r1:8b', contextLength: 32768 }],
  });
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-thinking-'));
    const cfg = path.join(dir, 'settings.json');
    const config = {
      ...settings(['inline/deepseek-r1:8b']),
      'switchyard.providers': [{ id: 'inline', kind: 'ollama', baseUrl: inline.url }],
    };
    writeFileSync(cfg, JSON.stringify(config));
    const r = await runCli(['ask', '--config', cfg, 'What is 2 + 2?']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Four.\n');
    assert.ok(r.stderr.includes('thinking: \nHmm, 2 + 2.\n\n'), r.stderr);

    const { config: parsed } = parseConfig(config);
    const sy = new Switchyard({
      config: parsed,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
      usage: new MemoryLedger(),
    });
    const gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
    await gateway.start();
    try {
      const whole = await new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 }).chat.completions.create({
        model: 'switchyard/chat',
        messages: question,
      });
      assert.equal(
        whole.choices[0]!.message.content,
        '<think>\nHmm, 2 + 2.\n</think>\n\nFour.',
        'the gateway does not rewrite what the model said',
      );
    } finally {
      await gateway.stop();
    }
  } finally {
    await inline.close();
  }
});

test('Ollama: a thinking model without a max-tokens setting gets room to think (num_predict 8192, or what its window leaves); others keep 1024', async () => {
  const numPredict = async (candidate: unknown) => {
    ollama.reset();
    const { config, problems } = parseConfig({ ...settings([]), 'switchyard.tasks': { chat: [candidate] } });
    assert.deepEqual(problems, []);
    const sy = new Switchyard({
      config,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
      usage: new MemoryLedger(),
    });
    const out = await collect(sy.router.chat({ task: 'chat', messages: question }));
    assert.equal(out.usage?.outcome, 'ok');
    const chat = ollama.requests.filter((r) => r.path === '/api/chat').at(-1)!;
    const options = (chat.body as { options: { num_predict: number; num_ctx: number } }).options;
    assert.ok(options.num_ctx >= options.num_predict, 'the window holds the budget');
    return options.num_predict;
  };
  assert.equal(await numPredict('box/qwen3:8b'), 8192, 'a thinking model');
  const small = await numPredict('box/qwen3:small');
  assert.ok(small > 1024 && small < 4096, `a thinking model with a 4096-token window: what the prompt leaves (${small})`);
  assert.equal(await numPredict('box/qwen2.5-coder:7b'), 1024, 'a model that does not think');
  assert.equal(await numPredict({ model: 'box/qwen3:8b', maxTokens: 300 }), 300, "the user's budget wins");
});
