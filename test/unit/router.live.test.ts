/**
 * State that follows reality: a local server started after Switchyard (Ollama opened a minute after VS Code) is
 * found by the next request, however long the cool-down its first refusal earned; "no model" never rests on a
 * negative older than a few seconds. Real provider, real `ollama` client, a test server that starts late.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { ProviderRegistry } from '../../src/core/routing/registry';
import { Router, RouteError, STALE_NEGATIVE_MS } from '../../src/core/routing/router';
import { privacyContext } from '../../src/core/routing/privacy';
import { closedPort, scriptedBackend, startOllamaServer } from '../fixtures';

/** A chat request through `router`: the model that answered (rejects as the router does). */
const asker = (router: Router) => async () => {
  let model = '';
  for await (const ev of router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }))
    if (ev.type === 'route') model = ev.route.model;
  return model;
};

test('a local server that starts after the first "no model" answers the next request, without waiting out the cool-down', async () => {
  const port = await closedPort();
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'late', kind: 'ollama', baseUrl: `http://127.0.0.1:${port}` }],
    'switchyard.tasks': { chat: ['auto'] },
    'switchyard.routing.cooldownMs': 60_000,
  });
  let now = 1_000_000;
  const clock = { now: () => now };
  const registry = new ProviderRegistry({ secrets: { getApiKey: async () => undefined } });
  registry.update(config);
  const router = new Router({ config: () => config, providers: registry, privacy: () => privacyContext(config), clock });
  const ask = asker(router);

  await assert.rejects(ask(), (e: unknown) => e instanceof RouteError && e.kind === 'config');
  assert.ok(router.health.coolingFor('late') > 0, 'the refusal cooled the provider down');
  const server = await startOllamaServer({ backend: scriptedBackend(), port });
  try {
    // A plan (the status bar) trusts the refusal for a few seconds, not for the whole cool-down...
    now += STALE_NEGATIVE_MS / 2;
    assert.equal((await router.plan('chat')).candidate, null);
    now += STALE_NEGATIVE_MS;
    assert.equal((await router.plan('chat')).candidate?.model, 'qwen2.5-coder:7b', 'a plan after the window looks again');
  } finally {
    await server.close();
  }
});

test('a request never fails with "no model" on a refusal it did not see: it asks a loopback server again at once', async () => {
  const port = await closedPort();
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'late', kind: 'ollama', baseUrl: `http://127.0.0.1:${port}` }],
    'switchyard.tasks': { chat: ['auto'] },
    'switchyard.routing.cooldownMs': 60_000,
  });
  const now = 1_000_000;
  const registry = new ProviderRegistry({ secrets: { getApiKey: async () => undefined } });
  registry.update(config);
  const router = new Router({
    config: () => config,
    providers: registry,
    privacy: () => privacyContext(config),
    clock: { now: () => now },
  });
  const ask = asker(router);
  await assert.rejects(ask(), (e: unknown) => e instanceof RouteError && e.kind === 'config');
  const server = await startOllamaServer({ backend: scriptedBackend(), port });
  try {
    // The same instant (no time has passed): the request asks again and the server answers, cool-down or not.
    assert.ok(router.health.coolingFor('late') > 30_000);
    assert.equal(await ask(), 'qwen2.5-coder:7b');
    assert.equal(router.health.coolingFor('late'), 0, 'the answer cleared the cool-down');
  } finally {
    await server.close();
  }
});

for (const setting of ['auto', 'box/qwen2.5-coder:7b']) {
  test(`a model pulled outside Switchyard (ollama pull in a terminal) answers within a few seconds: no "no model" from an older model list (chat: ${setting})`, async () => {
    // Ollama is up with only an embedding model; the chat model is pulled behind Switchyard's back.
    const server = await startOllamaServer({
      backend: scriptedBackend(),
      models: [{ name: 'nomic-embed-text:latest', embedding: true }],
      pullable: ['qwen2.5-coder:7b'],
    });
    try {
      const { config } = parseConfig({
        'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: server.url }],
        'switchyard.tasks': { chat: [setting] },
      });
      let now = 1_000_000;
      const clock = { now: () => now };
      // Discovery is trusted for a minute when it found what was asked for: the same clock times it.
      const registry = new ProviderRegistry({ secrets: { getApiKey: async () => undefined }, clock, discoveryTtlMs: 60_000 });
      registry.update(config);
      const router = new Router({ config: () => config, providers: registry, privacy: () => privacyContext(config), clock });
      const ask = asker(router);
      await assert.rejects(ask(), (e: unknown) => e instanceof RouteError);
      assert.equal((await router.plan('chat')).candidate, null);
      const pulled = await fetch(`${server.url}/api/pull`, {
        method: 'POST',
        body: JSON.stringify({ model: 'qwen2.5-coder:7b', stream: false }),
      });
      assert.equal(pulled.status, 200);
      // Within the window the list is trusted (no request per keystroke of the status bar)...
      now += STALE_NEGATIVE_MS / 2;
      assert.equal((await router.plan('chat')).candidate, null);
      // ...after it, a plan (the status bar's back-off, window focus) and a request look again.
      now += STALE_NEGATIVE_MS;
      assert.equal((await router.plan('chat')).candidate?.model, 'qwen2.5-coder:7b', 'a plan sees the pulled model');
      now += STALE_NEGATIVE_MS * 2;
      assert.equal(await ask(), 'qwen2.5-coder:7b', 'the next chat is answered by it');
      // A list that has the model is trusted for its whole TTL: no discovery per request.
      const tags = () => server.requests.filter((r) => r.path === '/api/tags').length;
      const before = tags();
      now += STALE_NEGATIVE_MS * 2;
      await ask();
      assert.equal(tags(), before, 'a positive list is not asked for again');
    } finally {
      await server.close();
    }
  });
}

test('virtual model names are looked up as own aliases only (request data never reaches Object.prototype)', async () => {
  const { resolveTaskName } = await import('../../src/core/routing/router');
  for (const name of ['switchyard/constructor', 'switchyard/__proto__', 'switchyard/toString', 'hasOwnProperty'])
    assert.equal(resolveTaskName(name, {}), undefined, name);
  assert.equal(resolveTaskName('switchyard/fast', { fast: 'chat' }), 'chat');
});
