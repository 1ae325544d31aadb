// End to end: the packaged extension in code-server routes against the local test servers. "Switchyard: Show
// Routes" lists each task's route; under local-only the cloud test server sees no request at all, not even a probe.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, repoRoot, t, waitFor } from './harness';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

let ollama: FixtureServer;
let cloud: FixtureServer;
let refused: number;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  cloud = await startOpenAIServer({ backend: scriptedBackend() });
  refused = await closedPort();
});
after(async () => {
  await ollama?.close();
  await cloud?.close();
});

test(
  "Show Routes lists every task's route from the test servers; local-only sends nothing to the cloud",
  { timeout: t(180_000) },
  async () => {
    const vs = await launchVSCode({
      workspace: path.join(repoRoot, 'samples', 'workspace'),
      settings: {
        'switchyard.providers': [
          { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
          { id: 'box', kind: 'ollama', baseUrl: ollama.url },
          { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
        ],
        'switchyard.tasks': {
          chat: ['gone/qwen2.5-coder:7b', 'box/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'],
          embed: ['cloud/text-embedding-3-small', 'box/nomic-embed-text:latest'],
        },
        'switchyard.privacy': 'local-only',
      },
    });
    try {
      await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
      // The status bar shows the chat route once the probes have run.
      await waitFor(
        'the status bar to show the chat model',
        async () => (await vs.page.locator('.statusbar-item', { hasText: 'qwen2.5-coder:7b' }).count()) > 0,
        t(30_000),
      );

      await vs.runCommand('Switchyard: Show Routes');
      const rows = vs.page.locator('.quick-input-widget .monaco-list-row');
      const texts = await waitFor(
        'the routes quick pick',
        async () => {
          const all = await rows.allInnerTexts();
          return all.length >= 6 ? all.map((t) => t.replace(/\s+/g, ' ')) : undefined;
        },
        t(30_000),
      );
      await vs.screenshot('show-routes');
      const chat = texts.find((t) => /^\s*chat/.test(t));
      assert.ok(chat, `no chat row in ${JSON.stringify(texts)}`);
      assert.match(chat, /box\/qwen2\.5-coder:7b \(local\)/);
      assert.match(chat, /gone\/qwen2\.5-coder:7b/, 'the refused server is listed as skipped');
      assert.match(chat, /local-only/, 'the cloud candidate is skipped by policy');
      const embed = texts.find((t) => /^\s*embed/.test(t));
      assert.match(embed ?? '', /box\/nomic-embed-text:latest \(local\)/);

      const log = await vs.outputChannelText('Switchyard');
      assert.match(log, /route chat: box\/qwen2\.5-coder:7b \(local\)/);
      assert.ok(ollama.counts['GET /api/version'] > 0 || ollama.counts['GET /api/tags'] > 0, 'the extension probed the local test server');
      assert.equal(cloud.counts.total ?? 0, 0, 'local-only: not one request reached the cloud test server');
    } catch (e) {
      await vs.screenshot('show-routes-failure').catch(() => {});
      throw e;
    } finally {
      await vs.close();
    }
  },
);
