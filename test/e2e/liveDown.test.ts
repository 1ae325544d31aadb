// End to end: every display follows the server actually there (issue 18). With one local Ollama server serving chat
// and embeddings, the chat's header, the status bar and the composer's note (the index's state) show it; the server
// goes down: a chat fails and the header and the status bar say no model, an edited file cannot be embedded and the
// note says embeddings are paused; the server comes back on the same port: with nothing done in the window, all three
// follow it again and the edited file gets its embedding. No reload, no Refresh command, no window focus change.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame, Locator } from 'playwright-core';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { openChat, sendChat, webviewFrame } from './webviews';

let vs: VSCode;
let server: FixtureServer;
let port: number;
let workspace: string;

const backend = () => scriptedBackend({ tokens: ['Here', ' I', ' am', '.'] });

before(async () => {
  server = await startOllamaServer({ backend: backend() });
  port = server.port;
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-live-down-'));
  fs.writeFileSync(path.join(workspace, 'math.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
  fs.writeFileSync(path.join(workspace, 'strings.ts'), 'export function shout(s: string): string {\n  return s.toUpperCase();\n}\n');
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: server.url }],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'], embed: ['box/nomic-embed-text'] },
      'switchyard.privacy': 'local-only',
      'switchyard.index.enabled': true,
      // A long cool-down: what follows the server back is the displays' own looking, not a cool-down running out.
      'switchyard.routing.cooldownMs': 60_000,
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await server?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

const settled = (turn: Locator) =>
  waitFor(
    'the turn to settle',
    async () => {
      const s = await turn.getAttribute('data-status');
      return s && s !== 'streaming' ? s : undefined;
    },
    t(40_000),
    100,
  );

const header = (chat: Frame) =>
  chat
    .locator('.toolbar .route')
    .innerText()
    .then((s) => s.trim());
const note = (chat: Frame) =>
  chat
    .locator('#index-note')
    .textContent()
    .then((s) => (s ?? '').trim());
// The route's item (its id ends in the one the extension gave it), not the inline completions' item, which names a model too.
const statusBar = (text: string | RegExp) => vs.page.locator('.statusbar-item[id$="switchyard.route"]', { hasText: text });

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  await waitFor(what, async () => ((await check()) ? true : undefined), ms, 200);
}

test(
  'the chat header, the status bar and the composer note follow a local server going down and coming back',
  { timeout: t(300_000) },
  async () => {
    let chat: Frame | undefined;
    try {
      chat = await openChat(vs);
      const c = chat;
      // Up: the server answers chat and has embedded the workspace.
      await until("the header to name the server's model", async () => (await header(c)) === 'box/qwen2.5-coder:7b (local)', t(30_000));
      await until('the status bar to show the model', async () => (await statusBar('qwen2.5-coder:7b').count()) > 0, t(30_000));
      await until('the index to embed the workspace', async () => (server.counts['POST /api/embed'] ?? 0) > 0, t(60_000));
      // Built and embedded: the note "No workspace index yet" is gone without a reload (and says nothing is wrong).
      await until('the composer note to follow the built index', async () => (await note(c)) === '', t(30_000));
      const first = await sendChat(c, 'Are you there?');
      assert.equal(await settled(first), 'done');
      // The settings panel, open beside the chat, shows each task's route: it follows the server too.
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const panelRoute = () =>
        panel
          .locator('section[data-task="chat"] .route-answer')
          .innerText()
          .then((s) => s.trim())
          .catch(() => '');
      await until(
        'the settings panel to show the chat route',
        async () => (await panelRoute()) === 'box/qwen2.5-coder:7b (local)',
        t(30_000),
      );
      await vs.screenshot('live-down-1-up');

      // Down.
      await server.close();
      const failed = await sendChat(c, 'Still there?');
      assert.equal(await settled(failed), 'error');
      await until('the header to say no model', async () => (await header(c)) === 'no model available', t(20_000));
      await until('the status bar to say no model', async () => (await statusBar('Switchyard: no model').count()) > 0, t(20_000));
      assert.equal(await statusBar('qwen2.5-coder:7b').count(), 0, 'the status bar no longer names the model');
      await until('the settings panel to say no model for chat', async () => (await panelRoute()) === 'no model available', t(20_000));
      // An edited file cannot be embedded: the note says so.
      fs.writeFileSync(path.join(workspace, 'late.ts'), 'export function halve(n: number): number {\n  return n / 2;\n}\n');
      await until('the composer note to say embeddings are paused', async () => /^embeddings paused: .*box/.test(await note(c)), t(60_000));
      await vs.screenshot('live-down-2-down');

      // Back, on the same port (a new server: its request counts start at 0). Nothing is done in the window from here on.
      server = await startOllamaServer({ backend: backend(), port });
      await until('the status bar to show the model again', async () => (await statusBar('qwen2.5-coder:7b').count()) > 0, t(120_000));
      await until('the header to name the model again', async () => (await header(c)) === 'box/qwen2.5-coder:7b (local)', t(20_000));
      await until(
        'the settings panel to name the model again',
        async () => (await panelRoute()) === 'box/qwen2.5-coder:7b (local)',
        t(20_000),
      );
      await until(
        'the composer note to clear as the edited file is embedded',
        async () => (await note(c)) === '' && (server.counts['POST /api/embed'] ?? 0) > 0,
        t(60_000),
      );
      assert.equal(await statusBar('Switchyard: no model').count(), 0);
      await vs.screenshot('live-down-3-back');
      const again = await sendChat(c, 'And now?');
      assert.equal(await settled(again), 'done');
      assert.equal((await again.locator('.markdown').innerText()).trim(), 'Here I am.');
    } catch (e) {
      await vs.screenshot('live-down-failure').catch(() => {});
      if (chat) process.stderr.write(`header: ${await header(chat).catch(() => '?')}; note: ${await note(chat).catch(() => '?')}\n`);
      const items = await vs.page
        .locator('.statusbar-item')
        .evaluateAll((els) => els.map((e) => `${e.id}: ${(e as unknown as { innerText: string }).innerText.trim()}`))
        .catch(() => []);
      process.stderr.write(`status bar: ${JSON.stringify(items)}\n`);
      process.stderr.write(`${(await vs.outputChannelText('Switchyard')).split('\n').slice(-25).join('\n')}\n`);
      throw e;
    }
  },
);
