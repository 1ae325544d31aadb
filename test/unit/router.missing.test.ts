// A task naming a model the local server does not have: the skip says so and, where the server lists a close one
// (a missing tag, a typo), "did you mean" it (issue 18: a "did you mean" for a close model name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { ProviderRegistry } from '../../src/core/routing/registry';
import { Router, RouteError } from '../../src/core/routing/router';
import { privacyContext } from '../../src/core/routing/privacy';
import { scriptedBackend, startOllamaServer } from '../fixtures';

test('a model the server lacks: "did you mean" the one it lists with another tag or a letter away; none for an unrelated name', async () => {
  const server = await startOllamaServer({ backend: scriptedBackend() });
  try {
    for (const [named, hint] of [
      ['qwen2.5-coder:7', 'did you mean "box/qwen2.5-coder:7b"?'],
      ['qwen2.5-coder', 'did you mean "box/qwen2.5-coder:7b"?'],
      ['Qwen2.5-Coder:7B', 'did you mean "box/qwen2.5-coder:7b"?'],
      ['llama3.1:8b', undefined],
    ] as const) {
      const { config } = parseConfig({
        'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: server.url }],
        'switchyard.tasks': { chat: [`box/${named}`] },
      });
      const registry = new ProviderRegistry({ secrets: { getApiKey: async () => undefined } });
      registry.update(config);
      const router = new Router({ config: () => config, providers: registry, privacy: () => privacyContext(config) });
      const plan = await router.plan('chat');
      const reason = plan.skipped[0]?.reason ?? '';
      assert.match(reason, new RegExp(`model "${named.replace(/\./g, '\\.')}" is not on box`), named);
      if (hint) assert.ok(reason.endsWith(hint), `${named}: ${reason}`);
      else assert.doesNotMatch(reason, /did you mean/, named);
      // The request's error carries the same words.
      const chat = async () => {
        for await (const _ of router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] })) void _;
      };
      await assert.rejects(
        chat(),
        (e: unknown) => e instanceof RouteError && (hint ? e.message.includes(hint) : !/did you mean/.test(e.message)),
      );
    }
  } finally {
    await server.close();
  }
});
