// End to end: state that follows reality (issue 18). A local model server started after VS Code is used by the next
// chat, without a reload: the first chat finds no model; the test server then starts on the provider's port; the next
// chat is answered by it, and the status bar shows its model.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, repoRoot, t, waitFor, type VSCode } from './harness';
import { closedPort, scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { openChat, sendChat } from './webviews';

let vs: VSCode;
let late: FixtureServer | undefined;
let port: number;

before(async () => {
  port = await closedPort();
  vs = await launchVSCode({
    workspace: path.join(repoRoot, 'samples', 'workspace'),
    settings: {
      'switchyard.providers': [{ id: 'late', kind: 'ollama', baseUrl: `http://127.0.0.1:${port}` }],
      'switchyard.tasks': { chat: ['auto'], embed: [] },
      'switchyard.privacy': 'local-only',
      'switchyard.index.enabled': false,
      // A long cool-down: the server must be found anyway, not after the cool-down ends.
      'switchyard.routing.cooldownMs': 60_000,
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await late?.close();
});

const settled = async (turn: Awaited<ReturnType<typeof sendChat>>) =>
  waitFor(
    'the turn to settle',
    async () => {
      const s = await turn.getAttribute('data-status');
      return s && s !== 'streaming' ? s : undefined;
    },
    t(40_000),
    100,
  );

test('a local server started after VS Code answers the next chat, with no reload', { timeout: t(180_000) }, async () => {
  try {
    const chat = await openChat(vs);
    const first = await sendChat(chat, 'Is anyone there?');
    assert.equal(await settled(first), 'error', 'nothing is listening yet');

    late = await startOllamaServer({ backend: scriptedBackend({ tokens: ['Late', ' but', ' here', '.'] }), port });
    // The next chat finds it: the refusal is older than a few seconds, so it is not taken as "no model" again.
    const second = await sendChat(chat, 'And now?');
    assert.equal(await settled(second), 'done');
    assert.equal((await second.locator('.markdown').innerText()).trim(), 'Late but here.');
    assert.ok((late.counts['POST /api/chat'] ?? 0) >= 1);
    // The status bar looks again on its own (back-off from 5 s up to 60 s) and shows the model.
    await waitFor(
      "the status bar to show the late server's model",
      async () => ((await vs.page.locator('.statusbar-item', { hasText: 'qwen2.5-coder:7b' }).count()) > 0 ? true : undefined),
      t(90_000),
      250,
    );
  } catch (e) {
    await vs.screenshot('live-late-server-failure').catch(() => {});
    throw e;
  }
});
