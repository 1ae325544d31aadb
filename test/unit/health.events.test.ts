// The router's health is the one source of truth for what shows a route (the status bar, the chat's header, the
// index's note): HealthCache.onChange reports each turn of a provider's health, once, never every request that
// confirms it. Against the router and real servers: a request refused by a server that went down reports it failed;
// the same server back on its port, probed, reports it healthy again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/config';
import { HealthCache, type HealthState } from '../../src/core/routing/health';
import { Switchyard } from '../../src/core/switchyard';
import { scriptedBackend, startOllamaServer } from '../fixtures';

const clock = { now: () => 1000 };

test('onChange: healthy → failed → healthy once each; repeated failures and successes say nothing; clear forgets', () => {
  const health = new HealthCache(1000, clock);
  const seen: string[] = [];
  const sub = health.onChange((id, s) =>
    seen.push(`${id}:${s === undefined ? 'forgotten' : s.healthy ? 'healthy' : `failed ${s.lastKind}`}`),
  );
  health.markHealthy('box');
  health.markHealthy('box');
  health.markFailed('box', 'unreachable', 'refused');
  health.markFailed('box', 'unreachable', 'refused again');
  health.markFailed('cloud', 'rateLimited', '429');
  health.markHealthy('box');
  health.clear();
  assert.deepEqual(seen, [
    'box:healthy',
    'box:failed unreachable',
    'cloud:failed rateLimited',
    'box:healthy',
    'box:forgotten',
    'cloud:forgotten',
  ]);
  sub.dispose();
  health.markFailed('box', 'unreachable', 'refused');
  assert.equal(seen.length, 6, 'nothing after dispose');
});

test('a listener that throws does not break routing or the other listeners', () => {
  const health = new HealthCache(1000, clock);
  const seen: string[] = [];
  health.onChange(() => {
    throw new Error('listener bug');
  });
  health.onChange((id) => seen.push(id));
  health.markFailed('box', 'unreachable', 'refused');
  assert.deepEqual(seen, ['box']);
  assert.equal(health.get('box')?.healthy, false);
});

test(
  'a server going down and coming back on the same port: the failed request and the probe report each turn',
  { timeout: 20_000 },
  async () => {
    let server = await startOllamaServer({ backend: scriptedBackend({ tokens: ['up'] }) });
    const port = Number(new URL(server.url).port);
    const { config, problems } = parseConfig({
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: server.url }],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'] },
      'switchyard.privacy': 'local-only',
    });
    assert.deepEqual(problems, []);
    const sy = new Switchyard({
      config,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    });
    const turns: (HealthState | undefined)[] = [];
    sy.router.health.onChange((id, s) => {
      assert.equal(id, 'box');
      turns.push(s);
    });
    const ask = async () => {
      let text = '';
      for await (const ev of sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }))
        if (ev.type === 'text') text += ev.text;
      return text;
    };
    try {
      assert.equal(await ask(), 'up');
      assert.deepEqual(
        turns.map((s) => s?.healthy),
        [true],
      );
      assert.equal(await ask(), 'up');
      assert.equal(turns.length, 1, 'a second answer confirms, it does not turn');

      await server.close();
      await assert.rejects(ask);
      assert.deepEqual(
        turns.map((s) => s?.healthy),
        [true, false],
      );
      assert.equal(turns[1]?.lastKind, 'unreachable');
      assert.equal(await sy.router.probe('box'), false);
      assert.equal(turns.length, 2, 'still down: nothing new');

      server = await startOllamaServer({ backend: scriptedBackend({ tokens: ['back'] }), port });
      assert.equal(await sy.router.probe('box'), true);
      assert.deepEqual(
        turns.map((s) => s?.healthy),
        [true, false, true],
      );
      assert.equal(await ask(), 'back');
    } finally {
      sy.dispose();
      await server.close();
    }
  },
);
