/**
 * POST /v1/completions (issue 15), driven by the real `openai` client (`client.completions.create`) against the
 * gateway, with fixture upstreams behind the real router: fill-in-the-middle through the `complete` route (fallback,
 * aliases, a model named directly), OpenAI's text_completion bodies and SSE chunks, errors in OpenAI's shape, and a
 * client that goes away cancelling the upstream request.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { Gateway } from '../../src/core/gateway/server';
import { FIM_TEMPLATES } from '../../src/core/complete/templates';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, type FixtureServer } from '../fixtures';

const TOKEN = 'sy-gw-complete-token-0123456789';
const PROMPT = 'def mul(a, b):\n    return ';
const SUFFIX = '\n\nprint(mul(2, 3))\n';
let ollama: FixtureServer;
let llama: FixtureServer;
let refused: number;
let sy: Switchyard;
let gateway: Gateway;
const usage = new MemoryLedger();

function settings(complete: string[]): Record<string, unknown> {
  const down = `http://127.0.0.1:${refused}`;
  return {
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: down },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'lc', kind: 'llamacpp', baseUrl: llama.url },
      // The zero-config ids, pointed away from whatever else listens on the standard ports.
      { id: 'ollama', kind: 'ollama', baseUrl: down },
      { id: 'llamacpp', kind: 'llamacpp', baseUrl: down },
      { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
    ],
    'switchyard.tasks': { complete, chat: ['box/qwen2.5-coder:7b'] },
    'switchyard.privacy': 'local-only',
    'switchyard.aliases': { fim: 'complete', fast: 'chat' },
  };
}

function configure(complete: string[]): void {
  const { config, problems } = parseConfig(settings(complete));
  assert.deepEqual(problems, []);
  sy.setConfig(config);
}

before(async () => {
  ollama = await startOllamaServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b'] }),
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768, insert: true },
      { name: 'llama3.2:3b', contextLength: 8192 },
    ],
  });
  llama = await startLlamaCppServer({ backend: scriptedBackend({ tokens: ['a', ' *', ' b'] }), modelAlias: 'fixture-model.gguf' });
  refused = await closedPort();
  const { config } = parseConfig(settings(['gone/qwen2.5-coder:7b', 'box/qwen2.5-coder:7b']));
  sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
  });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gateway.start();
});
after(async () => {
  await gateway.stop();
  sy.dispose();
  await ollama.close();
  await llama.close();
});
beforeEach(() => {
  ollama.reset();
  llama.reset();
  ollama.setBehaviour({ mode: 'ok' });
  sy.router.health.clear();
  configure(['gone/qwen2.5-coder:7b', 'box/qwen2.5-coder:7b']);
});

const client = () => new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
const lastGenerate = () => ollama.requests.filter((r) => r.path === '/api/generate').at(-1)!.body;

test('non-streamed: prompt and suffix fill in the middle through the complete route, after a refused candidate', async () => {
  const { data, response } = await client()
    .completions.create({ model: 'switchyard/complete', prompt: PROMPT, suffix: SUFFIX, max_tokens: 20, stop: ['\n\n'] })
    .withResponse();
  assert.equal(data.object, 'text_completion');
  assert.match(data.id, /^cmpl-/);
  assert.equal(data.model, 'box/qwen2.5-coder:7b');
  assert.equal(data.choices.length, 1);
  assert.deepEqual(data.choices[0], { text: 'a * b', index: 0, logprobs: null, finish_reason: 'stop' });
  assert.ok(data.usage!.completion_tokens > 0 && data.usage!.total_tokens === data.usage!.prompt_tokens + data.usage!.completion_tokens);
  assert.equal(response.headers.get('x-switchyard-route'), 'box/qwen2.5-coder:7b');
  assert.equal(response.headers.get('x-switchyard-fallback'), 'true');
  const body = lastGenerate();
  assert.equal(body.prompt, PROMPT);
  assert.equal(body.suffix, SUFFIX);
  assert.equal(body.options.num_predict, 20);
  assert.deepEqual(
    body.options.stop,
    ['\n\n', ...FIM_TEMPLATES['qwen-coder'].stop],
    "the client's stops, then the family's (no single-line stop)",
  );
  const record = usage.records.filter((r) => r.task === 'complete').at(-1)!;
  assert.equal(record.requested, 'switchyard/complete');
  assert.equal(record.outcome, 'ok');
});

test('max_tokens reached: finish_reason "length"; OpenAI\'s default max_tokens is 16', async () => {
  const short = await client().completions.create({ model: 'switchyard/complete', prompt: PROMPT, max_tokens: 2 });
  assert.equal(short.choices[0]!.finish_reason, 'length');
  assert.equal(short.choices[0]!.text, 'a *');
  await client().completions.create({ model: 'switchyard/complete', prompt: PROMPT });
  assert.equal(lastGenerate().options.num_predict, 16);
});

test('streamed: text_completion chunks, the finish chunk, usage when asked, then [DONE]', async () => {
  const stream = await client().completions.create({
    model: 'switchyard/fim',
    prompt: PROMPT,
    suffix: SUFFIX,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.ok(chunks.every((c) => c.object === 'text_completion' && c.model === 'box/qwen2.5-coder:7b'));
  const texts = chunks
    .filter((c) => c.choices.length > 0)
    .map((c) => c.choices[0]!.text)
    .join('');
  assert.equal(texts, 'a * b');
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finishes.length, 1);
  assert.equal(finishes[0]!.choices[0]!.finish_reason, 'stop');
  assert.ok(
    chunks.slice(0, -1).every((c) => c.usage === undefined),
    'usage only on the last chunk',
  );
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage && last.usage.completion_tokens > 0);

  // The wire itself, as OpenAI frames it.
  const raw = await fetch(`${gateway.url}/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'switchyard/complete', prompt: PROMPT, stream: true }),
  });
  assert.equal(raw.status, 200);
  assert.match(raw.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = (await raw.text()).split('\n\n').filter((e) => e !== '');
  assert.ok(events.every((e) => e.startsWith('data: ')));
  assert.equal(events.at(-1), 'data: [DONE]');
  const first = JSON.parse(events[0]!.slice(6));
  assert.deepEqual(Object.keys(first), ['id', 'object', 'created', 'choices', 'model']);
  assert.deepEqual(first.choices, [{ text: 'a * b', index: 0, logprobs: null, finish_reason: null }]);
});

test('a model of the complete task named directly goes to that candidate only: llama.cpp /infill', async () => {
  configure(['box/qwen2.5-coder:7b', 'lc/fixture-model.gguf']);
  const res = await client().completions.create({ model: 'lc/fixture-model.gguf', prompt: PROMPT, suffix: SUFFIX, max_tokens: 8 });
  assert.equal(res.model, 'lc/fixture-model.gguf');
  assert.equal(res.choices[0]!.text, 'a * b');
  const infill = llama.requests.filter((r) => r.path === '/infill').at(-1)!.body;
  assert.equal(infill.input_prefix, PROMPT);
  assert.equal(infill.input_suffix, SUFFIX);
  assert.equal(infill.n_predict, 8);
  assert.equal(ollama.counts['POST /api/generate'] ?? 0, 0);
});

async function openaiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

test("errors come in OpenAI's shape: a chat task, a missing prompt, n > 1, no model that fills in the middle", async () => {
  const chat = await openaiError(client().completions.create({ model: 'switchyard/fast', prompt: PROMPT }));
  assert.equal(chat.status, 400);
  assert.equal(chat.code, 'model_not_found');
  assert.equal((chat.error as { param?: string }).param, 'model');
  assert.match(chat.message, /chat task/);

  const noPrompt = await openaiError(client().completions.create({ model: 'switchyard/complete' } as never));
  assert.equal(noPrompt.status, 400);
  assert.equal((noPrompt.error as { param?: string }).param, 'prompt');

  const many = await openaiError(client().completions.create({ model: 'switchyard/complete', prompt: PROMPT, n: 2 }));
  assert.equal(many.status, 400);
  assert.equal(many.code, 'unsupported_parameter');

  const reverse = await openaiError(
    client().chat.completions.create({ model: 'switchyard/complete', messages: [{ role: 'user', content: 'hi' }] }),
  );
  assert.equal(reverse.status, 400);
  assert.match(reverse.message, /\/v1\/completions/);

  configure(['box/llama3.2:3b']);
  const none = await openaiError(client().completions.create({ model: 'switchyard/complete', prompt: PROMPT }));
  assert.equal(none.status, 503);
  assert.equal(none.code, 'no_model_available');
  assert.match(none.message, /no fill-in-the-middle/);
  assert.equal(ollama.counts['POST /api/generate'] ?? 0, 0, 'the instruct model was never asked');
});

test('a client that goes away cancels the upstream request', async () => {
  configure(['box/qwen2.5-coder:7b']);
  await sy.router.plan('complete');
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/generate');
  const controller = new AbortController();
  const pending = client().completions.create({ model: 'switchyard/complete', prompt: PROMPT }, { signal: controller.signal });
  const end = Date.now() + 10_000;
  while ((ollama.counts['POST /api/generate'] ?? 0) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await assert.rejects(pending);
  while (ollama.aborted === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ollama.aborted, 1, 'Ollama saw the request go away');
});
