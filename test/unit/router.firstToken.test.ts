/**
 * One first-token timeout: switchyard.routing.firstTokenTimeoutMs governs a routed chat, whatever the provider's own
 * default (DEFAULT_FIRST_TOKEN_TIMEOUT_MS, for providers used without the router). Providers here are built with a
 * short default of their own (300 ms) standing in for the fixed 120 s: before the router passed its setting down,
 * that timer fired first, and a server slower than it but well within the setting was cut off and fallen back from.
 * The same holds for embeddings: the router's per-candidate limit (default: the setting) replaces the provider's
 * request timeout (120 s).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { createProvider } from '../../src/core/providers/index';
import { silentLogger } from '../../src/core/host';
import { isProviderError } from '../../src/core/errors';
import { RouteError, type RoutedChatEvent } from '../../src/core/routing/router';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const PROVIDER_DEFAULT_MS = 300;
const SLOW_MS = 700;
/** The smallest setting the schema takes is 100 ms. */
const SHORT_SETTING_MS = 120;

let ollama: FixtureServer;
let openai: FixtureServer;
let cloud: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ tokens: ['Local', '.'] }) });
  openai = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Server', '.'] }) });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', '.'] }) });
});
after(async () => {
  await Promise.all([ollama.close(), openai.close(), cloud.close()]);
});
beforeEach(() => {
  for (const s of [ollama, openai, cloud]) s.reset();
});

const secrets = { getApiKey: async () => undefined };

function switchyard(chat: string[], firstTokenTimeoutMs: number, more: { embed?: string[]; complete?: string[] } = {}): Switchyard {
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'lan', kind: 'openai-compatible', baseUrl: `${openai.url}/v1`, local: true },
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
    ],
    'switchyard.tasks': { chat, embed: more.embed ?? [], complete: more.complete ?? [] },
    'switchyard.privacy': 'allow',
    'switchyard.routing.firstTokenTimeoutMs': firstTokenTimeoutMs,
  });
  assert.deepEqual(problems, []);
  return new Switchyard({
    config,
    secrets,
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage: new MemoryLedger(),
    createProvider: (c) =>
      createProvider(
        c,
        { secrets, logger: silentLogger },
        { firstTokenTimeoutMs: PROVIDER_DEFAULT_MS, requestTimeoutMs: PROVIDER_DEFAULT_MS },
      ),
  });
}

async function collect(events: AsyncIterable<RoutedChatEvent>) {
  const out = { text: '', route: undefined as Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined };
  for await (const ev of events) {
    if (ev.type === 'text') out.text += ev.text;
    else if (ev.type === 'route') out.route = ev.route;
  }
  return out;
}

const question = [{ role: 'user' as const, content: 'Hello?' }];

for (const [name, server, model, route] of [
  ['Ollama', () => ollama, 'box/qwen2.5-coder:7b', 'POST /api/chat'],
  ['an OpenAI-compatible server (its client has a timeout of its own)', () => openai, 'lan/gpt-4.1-mini', 'POST /v1/chat/completions'],
] as const) {
  test(`${name}: a first token slower than the provider's default but within the setting is waited for`, async () => {
    server().setBehaviour({ mode: 'slow', delayMs: SLOW_MS }, route);
    const sy = switchyard([model, 'cloud/gpt-4.1-mini'], 10_000);
    const out = await collect(sy.router.chat({ task: 'chat', messages: question }));
    assert.equal(`${out.route?.providerId}/${out.route?.model}`, model, `no fallback: ${JSON.stringify(out.route?.attempts)}`);
    assert.equal(out.route?.fallback, false);
    assert.equal(cloud.counts['POST /v1/chat/completions'] ?? 0, 0, 'the cloud was never asked');
  });

  test(`${name}: a setting below the provider's default is the timeout that fires`, async () => {
    server().setBehaviour({ mode: 'hang' }, route);
    const sy = switchyard([model], SHORT_SETTING_MS);
    await assert.rejects(collect(sy.router.chat({ task: 'chat', messages: question })), (e: unknown) => {
      assert.ok(e instanceof RouteError);
      assert.equal(e.attempts[0]?.kind, 'timeout');
      assert.equal(e.attempts[0]?.reason, `no first token within ${SHORT_SETTING_MS} ms`);
      return true;
    });
  });
}

test("a provider used without the router keeps its own default; a request's timeout replaces it, and its message says which", async () => {
  ollama.setBehaviour({ mode: 'hang' }, 'POST /api/chat');
  const box = (firstTokenTimeoutMs: number) =>
    createProvider(
      { id: 'box', kind: 'ollama', baseUrl: ollama.url, local: true },
      { secrets, logger: silentLogger },
      { firstTokenTimeoutMs },
    );
  const drain = async (provider: ReturnType<typeof box>, firstTokenTimeoutMs?: number) => {
    for await (const _ of provider.chat({ model: 'qwen2.5-coder:7b', messages: question, firstTokenTimeoutMs })) void _;
  };
  const timedOutAfter = (ms: number) => (e: unknown) =>
    isProviderError(e) && e.kind === 'timeout' && e.message.includes(`no answer within ${ms} ms`);
  await assert.rejects(drain(box(60_000), SHORT_SETTING_MS), timedOutAfter(SHORT_SETTING_MS));
  await assert.rejects(drain(box(PROVIDER_DEFAULT_MS)), timedOutAfter(PROVIDER_DEFAULT_MS));
});

for (const [name, server, model, route] of [
  ['Ollama', () => ollama, 'box/nomic-embed-text:latest', 'POST /api/embed'],
  ['an OpenAI-compatible server', () => openai, 'lan/text-embedding-3-small', 'POST /v1/embeddings'],
] as const) {
  test(`${name}: embeddings slower than the provider's request limit but within the router's are waited for`, async () => {
    server().setBehaviour({ mode: 'slow', delayMs: SLOW_MS }, route);
    const sy = switchyard(['box/qwen2.5-coder:7b'], 10_000, { embed: [model] });
    const result = await sy.router.embed({ input: ['one', 'two'] });
    assert.equal(`${result.providerId}/${result.model}`, model, `no failure: ${JSON.stringify(result.route.attempts)}`);
    assert.equal(result.vectors.length, 2);
  });
}

test("a completion slower than the provider's request limit but within the router's is waited for", async () => {
  ollama.setBehaviour({ mode: 'slow', delayMs: SLOW_MS }, 'POST /api/generate');
  const sy = switchyard(['box/qwen2.5-coder:7b'], 10_000, { complete: ['box/qwen2.5-coder:7b'] });
  const result = await sy.router.complete({ prompt: (choice) => ({ mode: choice.mode, prompt: 'x', suffix: 'y' }) });
  assert.equal(`${result.providerId}/${result.model}`, 'box/qwen2.5-coder:7b', `no failure: ${JSON.stringify(result.route.attempts)}`);
});
