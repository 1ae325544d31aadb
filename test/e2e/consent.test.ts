// End to end: privacy "ask" in the real VS Code. The first cloud request of a workspace shows a modal saying what
// would go where; its default (Enter) is "Stay Local"; "Stay Local" sends nothing, "Allow Once" asks again next time, "Always for This Workspace" stops
// asking. The cloud test server's request count proves what left the machine.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame, Locator } from 'playwright-core';
import { launchVSCode, repoRoot, t, waitFor, type VSCode } from './harness';
import { closedPort, scriptedBackend, startOpenAIServer, type FixtureServer } from '../fixtures';
import { openChat, sendChat } from './webviews';

let cloud: FixtureServer;
let vs: VSCode;
let chat: Frame;

before(async () => {
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', ' answer', '.'] }) });
  const refused = await closedPort();
  vs = await launchVSCode({
    workspace: path.join(repoRoot, 'samples', 'workspace'),
    settings: {
      'switchyard.providers': [
        { id: 'box', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
        { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
      ],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'] },
      'switchyard.privacy': 'ask',
      'switchyard.routing.cooldownMs': 0,
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
  chat = await openChat(vs);
});
after(async () => {
  await vs?.close();
  await cloud?.close();
});

/** The workbench's modal dialog asking about cloud use, once it shows. */
async function consentDialog(): Promise<Locator> {
  const dialog = vs.page.locator('.monaco-dialog-box', { hasText: 'Send this chat request to cloud/gpt-4.1-mini' });
  await dialog.waitFor({ state: 'visible', timeout: t(30_000) });
  return dialog;
}

async function choose(dialog: Locator, label: string): Promise<void> {
  await dialog.locator('.dialog-buttons .monaco-button', { hasText: label }).first().click();
  await dialog.waitFor({ state: 'hidden', timeout: t(10_000) });
}

const settled = (turn: Locator) =>
  waitFor(
    'the turn to settle',
    async () =>
      (await turn.getAttribute('data-status')) !== 'streaming' && (await turn.getAttribute('data-status')) !== null
        ? await turn.getAttribute('data-status')
        : undefined,
    t(40_000),
    100,
  );

test("ask: the modal's default (Enter) is Stay Local: the cloud test server receives nothing", { timeout: t(120_000) }, async () => {
  try {
    const turn = await sendChat(chat, 'a question answered by pressing Enter');
    const dialog = await consentDialog();
    // The default button is the one the dialog focuses (and draws as the primary one): Stay Local. (Where it sits in
    // the row depends on the platform: last on Linux.)
    const focused = dialog.locator('.dialog-buttons .monaco-button:focus');
    await focused.waitFor({ timeout: t(5_000) });
    const label = (await focused.innerText()).trim();
    await vs.screenshot('consent-modal-default');
    await vs.page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden', timeout: t(10_000) });
    const status = await settled(turn);
    assert.equal(
      cloud.counts.total ?? 0,
      0,
      `Enter: nothing reached the cloud (${JSON.stringify(cloud.requests.map((r) => r.method + ' ' + r.path))})`,
    );
    assert.equal(status, 'error');
    assert.match(await turn.innerText(), /stay local/i);
    assert.equal(label, 'Stay Local', 'the focused (default) button');
  } catch (e) {
    await vs.screenshot('consent-enter-failure').catch(() => {});
    throw e;
  }
});

test(
  'ask: a modal before cloud use; Stay Local sends nothing, Allow Once asks again, Always stops asking',
  { timeout: t(240_000) },
  async () => {
    try {
      // Stay Local: the request stays here and fails with a reason; the cloud server sees nothing.
      const stayed = await sendChat(chat, 'first question');
      const dialog = await consentDialog();
      assert.match(await dialog.innerText(), /sent to cloud/);
      await vs.screenshot('consent-modal');
      await choose(dialog, 'Stay Local');
      assert.notEqual(await settled(stayed), 'done');
      assert.match(await stayed.innerText(), /stay local/i);
      assert.equal(
        cloud.counts.total ?? 0,
        0,
        `Stay Local: nothing reached the cloud (${JSON.stringify(cloud.requests.map((r) => r.method + ' ' + r.path))})`,
      );

      // Allow Once: this request goes to the cloud; the next one asks again.
      const once = await sendChat(chat, 'second question');
      await choose(await consentDialog(), 'Allow Once');
      assert.equal(await settled(once), 'done');
      assert.equal((await once.locator('.markdown').innerText()).trim(), 'Cloud answer.');
      assert.equal(cloud.counts['POST /v1/chat/completions'], 1);

      // Always for This Workspace: asked once more, then never again in this workspace.
      const always = await sendChat(chat, 'third question');
      await choose(await consentDialog(), 'Always for This Workspace');
      assert.equal(await settled(always), 'done');
      const quiet = await sendChat(chat, 'fourth question');
      assert.equal(await settled(quiet), 'done');
      assert.equal(await vs.page.locator('.monaco-dialog-box').count(), 0, 'no modal after "Always"');
      assert.equal(cloud.counts['POST /v1/chat/completions'], 3);
    } catch (e) {
      await vs.screenshot('consent-failure').catch(() => {});
      throw e;
    }
  },
);
