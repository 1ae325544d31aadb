/**
 * The test model servers, driven by the real clients (`ollama`, `openai`) with real llama.cpp inference behind them.
 * The tiny model's output is gibberish: these tests assert structure (streaming, counts, usage, aborts, dimensions).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama, type ChatResponse } from 'ollama';
import OpenAI from 'openai';
import {
  closedPort,
  llamaBackend,
  scriptedBackend,
  startLlamaCppServer,
  startOllamaServer,
  startOpenAIServer,
  tinyModelPath,
  writeTinyModel,
  type FixtureServer,
  type LlamaBackend,
} from '../fixtures';

let llama: LlamaBackend;
const servers: FixtureServer[] = [];

before(async () => {
  llama = await llamaBackend();
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await llama?.dispose();
});

async function track<T extends FixtureServer>(p: Promise<T>): Promise<T> {
  const s = await p;
  servers.push(s);
  return s;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function openai(s: FixtureServer, apiKey = 'sk-test'): OpenAI {
  return new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0 });
}

test('tiny model: GGUF v3, same bytes every time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-'));
  try {
    writeTinyModel(join(dir, 'a.gguf'));
    writeTinyModel(join(dir, 'b.gguf'));
    const a = readFileSync(join(dir, 'a.gguf'));
    const b = readFileSync(join(dir, 'b.gguf'));
    assert.ok(a.equals(b));
    assert.equal(a.subarray(0, 4).toString('ascii'), 'GGUF');
    assert.equal(a.readUInt32LE(4), 3);
    assert.ok(a.length > 100_000 && a.length < 2_000_000, `size ${a.length}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tinyModelPath writes once under .cache and llama backend runs it', async () => {
  const p = await tinyModelPath();
  assert.match(p, /[/\\]\.cache[/\\]tiny-model\.gguf$/);
  assert.equal(await tinyModelPath(), p);
  assert.equal(llama.modelPath, p);
  assert.equal(llama.dims, 64);
  assert.ok(llama.countTokens('hello world') > 0);
  const tokens: string[] = [];
  const r = await llama.chat([{ role: 'user', content: 'say hello' }], {
    maxTokens: 8,
    signal: new AbortController().signal,
    onToken: (t) => tokens.push(t),
  });
  assert.ok(r.promptTokens > 0);
  assert.ok(r.completionTokens > 0 && r.completionTokens <= 8);
  assert.ok(tokens.length > 0);
});

test('ollama: streaming chat with real inference through the ollama client', async () => {
  const s = await track(startOllamaServer({ backend: llama }));
  const client = new Ollama({ host: s.url });
  const stream = await client.chat({
    model: 'qwen2.5-coder:7b',
    messages: [{ role: 'user', content: 'write a function' }],
    stream: true,
    options: { num_ctx: 4096, num_predict: 16 },
  });
  let chunks = 0;
  let last: ChatResponse | undefined;
  for await (const part of stream) {
    if (!part.done) {
      chunks++;
      assert.equal(part.message.role, 'assistant');
      assert.equal(typeof part.message.content, 'string');
    }
    last = part;
  }
  assert.ok(chunks > 1, `streamed in ${chunks} chunks`);
  assert.ok(last && last.done);
  assert.ok(last.prompt_eval_count > 0);
  assert.ok(last.eval_count > 0 && last.eval_count <= 16);
  assert.ok(['stop', 'length'].includes(last.done_reason));
  assert.ok(last.total_duration > 0);
  assert.equal(s.counts['POST /api/chat'], 1);
  assert.equal(s.counts.total, 1);
  assert.equal(s.requests[0]!.body.options.num_ctx, 4096);

  const whole = await client.chat({
    model: 'qwen2.5-coder:7b',
    messages: [{ role: 'user', content: 'hi' }],
    stream: false,
    options: { num_predict: 4 },
  });
  assert.equal(whole.done, true);
  assert.ok(whole.eval_count > 0);
  assert.equal(s.counts['POST /api/chat'], 2);
});

test('ollama: model discovery, embeddings, pull, delete, errors', async () => {
  const s = await track(startOllamaServer({ backend: llama }));
  const client = new Ollama({ host: s.url });

  const version = (await (await fetch(`${s.url}/api/version`)).json()) as { version: string };
  assert.match(version.version, /^\d+\.\d+\.\d+$/);

  const list = await client.list();
  assert.deepEqual(
    list.models.map((m) => m.name),
    ['qwen2.5-coder:7b', 'nomic-embed-text:latest'],
  );
  assert.equal(list.models[0]!.details.format, 'gguf');
  assert.match(list.models[0]!.digest, /^[0-9a-f]{64}$/);

  const show = await client.show({ model: 'qwen2.5-coder:7b' });
  const info = show.model_info as unknown as Record<string, unknown>;
  assert.equal(info['general.architecture'], 'llama');
  assert.equal(info['llama.context_length'], 32768);
  assert.deepEqual(show.capabilities, ['completion']);
  const embShow = await client.show({ model: 'nomic-embed-text' });
  assert.deepEqual(embShow.capabilities, ['embedding']);

  await assert.rejects(client.show({ model: 'nope:1b' }), (e: Error & { status_code?: number }) => {
    assert.equal(e.status_code, 404);
    assert.equal(e.message, "model 'nope:1b' not found");
    return true;
  });
  await assert.rejects(
    client.chat({ model: 'nope:1b', messages: [{ role: 'user', content: 'x' }] }),
    (e: Error & { status_code?: number }) => {
      assert.equal(e.status_code, 404);
      assert.equal(e.message, 'model "nope:1b" not found, try pulling it first');
      return true;
    },
  );

  const emb = await client.embed({ model: 'nomic-embed-text:latest', input: ['hello world', 'the test'] });
  assert.equal(emb.embeddings.length, 2);
  assert.equal(emb.embeddings[0]!.length, 64);
  assert.notDeepEqual(emb.embeddings[0], emb.embeddings[1]);

  const progress = await client.pull({ model: 'llama3.2:1b', stream: true });
  const statuses: string[] = [];
  let sawBytes = false;
  for await (const p of progress) {
    statuses.push(p.status);
    if (p.total && p.completed === p.total && p.digest?.startsWith('sha256:')) sawBytes = true;
  }
  assert.equal(statuses[0], 'pulling manifest');
  assert.equal(statuses.at(-1), 'success');
  assert.ok(sawBytes);
  assert.ok((await client.list()).models.some((m) => m.name === 'llama3.2:1b'));

  await client.delete({ model: 'llama3.2:1b' });
  assert.ok(!(await client.list()).models.some((m) => m.name === 'llama3.2:1b'));
  await assert.rejects(client.delete({ model: 'llama3.2:1b' }), (e: Error & { status_code?: number }) => e.status_code === 404);
});

test('ollama: failures (error, hang + abort, failMidStream, hangAfterHeaders)', async () => {
  const s = await track(startOllamaServer());
  const client = new Ollama({ host: s.url });
  const msg = [{ role: 'user', content: 'hi' }];

  s.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/chat');
  await assert.rejects(
    client.chat({ model: 'qwen2.5-coder:7b', messages: msg }),
    (e: Error & { status_code?: number }) => e.status_code === 500,
  );
  assert.ok((await client.list()).models.length > 0, 'other routes unaffected');

  s.reset();
  s.setBehaviour({ mode: 'hang' });
  // ollama's own abort() only reaches streams whose headers arrived: a caller's signal goes in through `fetch`
  const ac = new AbortController();
  const hung = new Ollama({
    host: s.url,
    fetch: (url, init) => fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, ac.signal]) : ac.signal }),
  });
  const pending = hung.chat({ model: 'qwen2.5-coder:7b', messages: msg, stream: true });
  await until(() => s.counts['POST /api/chat'] === 1);
  ac.abort();
  await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
  await until(() => s.aborted === 1);

  s.reset();
  s.setBehaviour({ mode: 'failMidStream', afterTokens: 2 });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const p of await client.chat({ model: 'qwen2.5-coder:7b', messages: msg, stream: true })) seen.push(p.message.content);
  });
  assert.deepEqual(seen, ['Hello', ' from']);
  assert.equal(s.aborted, 0, 'a socket we destroyed is not a client abort');

  s.reset();
  s.setBehaviour({ mode: 'hangAfterHeaders' });
  const headersOnly = await client.chat({ model: 'qwen2.5-coder:7b', messages: msg, stream: true });
  const next = headersOnly[Symbol.asyncIterator]().next();
  setTimeout(() => headersOnly.abort(), 50);
  await assert.rejects(next);
  await until(() => s.aborted === 1);
});

test('openai: streaming chat with real inference, usage from llama.cpp', async () => {
  const s = await track(startOpenAIServer({ backend: llama, apiKey: 'sk-test' }));
  const client = openai(s);
  const stream = await client.chat.completions.create({
    model: 'gpt-4.1-mini',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'explain this code' },
    ],
    max_tokens: 16,
    stream: true,
    stream_options: { include_usage: true },
  });
  let contentChunks = 0;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    const c = chunk.choices[0];
    if (c?.delta.content) contentChunks++;
    if (c?.finish_reason) finish = c.finish_reason;
    if (chunk.usage) {
      assert.deepEqual(chunk.choices, []);
      usage = chunk.usage;
    }
  }
  assert.ok(contentChunks > 1, `streamed in ${contentChunks} chunks`);
  assert.ok(finish === 'stop' || finish === 'length');
  assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.equal(s.counts['POST /v1/chat/completions'], 1);

  const whole = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0]!.message.role, 'assistant');
  assert.ok(whole.usage!.completion_tokens > 0 && whole.usage!.completion_tokens <= 4);

  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ['gpt-4.1-mini', 'text-embedding-3-small'],
  );
});

test('openai: embeddings, base64 (client default) and float, from llama.cpp', async () => {
  const s = await track(startOpenAIServer({ backend: llama }));
  const client = openai(s);
  const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'the test'] });
  assert.equal(s.requests[0]!.body.encoding_format, 'base64');
  const flt = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: ['hello world', 'the test'],
    encoding_format: 'float',
  });
  assert.equal(b64.data.length, 2);
  assert.equal(b64.data[0]!.embedding.length, 64);
  assert.equal(flt.data[0]!.embedding.length, 64);
  for (let i = 0; i < 2; i++) {
    const a = b64.data[i]!.embedding;
    const f = flt.data[i]!.embedding;
    a.forEach((x, j) => assert.ok(Math.abs(x - f[j]!) < 1e-6));
  }
  assert.ok(b64.usage.prompt_tokens > 0);
});

test('openai: 401, 404, 429, 500, context_length_exceeded', async () => {
  const s = await track(
    startOpenAIServer({
      apiKey: 'sk-right',
      models: [
        { name: 'small-model', contextLength: 20 },
        { name: 'text-embedding-3-small', embedding: true },
      ],
    }),
  );
  const msg: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

  await assert.rejects(openai(s, 'sk-wrong-key-1234').chat.completions.create({ model: 'small-model', messages: msg }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    assert.ok(!e.message.includes('sk-wrong-key-1234'), 'the key is masked');
    return true;
  });
  const noKey = await fetch(`${s.url}/v1/models`);
  assert.equal(noKey.status, 401);
  assert.equal(((await noKey.json()) as { error: { code: string } }).error.code, 'invalid_api_key');

  const client = openai(s, 'sk-right');
  await assert.rejects(client.chat.completions.create({ model: 'gpt-9', messages: msg }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
  await assert.rejects(
    client.chat.completions.create({ model: 'small-model', messages: [{ role: 'user', content: 'word '.repeat(50) }] }),
    (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.code, 'context_length_exceeded');
      assert.match(e.message, /maximum context length is 20 tokens/);
      return true;
    },
  );

  s.setBehaviour({ mode: 'error', status: 429, retryAfter: 7 }, 'POST /v1/chat/completions');
  await assert.rejects(client.chat.completions.create({ model: 'small-model', messages: msg }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.headers.get('retry-after'), '7');
    return true;
  });
  s.setBehaviour({ mode: 'error', status: 500 }, 'POST /v1/chat/completions');
  await assert.rejects(client.chat.completions.create({ model: 'small-model', messages: msg }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.InternalServerError);
    assert.equal((e.error as { type?: string }).type, 'server_error');
    return true;
  });
  assert.equal(s.counts['POST /v1/chat/completions'], 5);
  assert.equal(s.counts['GET /v1/models'], 1);
  assert.equal(s.counts['GET /never'], 0);
});

test('openai: hang + abort reaches the server, failMidStream, slow, closed port', async () => {
  const s = await track(startOpenAIServer());
  const client = openai(s);
  const msg: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

  s.setBehaviour({ mode: 'hang' });
  const ac = new AbortController();
  const pending = client.chat.completions.create({ model: 'gpt-4.1-mini', messages: msg, stream: true }, { signal: ac.signal });
  await until(() => s.counts['POST /v1/chat/completions'] === 1);
  ac.abort();
  await assert.rejects(pending, (e: unknown) => e instanceof OpenAI.APIUserAbortError);
  await until(() => s.aborted === 1);

  s.reset();
  s.setBehaviour({ mode: 'failMidStream', afterTokens: 3 });
  const got: string[] = [];
  await assert.rejects(async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: msg, stream: true });
    for await (const c of stream) if (c.choices[0]?.delta.content) got.push(c.choices[0].delta.content);
  });
  assert.deepEqual(got, ['Hello', ' from', ' the']);
  assert.equal(s.aborted, 0);

  s.reset();
  s.setBehaviour({ mode: 'slow', delayMs: 150 });
  const t0 = Date.now();
  const slow = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: msg, stream: true, max_tokens: 2 });
  let firstAt = 0;
  for await (const c of slow) if (c.choices[0]?.delta.content && !firstAt) firstAt = Date.now() - t0;
  assert.ok(firstAt >= 140, `first token after ${firstAt} ms`);
  assert.ok(Date.now() - t0 >= 290, 'delay between tokens too');

  const port = await closedPort();
  await assert.rejects(
    openai({ url: `http://127.0.0.1:${port}` } as FixtureServer).models.list(),
    (e: unknown) => e instanceof OpenAI.APIConnectionError,
  );
});

test('cancellation mid-stream stops real inference and is counted', async () => {
  const s = await track(startOpenAIServer({ backend: llama }));
  const client = openai(s);
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello' }], stream: true, max_tokens: 400 },
    { signal: ac.signal },
  );
  let n = 0;
  for await (const c of stream) {
    if (c.choices[0]?.delta.content && ++n === 2) ac.abort();
  }
  await until(() => s.aborted === 1);
  // the backend queue is free again: a new request is served at once
  const t0 = Date.now();
  await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.ok(Date.now() - t0 < 2000);
});

test('llama.cpp server: health, loading, props, models, chat and embeddings', async () => {
  const s = await track(startLlamaCppServer({ backend: llama, modelAlias: 'tiny' }));
  assert.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok' });
  s.setLoading(true);
  const loading = await fetch(`${s.url}/health`);
  assert.equal(loading.status, 503);
  assert.deepEqual(await loading.json(), { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
  assert.equal((await fetch(`${s.url}/v1/models`)).status, 503);
  s.setLoading(false);

  const props = (await (await fetch(`${s.url}/props`)).json()) as {
    default_generation_settings: { n_ctx: number };
    total_slots: number;
    model_path: string;
    chat_template: string;
    build_info: string;
  };
  assert.equal(props.default_generation_settings.n_ctx, 512);
  assert.equal(props.total_slots, 1);
  assert.equal(props.model_path, llama.modelPath);
  assert.match(props.chat_template, /im_start/);

  const client = openai(s, 'no-key');
  const models = await client.models.list();
  assert.equal(models.data[0]!.id, 'tiny');
  assert.equal(models.data[0]!.owned_by, 'llamacpp');

  const stream = await client.chat.completions.create({
    model: 'anything',
    messages: [{ role: 'user', content: 'hello' }],
    stream: true,
    max_tokens: 12,
    stream_options: { include_usage: true },
  });
  let chunks = 0;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of stream) {
    if (c.choices[0]?.delta.content) chunks++;
    if (c.usage) usage = c.usage;
  }
  assert.ok(chunks > 1);
  assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);

  const emb = await client.embeddings.create({ model: 'tiny', input: 'hello world' });
  assert.equal(emb.data[0]!.embedding.length, 64);

  await assert.rejects(
    client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hello '.repeat(600) }] }),
    (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal((e.error as { type?: string }).type, 'exceed_context_size_error');
      return true;
    },
  );
  assert.equal(s.counts['GET /health'], 2);
});

test('scripted backend: deterministic tokens and hash embeddings; reset clears state', async () => {
  const b = scriptedBackend({ tokens: ['a', 'b', 'c'], dims: 16 });
  const got: string[] = [];
  const r = await b.chat([{ role: 'user', content: 'x y' }], {
    maxTokens: 2,
    signal: new AbortController().signal,
    onToken: (t) => got.push(t),
  });
  assert.deepEqual(got, ['a', 'b']);
  assert.equal(r.completionTokens, 2);
  const [v1, v2] = await b.embed(['same text', 'same text']);
  assert.deepEqual(v1, v2);
  assert.equal(v1!.length, 16);

  const s = await track(startOllamaServer());
  await fetch(`${s.url}/api/tags`);
  s.setBehaviour({ mode: 'hang' });
  s.reset();
  assert.equal(s.counts.total, 0);
  assert.equal(s.requests.length, 0);
  assert.equal((await fetch(`${s.url}/api/tags`)).status, 200);
  await s.close();
});

test("closedPort: refuses connections, lies below the kernel's ephemeral range (so no port-0 server can get it), never repeats", async () => {
  let range: number[] | undefined;
  try {
    range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    range = undefined; // not Linux: only "refused" and "never repeats" are checked
  }
  const ports = [await closedPort(), await closedPort(), await closedPort()];
  assert.equal(new Set(ports).size, 3);
  for (const port of ports) {
    if (range && range[0]! > 4096) assert.ok(port < range[0]!, `${port} is below ${range[0]}`);
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/`),
      (e: Error) => (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED',
    );
  }
});
