/**
 * The gateway, driven as other tools drive it: the real `openai` client and curl (spawned), against the test
 * servers behind the real router. Every item of issue 5's "Must show" is checked with both clients.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { Gateway } from '../../src/core/gateway/server';
import { closedPort, hashEmbedding, scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const TOKEN = 'sy-gw-test-token-0123456789';
const MAX_BODY = 64 * 1024;
let ollama: FixtureServer;
let oai: FixtureServer;
let refused: number;
let sy: Switchyard;
let gateway: Gateway;
let usage: MemoryLedger;
const logs: string[] = [];
const tmp = mkdtempSync(path.join(tmpdir(), 'switchyard-gw-'));

function settings(aliases: Record<string, string>): Record<string, unknown> {
  return {
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'oai', kind: 'openai-compatible', baseUrl: `${oai.url}/v1` },
    ],
    'switchyard.tasks': {
      chat: ['box/qwen2.5-coder:7b'],
      explain: ['oai/gpt-4.1-mini'],
      summarize: ['gone/qwen2.5-coder:7b', 'oai/gpt-4.1-mini'],
      embed: ['box/nomic-embed-text:latest'],
      edit: ['box/qwen2.5-coder:7b'],
      commitMessage: ['box/qwen2.5-coder:7b'],
    },
    'switchyard.privacy': 'local-only',
    'switchyard.aliases': aliases,
  };
}

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ dims: 8 }) });
  oai = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['From', ' oai', '.'], dims: 8 }) });
  refused = await closedPort();
  usage = new MemoryLedger();
  const { config, problems } = parseConfig(settings({ fast: 'chat' }));
  assert.deepEqual(problems, []);
  const logger = {
    trace() {},
    debug() {},
    info: (m: string) => logs.push(m),
    warn: (m: string) => logs.push(m),
    error: (m: string) => logs.push(m),
  };
  sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
    logger,
  });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0, maxBodyBytes: MAX_BODY, logger });
  await gateway.start();
});
after(async () => {
  await gateway.stop();
  await ollama.close();
  await oai.close();
});
beforeEach(() => {
  ollama.reset();
  oai.reset();
  logs.length = 0;
  sy.router.health.clear();
});

function client(extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0, ...extra });
}

interface CurlResult {
  code: number;
  status: number;
  body: string;
  headers: string;
}

/** curl as a user types it; the status comes from -w, headers from -D. */
function curl(args: string[], opts: { input?: string } = {}): Promise<CurlResult> {
  // Headers go to a file: curl 7.88 crashes writing -D to a piped /dev/stderr.
  const headerFile = path.join(tmp, `h-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-N', '-D', headerFile, '-w', '\n%{http_code}', ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === null) return reject(new Error(`curl died of ${signal}: ${err}`));
      const nl = out.lastIndexOf('\n');
      const headers = existsSync(headerFile) ? readFileSync(headerFile, 'utf8') : '';
      resolve({ code, status: Number(out.slice(nl + 1)), body: out.slice(0, nl), headers });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const auth = ['-H', `Authorization: Bearer ${TOKEN}`];
const json = ['-H', 'Content-Type: application/json'];

function sseData(body: string): any[] {
  return body
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}

test('models list: every virtual name and alias, plus the real models the tasks route to (openai client and curl)', async () => {
  const list = await client().models.list();
  const ids = list.data.map((m) => m.id);
  for (const t of ['chat', 'explain', 'edit', 'commitMessage', 'summarize', 'embed', 'fast'])
    assert.ok(ids.includes(`switchyard/${t}`), `missing switchyard/${t} in ${ids}`);
  assert.ok(ids.includes('box/qwen2.5-coder:7b'));
  assert.ok(ids.includes('oai/gpt-4.1-mini'));
  assert.ok(ids.includes('box/nomic-embed-text:latest'));
  const one = await client().models.retrieve('switchyard/fast');
  assert.equal(one.owned_by, 'switchyard');

  const r = await curl([...auth, `${gateway.url}/models`]);
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  assert.equal(body.object, 'list');
  assert.deepEqual(
    body.data.map((m: { id: string }) => m.id),
    ids,
  );
});

test('non-streaming chat through switchyard/chat answers from the local server (openai client and curl)', async () => {
  const c = await client().chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.choices[0]!.message.content, 'Hello from the test server.');
  assert.equal(c.choices[0]!.finish_reason, 'stop');
  assert.equal(c.model, 'box/qwen2.5-coder:7b');
  assert.ok(c.usage!.completion_tokens > 0 && c.usage!.prompt_tokens > 0);

  const r = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).choices[0].message.content, 'Hello from the test server.');
  assert.match(r.headers, /x-switchyard-route: box\/qwen2\.5-coder:7b/i);
  assert.equal(ollama.counts['POST /api/chat'], 2);
  assert.equal(usage.records.at(-1)?.requested, 'switchyard/chat');
});

test('streaming chat with stream_options.include_usage ends with a usage chunk, then [DONE] (openai client and curl)', async () => {
  const stream = await client().chat.completions.create({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const ch of stream) {
    chunks.push(ch);
    text += ch.choices[0]?.delta.content ?? '';
  }
  assert.equal(text, 'Hello from the test server.');
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.ok(
    last.usage && last.usage.completion_tokens > 0 && last.usage.total_tokens === last.usage.prompt_tokens + last.usage.completion_tokens,
  );
  assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'stop');
  assert.ok(
    chunks.slice(0, -1).every((ch) => ch.usage === null),
    'usage is null until the final chunk',
  );

  const r = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({
      model: 'switchyard/chat',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(r.status, 200);
  assert.match(r.headers, /content-type: text\/event-stream/i);
  assert.ok(r.body.trimEnd().endsWith('data: [DONE]'));
  const events = sseData(r.body);
  assert.equal(events.map((e) => e.choices[0]?.delta?.content ?? '').join(''), 'Hello from the test server.');
  assert.ok(events.at(-1).usage.completion_tokens > 0);

  // Without include_usage: no usage field at all.
  const plain = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.ok(sseData(plain.body).every((e) => !('usage' in e)));
});

test('embeddings as float and as base64 decode to the same vectors (openai client and curl)', async () => {
  const input = ['route requests locally', 'second text'];
  const expected = input.map((t) => hashEmbedding(t, 8));
  const asFloat = await client().embeddings.create({ model: 'switchyard/embed', input, encoding_format: 'float' });
  assert.equal(asFloat.data.length, 2);
  asFloat.data.forEach((d, i) => d.embedding.forEach((x, j) => assert.ok(Math.abs(x - expected[i]![j]!) < 1e-6)));
  // The openai client asks for base64 by default and decodes it.
  const viaBase64 = await client().embeddings.create({ model: 'switchyard/embed', input });
  viaBase64.data.forEach((d, i) => d.embedding.forEach((x, j) => assert.ok(Math.abs(x - expected[i]![j]!) < 1e-6)));
  assert.equal(ollama.requests.filter((q) => q.path === '/api/embed').length, 2);

  const f = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/embed', input: 'route requests locally' }),
    `${gateway.url}/embeddings`,
  ]);
  assert.equal(f.status, 200, f.body);
  const fv = JSON.parse(f.body).data[0].embedding as number[];
  assert.equal(fv.length, 8);
  const b = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/embed', input: 'route requests locally', encoding_format: 'base64' }),
    `${gateway.url}/embeddings`,
  ]);
  const b64 = JSON.parse(b.body).data[0].embedding as string;
  assert.equal(typeof b64, 'string');
  const buf = Buffer.from(b64, 'base64');
  const decoded = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
  decoded.forEach((x, j) => assert.ok(Math.abs(x - fv[j]!) < 1e-6));
});

test('an alias follows a settings change without a restart, and the substitution is logged without the prompt', async () => {
  const secretPrompt = 'my-private-prompt-text-42';
  const before = await client().chat.completions.create({ model: 'switchyard/fast', messages: [{ role: 'user', content: secretPrompt }] });
  assert.equal(before.model, 'box/qwen2.5-coder:7b');
  const r1 = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/fast', messages: [{ role: 'user', content: secretPrompt }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.match(r1.headers, /x-switchyard-route: box\//i);

  sy.setConfig(parseConfig(settings({ fast: 'explain' })).config);
  try {
    const after = await client().chat.completions.create({ model: 'switchyard/fast', messages: [{ role: 'user', content: secretPrompt }] });
    assert.equal(after.model, 'oai/gpt-4.1-mini');
    assert.equal(after.choices[0]!.message.content, 'From oai.');
    const r2 = await curl([
      ...auth,
      ...json,
      '-d',
      JSON.stringify({ model: 'switchyard/fast', messages: [{ role: 'user', content: secretPrompt }] }),
      `${gateway.url}/chat/completions`,
    ]);
    assert.equal(JSON.parse(r2.body).model, 'oai/gpt-4.1-mini');
    assert.equal(oai.counts['POST /v1/chat/completions'], 2);
  } finally {
    sy.setConfig(parseConfig(settings({ fast: 'chat' })).config);
  }
  const lines = logs.filter((l) => l.startsWith('gateway chat: switchyard/fast → '));
  assert.ok(lines.some((l) => l.includes('box/qwen2.5-coder:7b')) && lines.some((l) => l.includes('oai/gpt-4.1-mini')), logs.join('\n'));
  assert.ok(!logs.some((l) => l.includes(secretPrompt) || l.includes(TOKEN)), 'no prompt body or token in logs');
});

test('an unknown alias gets a 400 that names it and lists the configured names (openai client and curl)', async () => {
  await assert.rejects(
    client().chat.completions.create({ model: 'switchyard/nosuch', messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'model_not_found');
      assert.match(e.message, /"switchyard\/nosuch" is not a Switchyard task or a configured alias/);
      assert.match(e.message, /switchyard\/fast/);
      return true;
    },
  );
  const r = await curl([...auth, ...json, '-d', JSON.stringify({ model: 'switchyard/nosuch', input: 'x' }), `${gateway.url}/embeddings`]);
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).error.code, 'model_not_found');
  assert.equal(ollama.counts.total + oai.counts.total, 0, 'nothing reached a model server');
});

test('fallback through the gateway: a refused local port hands over to the next candidate (openai client and curl)', async () => {
  const c = await client().chat.completions.create({ model: 'switchyard/summarize', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(c.model, 'oai/gpt-4.1-mini');
  assert.equal(c.choices[0]!.message.content, 'From oai.');
  sy.router.health.clear();
  const r = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/summarize', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(r.status, 200);
  assert.match(r.headers, /x-switchyard-fallback: true/i);
  assert.equal(
    sseData(r.body)
      .map((e) => e.choices[0]?.delta?.content ?? '')
      .join(''),
    'From oai.',
  );
  assert.ok(
    logs.some((l) =>
      /gateway chat: switchyard\/summarize → oai\/gpt-4\.1-mini .* after gone\/qwen2\.5-coder:7b failed \(unreachable/.test(l),
    ),
    logs.join('\n'),
  );
  // When every candidate fails the client gets an OpenAI error body with the attempts.
  oai.setBehaviour({ mode: 'error', status: 500 });
  try {
    sy.router.health.clear();
    await assert.rejects(
      client().chat.completions.create({ model: 'switchyard/summarize', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.status, 502);
        assert.match(e.message, /No model could answer switchyard\/summarize: gone\/qwen2\.5-coder:7b failed \(unreachable/);
        return true;
      },
    );
  } finally {
    oai.setBehaviour({ mode: 'ok' });
  }
});

test('a model server that refuses the request itself (400) gives the client a 400 with its reason, not a 502', async () => {
  ollama.setBehaviour({ mode: 'error', status: 400, body: { error: 'option "mirostat_tau" is not valid here' } }, 'POST /api/chat');
  try {
    await assert.rejects(
      client().chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.code, 'upstream_rejected_request');
        assert.match(e.message, /mirostat_tau/);
        return true;
      },
    );
    assert.equal(sy.router.health.coolingFor('box'), 0, 'a server that answered is not cooled down');
  } finally {
    ollama.setBehaviour({ mode: 'ok' }, 'POST /api/chat');
  }
});

test('401 without the token or with a wrong one; nothing reaches a model server (openai client and curl)', async () => {
  await assert.rejects(
    client({ apiKey: 'wrong-token-123456' }).models.list(),
    (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
  await assert.rejects(
    client({ apiKey: 'wrong-token-123456' }).chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'hi' }],
    }),
    OpenAI.AuthenticationError,
  );
  const r = await curl([
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(r.status, 401);
  const body = JSON.parse(r.body);
  assert.equal(body.error.code, 'invalid_api_key');
  assert.match(body.error.message, /Authorization: Bearer/);
  assert.equal((await curl(['-H', 'Authorization: Bearer nope-nope-nope', `${gateway.url}/models`])).status, 401);
  assert.equal(ollama.counts.total + oai.counts.total, 0);
});

test('a foreign Host (DNS rebinding) and any Origin (a web page) are refused with 403 (openai client, curl, raw http)', async () => {
  const host = await curl([...auth, '-H', 'Host: evil.example', `${gateway.url}/models`]);
  assert.equal(host.status, 403);
  assert.equal(JSON.parse(host.body).error.code, 'forbidden_host');
  const hostPort = await curl([...auth, '-H', `Host: localhost:${gateway.port + 1}`, `${gateway.url}/models`]);
  assert.equal(hostPort.status, 403, 'a loopback name with another port is another origin');
  assert.equal((await curl([...auth, '-H', `Host: localhost:${gateway.port}`, `${gateway.url}/models`])).status, 200);
  const origin = await curl([
    ...auth,
    ...json,
    '-H',
    'Origin: http://evil.example',
    '-d',
    JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(origin.status, 403);
  assert.equal(JSON.parse(origin.body).error.code, 'forbidden_origin');
  assert.doesNotMatch(origin.headers, /access-control-allow-origin/i);
  const preflight = await curl(['-X', 'OPTIONS', '-H', 'Access-Control-Request-Method: POST', `${gateway.url}/chat/completions`]);
  assert.equal(preflight.status, 403);
  await assert.rejects(
    client({ defaultHeaders: { Origin: 'http://localhost:3000' } }).models.list(),
    (e: unknown) => e instanceof OpenAI.PermissionDeniedError && e.status === 403,
  );
  // A browser's Host can be anything its DNS says; node's http lets us send it exactly.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: gateway.port, path: '/v1/models', headers: { host: 'attacker.test', authorization: `Bearer ${TOKEN}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
  assert.equal(ollama.counts.total + oai.counts.total, 0);
});

test('an oversized body gets 413 without reaching a model server (openai client and curl)', async () => {
  const big = 'x'.repeat(MAX_BODY + 10);
  await assert.rejects(
    client().chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: big }] }),
    (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.equal(e.status, 413);
      assert.equal(e.code, 'request_too_large');
      return true;
    },
  );
  const body = JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: big }] });
  const r = await curl([...auth, ...json, '--data-binary', '@-', `${gateway.url}/chat/completions`], { input: body });
  assert.equal(r.status, 413);
  assert.match(JSON.parse(r.body).error.message, /limit of 65536 bytes/);
  // Chunked (no Content-Length): counted while read.
  const chunked = await curl(
    [...auth, ...json, '-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `${gateway.url}/chat/completions`],
    { input: body },
  );
  assert.equal(chunked.status, 413);
  assert.equal(ollama.counts.total, 0);
});

/** Streams `model` with the openai client and aborts as soon as text arrived; returns the text seen. */
async function abortAfterFirstText(model: string): Promise<string> {
  const controller = new AbortController();
  const stream = await client().chat.completions.create(
    { model, messages: [{ role: 'user', content: 'hi' }], stream: true },
    { signal: controller.signal },
  );
  let got = '';
  try {
    for await (const ch of stream) {
      got += ch.choices[0]?.delta.content ?? '';
      if (got.length > 0) controller.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || (e as Error).name === 'AbortError', String(e));
  }
  return got;
}

test('a client that disconnects mid-stream aborts the upstream request: the test server sees the cancel (openai client and curl)', async () => {
  ollama.setBehaviour({ mode: 'slow', delayMs: 150 });
  try {
    const got = await abortAfterFirstText('switchyard/chat');
    await waitUntil(() => ollama.aborted === 1, 'the test server to see the first cancel');
    assert.ok(got.length > 0 && got !== 'Hello from the test server.');

    // curl: killed after its first token.
    const child = spawn('curl', [
      '-sS',
      '-N',
      ...auth,
      ...json,
      '-d',
      JSON.stringify({ model: 'switchyard/chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      `${gateway.url}/chat/completions`,
    ]);
    await new Promise<void>((resolve) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (/"content":"Hello"/.test(out)) {
          child.kill('SIGTERM');
          resolve();
        }
      });
    });
    await waitUntil(() => ollama.aborted === 2, 'the test server to see the cancel from curl');
    await waitUntil(() => gateway.active === 0, 'the gateway to finish both requests');
    assert.ok(logs.some((l) => /canceled by the client/.test(l)));
    assert.equal(usage.records.at(-1)?.outcome, 'canceled');
  } finally {
    ollama.setBehaviour({ mode: 'ok' });
  }
});

test('bad requests get OpenAI error bodies with the right status', async () => {
  const post = (path: string, body: string) => curl([...auth, ...json, '--data-binary', body, `${gateway.url}${path}`]);
  const notJson = await post('/chat/completions', '{nope');
  assert.equal(notJson.status, 400);
  assert.equal(JSON.parse(notJson.body).error.code, 'invalid_json');
  const noModel = await post('/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(JSON.parse(noModel.body).error.param, 'model');
  const noMessages = await post('/chat/completions', JSON.stringify({ model: 'switchyard/chat' }));
  assert.equal(JSON.parse(noMessages.body).error.param, 'messages');
  const embedAsChat = await post(
    '/chat/completions',
    JSON.stringify({ model: 'switchyard/embed', messages: [{ role: 'user', content: 'x' }] }),
  );
  assert.equal(embedAsChat.status, 400);
  const badFormat = await post('/embeddings', JSON.stringify({ model: 'switchyard/embed', input: 'x', encoding_format: 'int8' }));
  assert.equal(JSON.parse(badFormat.body).error.param, 'encoding_format');
  // What would change the kind of answer is refused by name rather than silently ignored.
  const chatWith = (extra: Record<string, unknown>) =>
    post('/chat/completions', JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'x' }], ...extra }));
  const tool = { type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: {} } } };
  // (Tool calls and structured output are served since issue 14: test/unit/gateway.tools.test.ts.)
  for (const [extra, param] of [
    [{ logprobs: true }, 'logprobs'],
    [{ modalities: ['text', 'audio'] }, 'modalities'],
  ] as const) {
    const r = await chatWith(extra);
    assert.equal(r.status, 400, JSON.stringify(extra));
    const err = JSON.parse(r.body).error;
    assert.equal(err.code, 'unsupported_parameter');
    assert.equal(err.param, param);
    assert.match(err.message, /text only/);
  }
  assert.equal(ollama.counts.total, 0);
  // Empty or switched-off values pass: clients send them by default.
  for (const extra of [{ tools: [] }, { tools: [tool], tool_choice: 'none' }, { response_format: { type: 'text' } }, { logprobs: false }]) {
    const r = await chatWith(extra);
    assert.equal(r.status, 200, `${JSON.stringify(extra)}: ${r.body}`);
  }
  ollama.reset();
  const notFound = await curl([...auth, `${gateway.url}/images/generations`]);
  assert.equal(notFound.status, 404);
  for (const endpoint of ['chat/completions', 'completions']) {
    const wrongMethod = await curl([...auth, `${gateway.url}/${endpoint}`]);
    assert.equal(wrongMethod.status, 405, endpoint);
  }
  assert.equal(ollama.counts.total, 0);
});

test('a real model name listed by /v1/models is routed to exactly that candidate', async () => {
  const c = await client().chat.completions.create({ model: 'oai/gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(c.model, 'oai/gpt-4.1-mini');
  assert.equal(c.choices[0]!.message.content, 'From oai.');
  await assert.rejects(
    client().chat.completions.create({ model: 'oai/not-configured', messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /not a model Switchyard routes to/.test(e.message),
  );
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('32 concurrent streams through the gateway each receive every token, in order', async () => {
  const expected = 'Hello from the test server.';
  const texts = await Promise.all(
    Array.from({ length: 32 }, async () => {
      let text = '';
      let deltas = 0;
      const stream = await client().chat.completions.create({
        model: 'switchyard/chat',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      for await (const ch of stream) {
        const d = ch.choices[0]?.delta.content;
        if (d) {
          text += d;
          deltas++;
        }
      }
      return `${deltas}:${text}`;
    }),
  );
  for (const t of texts) assert.equal(t, `6:${expected}`);
});

test('streamed text is re-framed exactly: quotes, backslashes, newlines, SSE lookalikes and unicode arrive verbatim in valid chunks', async () => {
  const tricky = ['say "hi"', ' \\n is not a newline', '\n\ndata: [DONE]\n\n', '"content":""', ' ünïcödé 🚂', '\u2028\u0000'];
  const server = await startOpenAIServer({ backend: scriptedBackend({ tokens: tricky }) });
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'srv', kind: 'openai-compatible', baseUrl: `${server.url}/v1` }],
    'switchyard.tasks': { chat: ['srv/gpt-4.1-mini'] },
  });
  const own = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  const gw = new Gateway({ source: own, token: TOKEN, port: 0 });
  await gw.start();
  try {
    const stream = await new OpenAI({ baseURL: gw.url, apiKey: TOKEN, maxRetries: 0 }).chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const deltas: string[] = [];
    for await (const ch of stream) {
      assert.equal(ch.model, 'srv/gpt-4.1-mini');
      assert.equal(ch.object, 'chat.completion.chunk');
      const d = ch.choices[0]?.delta.content;
      if (d) deltas.push(d);
    }
    assert.deepEqual(deltas, tricky);

    const r = await curl([
      ...auth,
      ...json,
      '-d',
      JSON.stringify({ model: 'switchyard/chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      `${gw.url}/chat/completions`,
    ]);
    const events = sseData(r.body);
    const keys = JSON.stringify(Object.keys(events[1]));
    for (const e of events) assert.equal(JSON.stringify(Object.keys(e)), keys, 'every chunk has the same fields in the same order');
    assert.deepEqual(events.map((e) => e.choices[0]?.delta?.content).filter(Boolean), tricky);
  } finally {
    await gw.stop();
    await server.close();
  }
});

test('streams from an OpenAI-compatible server are relayed as the server sent them, renamed, with usage as asked (openai client and curl)', async () => {
  const stream = await client().chat.completions.create({
    model: 'switchyard/explain',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const ch of stream) chunks.push(ch);
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'From oai.');
  for (const c of chunks) {
    assert.equal(c.model, 'oai/gpt-4.1-mini');
    // Only the upstream writes service_tier: the chunks are its own, not re-framed by the gateway.
    assert.equal((c as unknown as { service_tier?: string }).service_tier, 'default');
  }
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
  assert.deepEqual(chunks.at(-1)!.choices, []);
  assert.ok(chunks.at(-1)!.usage!.completion_tokens > 0);
  const record = usage.records.at(-1)!;
  assert.equal(record.providerId, 'oai');
  assert.equal(record.outcome, 'ok');
  assert.equal(record.tokensEstimated, undefined, 'the server reported usage; the ledger has it');
  assert.equal(record.outputTokens, chunks.at(-1)!.usage!.completion_tokens);
  assert.ok(record.ttftMs !== undefined);
  const sent = oai.requests.filter((r) => r.path === '/v1/chat/completions');
  assert.deepEqual(sent.at(-1)?.body.stream_options, { include_usage: true });

  // Without include_usage the client sees no usage at all (the gateway still asked the server, for the ledger).
  const r = await curl([
    ...auth,
    ...json,
    '-d',
    JSON.stringify({ model: 'switchyard/explain', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    `${gateway.url}/chat/completions`,
  ]);
  assert.equal(r.status, 200);
  assert.match(r.headers, /x-switchyard-route: oai\/gpt-4\.1-mini/i);
  assert.equal(r.body.match(/data: \[DONE\]/g)?.length, 1);
  assert.ok(r.body.trimEnd().endsWith('data: [DONE]'));
  const events = sseData(r.body);
  assert.ok(events.every((e) => !('usage' in e) && e.service_tier === 'default' && e.model === 'oai/gpt-4.1-mini'));
  assert.equal(events.map((e) => e.choices[0]?.delta?.content ?? '').join(''), 'From oai.');
  assert.equal(events.at(-1).choices[0].finish_reason, 'stop');
  assert.ok((usage.records.at(-1)?.outputTokens ?? 0) > 0);
});

test('switchyard.gateway.relay off: the same OpenAI-compatible stream is framed by the gateway, token by token', async () => {
  const { config } = parseConfig({ ...settings({ fast: 'chat' }), 'switchyard.gateway.relay': false });
  sy.setConfig(config);
  try {
    const stream = await client().chat.completions.create({
      model: 'switchyard/explain',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const ch of stream) chunks.push(ch);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'From oai.');
    assert.ok(
      chunks.every((c) => c.model === 'oai/gpt-4.1-mini' && !('service_tier' in c) && c.id.startsWith('chatcmpl-sy')),
      "the gateway's own chunks",
    );
    assert.ok(chunks.at(-1)!.usage!.completion_tokens > 0);
  } finally {
    sy.setConfig(parseConfig(settings({ fast: 'chat' })).config);
  }
});

test('a relayed stream: a client that disconnects aborts the upstream, a server that dies mid-answer ends it with an error event', async () => {
  oai.setBehaviour({ mode: 'slow', delayMs: 150 });
  try {
    const got = await abortAfterFirstText('switchyard/explain');
    await waitUntil(() => oai.aborted === 1, 'the test server to see the cancel');
    await waitUntil(() => gateway.active === 0, 'the gateway to finish the request');
    assert.equal(got, 'From');
    assert.equal(usage.records.at(-1)?.outcome, 'canceled');
  } finally {
    oai.setBehaviour({ mode: 'ok' });
  }
  oai.setBehaviour({ mode: 'failMidStream', afterTokens: 1 });
  try {
    const stream = await client().chat.completions.create({
      model: 'switchyard/explain',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let got = '';
    await assert.rejects(
      (async () => {
        for await (const ch of stream) got += ch.choices[0]?.delta.content ?? '';
      })(),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.match(e.message, /oai\/gpt-4\.1-mini failed mid-answer/);
        return true;
      },
    );
    assert.equal(got, 'From');
    assert.equal(sy.router.health.coolingFor('box'), 0);
  } finally {
    oai.setBehaviour({ mode: 'ok' });
  }
});

test('32 concurrent relayed streams each receive every token, in order', async () => {
  const texts = await Promise.all(
    Array.from({ length: 32 }, async () => {
      const deltas: string[] = [];
      const stream = await client().chat.completions.create({
        model: 'switchyard/explain',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      for await (const ch of stream) if (ch.choices[0]?.delta.content) deltas.push(ch.choices[0].delta.content);
      return deltas.join('|');
    }),
  );
  for (const t of texts) assert.equal(t, 'From| oai|.');
});

test('stop, top_p, seed and the penalties reach the model server on every path (Ollama options, relayed and re-framed OpenAI bodies); bad values get 400', async () => {
  const sampling = { stop: ['END', '##'], top_p: 0.5, seed: 11, presence_penalty: 0.25, frequency_penalty: -0.5 };
  // Ollama (re-framed stream), then the OpenAI-compatible server streaming (relayed) and not (through its client).
  const stream = await client().chat.completions.create({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    ...sampling,
  });
  for await (const _ of stream) void _;
  const options = ollama.requests.find((r) => r.path === '/api/chat')?.body.options;
  assert.deepEqual(
    {
      stop: options.stop,
      top_p: options.top_p,
      seed: options.seed,
      presence_penalty: options.presence_penalty,
      frequency_penalty: options.frequency_penalty,
    },
    sampling,
  );
  for (const streamed of [true, false]) {
    oai.reset();
    const r = await curl([
      ...auth,
      ...json,
      '-d',
      JSON.stringify({
        model: 'switchyard/explain',
        stream: streamed,
        messages: [{ role: 'user', content: 'hi' }],
        ...sampling,
        stop: 'END',
      }),
      `${gateway.url}/chat/completions`,
    ]);
    assert.equal(r.status, 200, r.body);
    const body = oai.requests.find((q) => q.path === '/v1/chat/completions')?.body;
    assert.deepEqual(
      {
        stop: body.stop,
        top_p: body.top_p,
        seed: body.seed,
        presence_penalty: body.presence_penalty,
        frequency_penalty: body.frequency_penalty,
      },
      { ...sampling, stop: ['END'] },
      `stream ${streamed}`,
    );
  }
  oai.reset();
  for (const [extra, param] of [
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ stop: 7 }, 'stop'],
    [{ top_p: 1.5 }, 'top_p'],
    [{ seed: 1.5 }, 'seed'],
    [{ presence_penalty: 3 }, 'presence_penalty'],
    [{ frequency_penalty: '1' }, 'frequency_penalty'],
  ] as const) {
    const r = await curl([
      ...auth,
      ...json,
      '-d',
      JSON.stringify({ model: 'switchyard/explain', messages: [{ role: 'user', content: 'hi' }], ...extra }),
      `${gateway.url}/chat/completions`,
    ]);
    assert.equal(r.status, 400, JSON.stringify(extra));
    assert.equal(JSON.parse(r.body).error.param, param);
  }
  assert.equal(oai.counts.total, 0);
});
