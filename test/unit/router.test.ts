/**
 * The router's rules, against protocol-faithful test servers driven by the real providers (and so by the real
 * `ollama` and `openai` clients): fallback on each failure kind, no splicing after output, privacy modes, cool-down,
 * virtual model names, usage records, and that no key ever leaks.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { priceOf } from '../../src/core/usage/pricing';
import { RouteError, type RoutedChatEvent } from '../../src/core/routing/router';
import type { PrivacyMode } from '../../src/core/config/config';
import type { AskCloud } from '../../src/core/routing/privacy';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const KEY = 'sk-test-0123456789abcdefSECRET';
let ollama: FixtureServer;
let cloud: FixtureServer;
let refused: number;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', ' says', ' hi'] }), apiKey: KEY });
  refused = await closedPort();
});
after(async () => {
  await ollama.close();
  await cloud.close();
});
beforeEach(() => {
  ollama.reset();
  cloud.reset();
});

interface Setup {
  chat?: unknown[];
  privacy?: PrivacyMode;
  askCloud?: AskCloud;
  trusted?: boolean;
  firstTokenTimeoutMs?: number;
  aliases?: Record<string, string>;
  logs?: string[];
}

function setup(s: Setup = {}) {
  const usage = new MemoryLedger();
  const logs = s.logs ?? [];
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'local', kind: 'ollama', baseUrl: ollama.url },
      { id: 'down', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      // A cloud provider: the test server on loopback, marked not local, priced as OpenAI's models.
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
    ],
    'switchyard.tasks': { chat: s.chat ?? ['down/qwen2.5-coder:7b', 'local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'] },
    'switchyard.privacy': s.privacy ?? 'allow',
    'switchyard.routing.firstTokenTimeoutMs': s.firstTokenTimeoutMs ?? 30000,
    'switchyard.aliases': s.aliases ?? {},
  });
  assert.deepEqual(problems, []);
  const line = (m: string) => logs.push(m);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_TEST_KEY' ? KEY : undefined) },
    logger: { trace: line, debug: line, info: line, warn: line, error: line },
    privacy: (c) => ({ mode: c.privacy, trusted: s.trusted ?? true, workspaceOptOut: c.workspaceCloudOptOut }),
    askCloud: s.askCloud,
    usage,
    price: priceOf,
  });
  return { sy, usage, logs };
}

async function collect(events: AsyncIterable<RoutedChatEvent>) {
  const out = {
    text: '',
    route: undefined as Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined,
    usage: undefined as Extract<RoutedChatEvent, { type: 'done' }>['usage'] | undefined,
  };
  for await (const ev of events) {
    if (ev.type === 'text') out.text += ev.text;
    else if (ev.type === 'route') out.route = ev.route;
    else if (ev.type === 'done') out.usage = ev.usage;
    else assert.fail(`a ${ev.type} event without asking for a relay`);
  }
  return out;
}

const hello = [{ role: 'user' as const, content: 'hello' }];

test('a refused local server falls back to the next candidate and the route says why', async () => {
  const { sy, usage } = setup();
  const r = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(r.text, 'Hello from the test server.');
  assert.equal(r.route?.providerId, 'local');
  assert.equal(r.route?.fallback, true);
  assert.equal(r.route?.attempts[0].providerId, 'down');
  assert.equal(r.route?.attempts[0].kind, 'unreachable');
  assert.equal(cloud.counts.total ?? 0, 0, 'the cloud was not needed');
  assert.equal(usage.records.length, 1);
  assert.equal(usage.records[0].outcome, 'ok');
  assert.equal(usage.records[0].local, true);
  assert.equal(usage.records[0].costUsd, 0);
  assert.ok(usage.records[0].inputTokens! > 0 && usage.records[0].outputTokens! > 0);
});

for (const [name, behaviour, kind] of [
  ['a 500', { mode: 'error', status: 500 }, 'server'],
  ['a 429', { mode: 'error', status: 429, retryAfter: 7 }, 'rateLimited'],
  ['a missing model', { mode: 'error', status: 404 }, 'modelMissing'],
] as const) {
  test(`${name} before the first token falls back to the cloud under allow`, async () => {
    ollama.setBehaviour(behaviour, 'POST /api/chat');
    const { sy, usage } = setup({ chat: ['local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'] });
    const r = await collect(sy.router.chat({ task: 'chat', messages: hello }));
    assert.equal(r.text, 'Cloud says hi');
    assert.equal(r.route?.providerId, 'openai');
    assert.equal(r.route?.local, false);
    assert.equal(r.route?.attempts[0].kind, kind);
    assert.equal(cloud.counts['POST /v1/chat/completions'], 1);
    assert.ok(usage.records[0].costUsd! > 0, 'a cloud answer has an estimated cost');
  });
}

test('a 400 about one request falls back but leaves the local server healthy; a 500 cools it down', async () => {
  const { sy } = setup({ chat: ['local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'] });
  ollama.setBehaviour({ mode: 'error', status: 400, body: { error: 'invalid option' } }, 'POST /api/chat');
  const first = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(first.route?.providerId, 'openai');
  assert.equal(first.route?.attempts[0].kind, 'server');
  assert.equal(sy.router.health.coolingFor('local'), 0);
  ollama.setBehaviour({ mode: 'ok' }, 'POST /api/chat');
  const next = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(next.route?.providerId, 'local', 'the next request goes local again');
  assert.equal(next.route?.fallback, false);

  ollama.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/chat');
  await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.ok(sy.router.health.coolingFor('local') > 0, 'a 500 says the server is unwell');
});

test('a prompt too long for the local model falls back (contextOverflow)', async () => {
  const { sy } = setup({ chat: [{ model: 'local/qwen2.5-coder:7b', contextSize: 512 }, 'openai/gpt-4.1-mini'] });
  const long = [{ role: 'user' as const, content: 'word '.repeat(2000) }];
  const r = await collect(sy.router.chat({ task: 'chat', messages: long }));
  assert.equal(r.route?.attempts[0].kind, 'contextOverflow');
  assert.equal(ollama.counts['POST /api/chat'] ?? 0, 0, 'never sent to be cut silently by the server');
  assert.equal(r.route?.providerId, 'openai');
});

test('a hung server costs the first-token timeout once, then is skipped while cooling down', async () => {
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/chat');
  const { sy } = setup({ chat: ['local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'], firstTokenTimeoutMs: 300 });
  const t0 = performance.now();
  const first = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(first.route?.attempts[0].kind, 'timeout');
  assert.ok(performance.now() - t0 >= 290);
  const second = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(second.route?.attempts[0].outcome, 'skipped');
  assert.match(second.route?.attempts[0].reason ?? '', /cooling down/);
  assert.equal(ollama.counts['POST /api/chat'], 1, 'the hung server was asked once');
  assert.equal(cloud.counts['POST /v1/chat/completions'], 2);
});

test('a failure after tokens have streamed is reported, never spliced with another model', async () => {
  ollama.setBehaviour({ mode: 'failMidStream', afterTokens: 2 }, 'POST /api/chat');
  const { sy, usage } = setup({ chat: ['local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'] });
  let text = '';
  await assert.rejects(
    (async () => {
      for await (const ev of sy.router.chat({ task: 'chat', messages: hello })) if (ev.type === 'text') text += ev.text;
    })(),
    (e: unknown) => e instanceof RouteError && e.afterOutput === true,
  );
  assert.ok(text.length > 0, 'the partial answer reached the caller');
  assert.equal(cloud.counts.total ?? 0, 0, 'no second model was asked');
  assert.notEqual(usage.records[0].outcome, 'ok');
});

test('canceling mid-stream stops the request at the server', async () => {
  ollama.setBehaviour({ mode: 'slow', delayMs: 50 }, 'POST /api/chat');
  const { sy } = setup({ chat: ['local/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'] });
  const controller = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const ev of sy.router.chat({ task: 'chat', messages: hello, signal: controller.signal }))
        if (ev.type === 'text') controller.abort();
    })(),
    (e: unknown) => e instanceof RouteError && e.kind === 'canceled',
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ollama.aborted, 1, 'the server saw the client go away');
  assert.equal(cloud.counts.total ?? 0, 0, 'a cancel is not a reason to fall back');
});

test('local-only: zero cloud requests, even when every local candidate fails', async () => {
  ollama.setBehaviour({ mode: 'error', status: 500 });
  const { sy, usage } = setup({ privacy: 'local-only' });
  await assert.rejects(collect(sy.router.chat({ task: 'chat', messages: hello })), (e: unknown) => {
    assert.ok(e instanceof RouteError);
    assert.equal(e.attempts.find((a) => a.providerId === 'openai')?.kind, 'policy');
    assert.match(e.message, /privacy is local-only/);
    return true;
  });
  const plan = await sy.router.plan('chat', { probe: true });
  assert.equal(plan.skipped.find((s) => s.providerId === 'openai')?.kind, 'policy');
  assert.equal(cloud.counts.total ?? 0, 0, 'not even a health probe went to the cloud');
  assert.equal(usage.records.at(-1)?.outcome, 'server');
});

test('an untrusted workspace is local-only whatever the setting says', async () => {
  const { sy } = setup({ privacy: 'allow', trusted: false, chat: ['openai/gpt-4.1-mini'] });
  await assert.rejects(
    collect(sy.router.chat({ task: 'chat', messages: hello })),
    (e: unknown) => e instanceof RouteError && e.kind === 'policy' && /not trusted/.test(e.message),
  );
  assert.equal(cloud.counts.total ?? 0, 0);
});

test('ask: the host is asked before cloud use; "stay local" keeps the request here', async () => {
  const asked: string[] = [];
  let answer = false;
  const { sy } = setup({
    privacy: 'ask',
    chat: ['down/x', 'openai/gpt-4.1-mini'],
    askCloud: async (r) => (asked.push(`${r.task}:${r.providerId}/${r.model}`), answer),
  });
  await assert.rejects(
    collect(sy.router.chat({ task: 'chat', messages: hello })),
    (e: unknown) => e instanceof RouteError && e.attempts.some((a) => a.reason === 'you chose to stay local'),
  );
  assert.deepEqual(asked, ['chat:openai/gpt-4.1-mini']);
  assert.equal(cloud.counts.total ?? 0, 0);
  answer = true;
  const r = await collect(sy.router.chat({ task: 'chat', messages: hello }));
  assert.equal(r.route?.providerId, 'openai');
  const before = cloud.counts.total ?? 0;
  const plan = await sy.router.plan('chat', { probe: true });
  assert.equal(plan.asksFirst, true);
  assert.equal(cloud.counts.total ?? 0, before, 'planning under "ask" does not probe the cloud');
});

test('ask with nobody to ask (the CLI without --allow-cloud) refuses cloud candidates', async () => {
  const { sy } = setup({ privacy: 'ask', chat: ['openai/gpt-4.1-mini'] });
  await assert.rejects(
    collect(sy.router.chat({ task: 'chat', messages: hello })),
    (e: unknown) => e instanceof RouteError && e.kind === 'policy' && /--allow-cloud/.test(e.message),
  );
  assert.equal(cloud.counts.total ?? 0, 0);
});

test('virtual model names and aliases resolve to the task at request time; unknown names say what exists', async () => {
  const { sy } = setup({ chat: ['local/qwen2.5-coder:7b'], aliases: { fast: 'chat' } });
  assert.equal((await collect(sy.router.chat({ task: 'switchyard/chat', messages: hello }))).route?.task, 'chat');
  assert.equal((await collect(sy.router.chat({ task: 'switchyard/fast', messages: hello }))).route?.requested, 'switchyard/fast');
  await assert.rejects(
    collect(sy.router.chat({ task: 'switchyard/slow', messages: hello })),
    (e: unknown) =>
      e instanceof Error &&
      (e as RouteError).kind === 'config' &&
      /switchyard\/fast/.test(e.message) &&
      /switchyard\.aliases/.test(e.message),
  );
  // A settings change applies to the next request without a restart.
  const next = parseConfig({
    ...Object.fromEntries([]),
    'switchyard.providers': [
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
    ],
    'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] },
    'switchyard.privacy': 'allow',
  });
  sy.setConfig(next.config);
  assert.equal((await collect(sy.router.chat({ task: 'switchyard/chat', messages: hello }))).route?.providerId, 'openai');
});

test('"auto" uses models found on local servers: a chat model for chat, an embedding model for embed', async () => {
  const { sy } = setup({ chat: ['auto'] });
  const plan = await sy.router.plan('chat', { probe: true });
  assert.equal(plan.candidate?.providerId, 'local');
  assert.equal(plan.candidate?.model, 'qwen2.5-coder:7b');
  const embedPlan = await sy.router.plan('embed', { probe: true });
  assert.equal(embedPlan.candidate?.model, 'nomic-embed-text:latest');
});

test('a model that discovery says is missing is skipped with that reason', async () => {
  const { sy } = setup({ chat: ['local/not-pulled:1b', 'local/qwen2.5-coder:7b'] });
  const plan = await sy.router.plan('chat', { probe: true });
  assert.equal(plan.candidate?.model, 'qwen2.5-coder:7b');
  assert.equal(plan.skipped[0].kind, 'modelMissing');
});

test('no API key reaches logs, errors, route events or usage records', async () => {
  cloud.setBehaviour({ mode: 'error', status: 401 });
  const logs: string[] = [];
  const { sy, usage } = setup({ chat: ['openai/gpt-4.1-mini'], logs });
  let error: unknown;
  try {
    await collect(sy.router.chat({ task: 'chat', messages: hello }));
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof RouteError);
  assert.equal(error.kind, 'auth');
  const seen = [
    error.message,
    JSON.stringify(error.attempts),
    String((error as Error).stack),
    JSON.stringify(usage.records),
    logs.join('\n'),
    String((error.cause as Error)?.message),
  ].join('\n');
  assert.ok(!seen.includes(KEY), 'the key leaked');
  assert.ok(!seen.includes('0123456789abcdef'), 'part of the key leaked');
  assert.ok(
    cloud.requests.some((r) => r.headers.authorization === `Bearer ${KEY}`),
    'the key was sent to the server itself',
  );
});

test('embed: vectors from the first candidate that can, named by model; fallback and privacy as for chat', async () => {
  const { sy, usage } = setup();
  sy.setConfig(
    parseConfig({
      'switchyard.providers': [
        { id: 'down', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
        { id: 'local', kind: 'ollama', baseUrl: ollama.url },
        { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
      ],
      'switchyard.tasks': { embed: ['down/nomic-embed-text', 'local/nomic-embed-text:latest', 'openai/text-embedding-3-small'] },
      'switchyard.privacy': 'allow',
    }).config,
  );
  const r = await sy.router.embed({ input: ['parse http header', 'def parse_http_header():'] });
  assert.equal(r.vectors.length, 2);
  assert.equal(r.providerId, 'local');
  assert.equal(r.model, 'nomic-embed-text:latest');
  assert.equal(r.route.attempts[0].kind, 'unreachable');
  assert.equal(usage.records.at(-1)?.outcome, 'ok');

  ollama.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/embed');
  const c = await sy.router.embed({ input: ['x'] });
  assert.equal(c.providerId, 'openai');
  assert.equal(cloud.counts['POST /v1/embeddings'], 1);

  sy.setConfig({ ...sy.config, privacy: 'local-only' });
  sy.router.health.clear();
  await assert.rejects(
    sy.router.embed({ input: ['x'] }),
    (e: unknown) => e instanceof RouteError && e.attempts.some((a) => a.kind === 'policy'),
  );
  assert.equal(cloud.counts['POST /v1/embeddings'], 1, 'no more cloud requests under local-only');
});

test('embed: a hung embedding server times out and the next candidate answers', async () => {
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/embed');
  const { sy } = setup();
  sy.setConfig(
    parseConfig({
      'switchyard.providers': [
        { id: 'local', kind: 'ollama', baseUrl: ollama.url },
        { id: 'cloudy', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
      ],
      'switchyard.tasks': { embed: ['local/nomic-embed-text:latest', 'cloudy/text-embedding-3-small'] },
      'switchyard.privacy': 'allow',
    }).config,
  );
  const r = await sy.router.embed({ input: ['x'], timeoutMs: 300 });
  assert.equal(r.route.attempts[0].kind, 'timeout');
  assert.equal(r.providerId, 'cloudy');
});
