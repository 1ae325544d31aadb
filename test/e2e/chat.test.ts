// End to end: the chat view, Explain Selection, the settings panel and their screenshots, in code-server driven by
// headless Chromium against the local test servers (the "Must show"). One code-server launch serves every
// check here (a launch costs ~20 s); the steps run in order and each leaves the settings as the next expects.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer, type Backend, type FixtureServer } from '../fixtures';
import { findOllamaExecutable } from '../../src/core/models/ollama';
import { editUserSettings, openChat, readUserSettings, sendChat, userSettingsPath, webviewFrame } from './webviews';

/** A scripted backend whose tokens (and reasoning, for a thinking model) the test can swap between steps. */
function switchable(
  tokens: string[],
): Backend & { set(tokens: string[], thinking?: { reasoning: string[]; reasoningIntervalMs: number }): void } {
  let current = scriptedBackend({ tokens });
  return {
    get dims() {
      return current.dims;
    },
    chat: (m, o) => current.chat(m, o),
    embed: (t) => current.embed(t),
    countTokens: (t) => current.countTokens(t),
    set(next, thinking) {
      current = scriptedBackend({ tokens: next, ...thinking });
    },
  };
}

const LONG = Array.from({ length: 40 }, (_, i) => ` word${i}`);
const local = switchable(['Hello', ' from', ' the', ' local', ' server', '.']);
let ollama: FixtureServer;
let cloud: FixtureServer;
let refused: number;
let vs: VSCode;
let chat: Frame;
let workspace: string;

const providers = (boxUrl: string) => [
  { id: 'box', kind: 'ollama', baseUrl: boxUrl },
  { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
];

before(async () => {
  ollama = await startOllamaServer({ backend: local });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', ' answer', '.'] }) });
  refused = await closedPort();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-chat-ws-'));
  fs.writeFileSync(
    path.join(workspace, 'sample.ts'),
    'export function add(a: number, b: number): number {\n  return a + b; // SELECTED_MARKER\n}\n',
  );
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': providers(ollama.url),
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'], explain: ['box/qwen2.5-coder:7b'] },
      'switchyard.privacy': 'allow',
      'switchyard.routing.cooldownMs': 0,
      'workbench.colorTheme': 'Default Dark Modern',
      // VS Code in a browser auto-saves 1 s after an edit (desktop: off). The code actions check that an edit is not
      // saved and then revert it: on a busy machine that save came first. Off for sample.ts only (settings.json still
      // auto-saves the theme migration VS Code writes into it, so closing it never asks to save).
      '[typescript]': { 'files.autoSave': 'off' },
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  await cloud?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

/** How many times the extension logged that it applied changed settings (it logs once it has). */
const settingsChanges = async () => (await vs.outputChannelText('Switchyard')).match(/settings changed/g)?.length ?? 0;

async function failureShot(name: string, e: unknown): Promise<never> {
  await vs.screenshot(`${name}-failure`).catch(() => {});
  throw e;
}

test(
  'chat: a message streams tokens from the local test server; the answer says who answered, tokens and time',
  { timeout: t(120_000) },
  async () => {
    try {
      chat = await openChat(vs);
      ollama.setBehaviour({ mode: 'slow', delayMs: 120 }, 'POST /api/chat');
      const turn = await sendChat(chat, 'Say hello');
      // Seen while streaming: more than one partial text before the end.
      const partials = new Set<string>();
      await waitFor(
        'the answer to finish',
        async () => {
          const status = await turn.getAttribute('data-status');
          const text = (await turn.locator('.markdown').innerText()).trim();
          if (status === 'streaming' && text) partials.add(text);
          return status === 'done';
        },
        t(30_000),
        50,
      );
      assert.ok(partials.size >= 2, `expected several partial renders while streaming, saw ${JSON.stringify([...partials])}`);
      assert.equal((await turn.locator('.markdown').innerText()).trim(), 'Hello from the local server.');
      const meta = await turn.locator('.answer-meta').innerText();
      assert.match(meta, /box\/qwen2\.5-coder:7b/);
      assert.match(meta, /local/);
      assert.match(meta, /tokens/);
      assert.match(meta, /\d+\.\d s/);
      assert.equal(await turn.locator('.fallback-notice').count(), 0);
      assert.equal(cloud.counts['POST /v1/chat/completions'] ?? 0, 0, 'the cloud model was not asked');
      await vs.screenshot('chat-view-dark');
    } catch (e) {
      await failureShot('chat-stream', e);
    } finally {
      ollama.setBehaviour({ mode: 'ok' });
    }
  },
);

test('chat: Stop mid-stream cancels the request at the provider and keeps the partial answer', { timeout: t(120_000) }, async () => {
  try {
    local.set(LONG);
    ollama.setBehaviour({ mode: 'slow', delayMs: 250 }, 'POST /api/chat');
    const abortedBefore = ollama.aborted;
    const turn = await sendChat(chat, 'Count slowly');
    await waitFor(
      'the first tokens',
      async () => ((await turn.locator('.markdown').innerText()).trim().length > 0 ? true : undefined),
      t(30_000),
      50,
    );
    await chat.locator('#stop').click();
    await waitFor('the turn to show stopped', async () => (await turn.getAttribute('data-status')) === 'stopped', t(15_000), 100);
    await waitFor('the server to see the client go away', async () => ollama.aborted > abortedBefore, t(10_000), 100);
    const text = (await turn.locator('.markdown').innerText()).trim();
    assert.ok(text.length > 0 && !text.includes('word39'), `partial answer kept, not completed: ${text}`);
    await waitFor('the Stop button to go away', async () => chat.locator('#stop').isHidden(), t(10_000), 100);
  } catch (e) {
    await failureShot('chat-stop', e);
  } finally {
    ollama.setBehaviour({ mode: 'ok' });
  }
});

test('chat: a model answer with <img onerror> and <script> renders inert', { timeout: t(60_000) }, async () => {
  try {
    local.set([
      'Look: <img src=x onerror="window.__pwned=1">',
      ' and <script>window.__pwned=2</script>',
      ' **bold** ',
      '\n\n```ts\nconst ok = 1;\n```\n',
    ]);
    const turn = await sendChat(chat, 'Show me HTML');
    await waitFor('the answer', async () => (await turn.getAttribute('data-status')) === 'done', t(30_000), 100);
    const body = turn.locator('.markdown');
    assert.equal(await body.locator('img').count(), 0, 'no image element survives');
    assert.equal(await body.locator('script').count(), 0, 'no script element survives');
    assert.equal(await body.locator('[onerror], [onclick], [onload]').count(), 0);
    assert.equal(await body.locator('strong').innerText(), 'bold', 'Markdown still renders');
    assert.equal(await chat.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined, 'nothing ran');
    // Code blocks get highlighting and the four actions.
    assert.ok((await body.locator('pre.code-block .hljs-keyword').count()) > 0);
    assert.deepEqual(await turn.locator('.code-actions button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-code-action'))), [
      'copy',
      'insert',
      'replace',
      'newFile',
    ]);
    // "New File" opens an untitled editor holding the block's code (then closed without saving).
    await turn.locator('.code-actions button[data-code-action="newFile"]').click();
    const untitled = vs.page.locator('.monaco-editor .view-lines', { hasText: 'const ok = 1;' }).first();
    await untitled.waitFor({ state: 'visible', timeout: t(15_000) });
    await vs.runCommand('View: Revert and Close Editor');
    await untitled.waitFor({ state: 'hidden', timeout: t(10_000) });
  } catch (e) {
    await failureShot('chat-xss', e);
  }
});

test(
  'chat: a thinking model\'s reasoning streams into a "Thinking…" block above the answer, as text, and folds when the answer starts',
  { timeout: t(60_000) },
  async () => {
    try {
      local.set(['Four', '.'], { reasoning: ['Two', ' plus', ' two', ' <b>is</b>', ' four.'], reasoningIntervalMs: 150 });
      const turn = await sendChat(chat, 'What is 2 + 2?');
      const block = turn.locator('details.reasoning');
      const open = () => block.evaluate((d) => (d as unknown as { open: boolean }).open);
      await waitFor(
        'the reasoning, open, while the model thinks',
        async () => (await block.count()) > 0 && (await open()) && (await turn.getAttribute('data-status')) === 'streaming',
        t(15_000),
        30,
      );
      assert.match(await block.locator('summary').innerText(), /Thinking/);
      await waitFor('the answer', async () => (await turn.getAttribute('data-status')) === 'done', t(30_000), 100);
      assert.equal(await open(), false, 'folded once the answer started');
      assert.equal(await turn.locator('.reasoning-text').textContent(), 'Two plus two <b>is</b> four.', 'the reasoning as text');
      assert.equal(await turn.locator('details.reasoning b').count(), 0, 'no markup from the model');
      assert.equal((await turn.locator('.markdown').innerText()).trim(), 'Four.', 'the answer has none of the reasoning');

      // A server without a reasoning parser writes the thinking into the answer between <think> tags: shown the same way.
      local.set(['<think>', '\nInline', ' thought.', '\n</think>', '\n\nInline answer.']);
      const inline = await sendChat(chat, 'And 3 + 3?');
      await waitFor('the answer', async () => (await inline.getAttribute('data-status')) === 'done', t(30_000), 100);
      assert.equal(await inline.locator('.reasoning-text').textContent(), '\nInline thought.\n');
      assert.equal((await inline.locator('.markdown').innerText()).trim(), 'Inline answer.');
      // All thinking and no answer (the budget ran out mid-thought): the turn says so and what to do.
      local.set([], { reasoning: ['Hmm', ' let', ' me', ' see'], reasoningIntervalMs: 0 });
      const unfinished = await sendChat(chat, 'And 4 + 4?');
      await waitFor('the turn to end', async () => (await unfinished.getAttribute('data-status')) === 'done', t(30_000), 100);
      assert.equal(await unfinished.locator('.reasoning-text').textContent(), 'Hmm let me see');
      assert.equal(
        await unfinished.locator('details.reasoning').evaluate((d) => (d as unknown as { open: boolean }).open),
        true,
        'left open: there is no answer to read',
      );
      assert.match(await unfinished.locator('.notice').innerText(), /Stopped while still thinking.*max tokens/s);

      // Open the first block again (as a user would), for the screenshot.
      await block.locator('summary').click();
      await waitFor('the block to open', open, t(5_000), 50);
      await vs.screenshot('chat-thinking-dark');
    } catch (e) {
      await failureShot('chat-thinking', e);
    }
  },
);

test(
  'Explain Selection (keybinding) streams the explain task into the chat view with the selection as context',
  { timeout: t(120_000) },
  async () => {
    try {
      local.set(['This', ' function', ' adds', ' two', ' numbers', '.']);
      const requestsBefore = ollama.requests.length;
      await vs.page.keyboard.press('Control+P');
      await vs.page.locator('.quick-input-widget input').fill('sample.ts');
      await vs.page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'sample.ts' })
        .first()
        .waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Enter');
      const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'SELECTED_MARKER' }).first();
      await editor.waitFor({ timeout: t(15_000) });
      await editor.click();
      await vs.page.keyboard.press('Control+A');
      await vs.page.keyboard.press('Control+Alt+E');
      chat = await webviewFrame(vs.page, 'chat');
      const user = chat.locator('.turn.user', { hasText: 'Explain selection in sample.ts:1-' }).last();
      await user.waitFor({ timeout: t(20_000) });
      const turn = chat.locator('.turn.assistant').last();
      await waitFor('the explanation', async () => (await turn.getAttribute('data-status')) === 'done', t(30_000), 100);
      assert.equal((await turn.locator('.markdown').innerText()).trim(), 'This function adds two numbers.');
      const sent = ollama.requests
        .slice(requestsBefore)
        .filter((r) => r.path === '/api/chat')
        .at(-1);
      const prompt = JSON.stringify(sent?.body?.messages ?? []);
      assert.match(prompt, /SELECTED_MARKER/, 'the selection went to the model');
      assert.match(prompt, /Explain the given code/, "with the explain task's system prompt");
    } catch (e) {
      await failureShot('explain-selection', e);
    }
  },
);

test(
  'code actions: Insert at Cursor and Replace Selection put a code block into the editor the chat came from',
  { timeout: t(120_000) },
  async () => {
    // The previous step left sample.ts open in the editor.
    const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'SELECTED_MARKER' }).first();
    const editorText = async () => (await vs.page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
    // The cursor or selection a code action uses is the one the editor has when the button is clicked: before each click,
    // wait until sample.ts has focus and the status bar shows the cursor or selection the keys made.
    const focused = vs.page.locator('.monaco-editor.focused', { hasText: 'SELECTED_MARKER' });
    const cursorStatus = vs.page.locator('[id="status.editor.selection"]');
    const waitForCursor = (what: string, re: RegExp) => waitFor(what, async () => re.test(await cursorStatus.innerText()), t(15_000), 100);
    try {
      local.set(['Use', ' this', ':\n\n```ts\nexport const SY_INSERTED = 42;\n```\n']);
      await editor.click();
      await focused.waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Control+End');
      await waitForCursor('the cursor at the end of sample.ts', /Ln 4, Col 1(?!.*selected)/);
      chat = await openChat(vs);
      const turn = await sendChat(chat, 'Give me a constant');
      await waitFor('the answer', async () => (await turn.getAttribute('data-status')) === 'done', t(30_000), 100);
      await turn.locator('.code-actions button[data-code-action="insert"]').click();
      await waitFor(
        'the code inserted at the cursor',
        async () => {
          const t = await editorText();
          return t.includes('SELECTED_MARKER') && t.includes('export const SY_INSERTED = 42;');
        },
        t(15_000),
        100,
      );
      const inserted = await editorText();
      assert.ok(
        inserted.indexOf('SY_INSERTED') > inserted.lastIndexOf('}'),
        `inserted at the cursor (the end), not elsewhere:\n${inserted}`,
      );

      // Select everything in the editor, then replace it with the block.
      await editor.click();
      await focused.waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Control+A');
      await waitForCursor('everything in sample.ts selected', /selected/);
      await turn.locator('.code-actions button[data-code-action="replace"]').click();
      await waitFor(
        'the selection replaced by the code',
        async () => {
          const t = await editorText();
          return !t.includes('SELECTED_MARKER') && t.trim() === 'export const SY_INSERTED = 42;';
        },
        t(15_000),
        100,
      );
      assert.equal(
        fs.readFileSync(path.join(workspace, 'sample.ts'), 'utf8').includes('SELECTED_MARKER'),
        true,
        'nothing is saved without the user',
      );

      // Copy: the code reaches the clipboard and the button says so.
      await vs.page
        .context()
        .grantPermissions(['clipboard-read', 'clipboard-write'])
        .catch(() => {});
      await turn.locator('.code-actions button[data-code-action="copy"]').click();
      await turn
        .locator('.code-actions button[data-code-action="copy"][data-done="true"][aria-label="Copied"]')
        .waitFor({ timeout: t(10_000) });
      const clipboard = await vs.page.evaluate(() =>
        (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText(),
      );
      assert.equal(clipboard.trim(), 'export const SY_INSERTED = 42;');

      // The editor the chat came from was closed since: Insert opens its file again and inserts there.
      // Reverted once the editor shows the file from disk again (the revert reads it back asynchronously): close it only
      // then, or the reopened document can still hold the edits.
      await vs.runCommand('File: Revert File');
      await waitFor(
        'sample.ts reverted to its text on disk',
        async () => {
          const text = await editorText();
          return text.includes('SELECTED_MARKER') && !text.includes('SY_INSERTED');
        },
        t(15_000),
        100,
      );
      await vs.runCommand('View: Close All Editors');
      await vs.page.locator('.monaco-editor .view-lines').waitFor({ state: 'detached', timeout: t(10_000) });
      await turn.locator('.code-actions button[data-code-action="insert"]').click();
      await waitFor(
        'sample.ts open again with the code inserted',
        async () => {
          const t = await editorText().catch(() => '');
          return t.includes('SELECTED_MARKER') && t.includes('export const SY_INSERTED = 42;');
        },
        t(15_000),
        100,
      );
    } catch (e) {
      await failureShot('code-actions', e);
    } finally {
      await vs.runCommand('File: Revert File').catch(() => {});
    }
  },
);

test(
  'chat: local server down → the cloud test server answers with a fallback notice naming the reason',
  { timeout: t(120_000) },
  async () => {
    try {
      chat = await openChat(vs);
      const before = await settingsChanges();
      await editUserSettings(vs, (s) => {
        s['switchyard.providers'] = providers(`http://127.0.0.1:${refused}`);
      });
      // The log line is written after the new settings are applied (extension.ts): the next request routes with them.
      await waitFor('the extension to re-read settings', async () => (await settingsChanges()) > before, t(20_000));
      const cloudBefore = cloud.counts['POST /v1/chat/completions'] ?? 0;
      const turn = await sendChat(chat, 'Anyone there?');
      await waitFor('the cloud answer', async () => (await turn.getAttribute('data-status')) === 'done', t(40_000), 100);
      assert.equal((await turn.locator('.markdown').innerText()).trim(), 'Cloud answer.');
      assert.match(await turn.locator('.answer-meta').innerText(), /cloud\/gpt-4\.1-mini[\s\S]*cloud/);
      const notice = await turn.locator('.fallback-notice').innerText();
      assert.match(notice, /box\/qwen2\.5-coder:7b (failed|skipped) \(server not reachable/);
      assert.equal((cloud.counts['POST /v1/chat/completions'] ?? 0) - cloudBefore, 1);
    } catch (e) {
      await failureShot('chat-fallback', e);
    }
  },
);

test('chat: local-only with the local server down → an error with actions, and zero cloud requests', { timeout: t(120_000) }, async () => {
  try {
    const before = await settingsChanges();
    await editUserSettings(vs, (s) => {
      s['switchyard.privacy'] = 'local-only';
    });
    await waitFor('the extension to re-read settings', async () => (await settingsChanges()) > before, t(20_000));
    cloud.reset();
    const turn = await sendChat(chat, 'Stay local please');
    await waitFor('the error', async () => (await turn.getAttribute('data-status')) === 'error', t(40_000), 100);
    const error = turn.locator('.turn-error');
    assert.match(await error.locator('.error-message').innerText(), /box\/qwen2\.5-coder:7b/);
    const actions = await error.locator('.error-action').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')));
    assert.ok(actions.includes('startOllama'), `actions: ${actions}`);
    assert.ok(actions.includes('openSettings') && actions.includes('retry'), `actions: ${actions}`);
    assert.equal(cloud.counts.total ?? 0, 0, 'local-only: not one request reached the cloud test server');
    await vs.screenshot('chat-view-error-dark');
    // Start Ollama: where Ollama is not installed (as on our CI machines) it says so and where to get it, instead of
    // a terminal answering "command not found"; where it is, a terminal runs `ollama serve`.
    await error.locator('.error-action[data-action="startOllama"]').click();
    if (!findOllamaExecutable()) {
      await vs.waitForNotification(/Ollama is not installed here \(no `ollama` on PATH\)/, t(15_000));
      await vs.runCommand('Notifications: Clear All Notifications');
    } else {
      await vs.page
        .locator('.terminal-tabs-entry, .single-terminal-tab', { hasText: 'Ollama' })
        .first()
        .waitFor({ timeout: t(15_000) });
    }
  } catch (e) {
    await failureShot('chat-local-only', e);
  } finally {
    await editUserSettings(vs, (s) => {
      s['switchyard.providers'] = providers(ollama.url);
      s['switchyard.privacy'] = 'allow';
    });
  }
});

test(
  'chat: history survives a window reload (conversation and its answers come back; history lists it)',
  { timeout: t(180_000) },
  async () => {
    try {
      const before = await chat.locator('.turn').count();
      assert.ok(before >= 8);
      // A mark on the old page's window: the reload has happened once a page without it is loaded.
      await vs.page.evaluate(() => ((globalThis as unknown as { __syBeforeReload?: boolean }).__syBeforeReload = true));
      await vs.runCommand('Developer: Reload Window');
      await waitFor(
        'the window to reload',
        async () =>
          (await vs.page.evaluate(() => (globalThis as unknown as { __syBeforeReload?: boolean }).__syBeforeReload).catch(() => true)) !==
          true,
        t(30_000),
        100,
      );
      await vs.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: t(60_000) });
      await vs.page.locator('.statusbar').waitFor({ state: 'visible', timeout: t(30_000) });
      chat = await openChat(vs);
      await waitFor('the conversation to come back', async () => (await chat.locator('.turn').count()) === before, t(30_000), 250);
      assert.match(await chat.locator('.turn.assistant').first().innerText(), /Hello from the local server\./);
      await chat.locator('#history-toggle').click();
      const items = await chat.locator('.history-item').allInnerTexts();
      assert.ok(
        items.some((t) => /Say hello/.test(t)),
        `history: ${JSON.stringify(items)}`,
      );
      // New chat, then the old one is still in history and can be reopened.
      await chat.locator('#new-chat').click();
      await waitFor('an empty chat', async () => (await chat.locator('.turn').count()) === 0, t(10_000), 100);
      if (await chat.locator('#history').isHidden()) await chat.locator('#history-toggle').click();
      await chat.locator('.history-item button.link', { hasText: 'Say hello' }).click();
      await waitFor('the old chat reopened', async () => (await chat.locator('.turn').count()) === before, t(10_000), 100);
    } catch (e) {
      await failureShot('chat-reload', e);
    }
  },
);

test(
  'settings panel: add a model to a task → settings.json; hand-edit settings.json → the panel updates; screenshots',
  { timeout: t(180_000) },
  async () => {
    try {
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const card = panel.locator('[data-task="chat"]');
      await card.waitFor({ timeout: t(20_000) });
      // Pickers fed by discovery: the embed task offers embedding models only, chat offers chat models.
      const optionTexts = (task: string) =>
        panel.locator(`[data-task="${task}"] select.add-model option`).evaluateAll((os) => os.map((o) => o.textContent ?? ''));
      const embedOptions = await waitFor(
        'discovered models in the embed picker',
        async () => {
          const texts = await optionTexts('embed');
          return texts.some((t) => t.startsWith('box/')) ? texts : undefined;
        },
        t(30_000),
      );
      const explainOptions = await optionTexts('explain');
      assert.ok(
        explainOptions.some((t) => /^cloud\/gpt-4\.1-mini — cloud, \d+k ctx/.test(t)),
        `chat models with their context window for explain: ${JSON.stringify(explainOptions)}`,
      );
      assert.ok(
        embedOptions.some((t) => t.startsWith('box/nomic-embed-text')),
        JSON.stringify(embedOptions),
      );
      assert.ok(!embedOptions.some((t) => t.startsWith('box/qwen2.5-coder')), 'no chat model offered for embed');
      // Reorder with the buttons: cloud first.
      await card.locator('.candidate[data-model="cloud/gpt-4.1-mini"] button.up').click();
      await waitFor(
        'settings.json to have the new order',
        async () => {
          const tasks = readUserSettings(vs)['switchyard.tasks'] as Record<string, unknown[]> | undefined;
          return JSON.stringify(tasks?.chat) === JSON.stringify(['cloud/gpt-4.1-mini', 'box/qwen2.5-coder:7b']);
        },
        t(20_000),
      );
      await waitFor(
        'the panel to show the new order',
        async () => (await card.locator('.candidate').first().getAttribute('data-model')) === 'cloud/gpt-4.1-mini',
        t(20_000),
      );
      // A parameter.
      await card.locator('.candidate[data-model="box/qwen2.5-coder:7b"] input.temperature').fill('0.3');
      await card.locator('.candidate[data-model="box/qwen2.5-coder:7b"] input.temperature').press('Tab');
      await waitFor(
        'the temperature in settings.json',
        async () => {
          const tasks = readUserSettings(vs)['switchyard.tasks'] as Record<string, unknown[]>;
          return JSON.stringify(tasks.chat?.[1]) === JSON.stringify({ model: 'box/qwen2.5-coder:7b', temperature: 0.3 });
        },
        t(20_000),
      );
      await panel.locator('[data-task="chat"] .route-answer').waitFor({ timeout: t(20_000) });

      // A hand edit shows at once.
      await editUserSettings(vs, (s) => {
        const tasks = s['switchyard.tasks'] as Record<string, unknown>;
        tasks.explain = ['cloud/gpt-4.1-mini', 'box/qwen2.5-coder:7b'];
        s['switchyard.privacy'] = 'ask';
      });
      await panel
        .locator('[data-task="explain"] .candidate')
        .first()
        .and(panel.locator('[data-model="cloud/gpt-4.1-mini"]'))
        .waitFor({ timeout: t(20_000) });
      await waitFor('the privacy radio to follow', async () => panel.locator('input[name="privacy"][value="ask"]').isChecked(), t(20_000));
      // Providers: Test connection shows latency, version and model count.
      await panel.locator('tr[data-provider="box"] button.test').click();
      const result = await waitFor(
        'the test result',
        async () => {
          const t = await panel.locator('tr[data-provider="box"] .test-result').innerText();
          return /✓|✗/.test(t) ? t : undefined;
        },
        t(20_000),
      );
      assert.match(result, /✓ \d+ ms · v0\.12\.6 · 2 models/);
      await vs.screenshot('settings-panel-dark');

      await editUserSettings(vs, (s) => {
        s['workbench.colorTheme'] = 'Default Light Modern';
      });
      await waitFor('the light theme', async () => (await vs.page.locator('.monaco-workbench.vs').count()) > 0, t(20_000));
      // Webviews get the theme after the workbench: VS Code sets their body's class (vscode-light) once they have it.
      await panel.locator('body.vscode-light').waitFor({ timeout: t(20_000) });
      await vs.screenshot('settings-panel-light');
      chat = await openChat(vs);
      await chat.locator('body.vscode-light').waitFor({ timeout: t(20_000) });
      await vs.screenshot('chat-view-light');
    } catch (e) {
      await failureShot('settings-panel', e);
    }
  },
);

test(
  "settings panel: Set API key stores a provider's key (Test connection then passes with it), never shows it; Clear removes it",
  { timeout: t(120_000) },
  async () => {
    const KEY = 'sk-e2e-secret-7f3a91';
    const keyed = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Keyed'] }), apiKey: KEY });
    try {
      await editUserSettings(vs, (s) => {
        s['switchyard.providers'] = [
          ...providers(ollama.url),
          { id: 'keyed', kind: 'openai-compatible', baseUrl: `${keyed.url}/v1`, local: false },
        ];
      });
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const row = panel.locator('tr[data-provider="keyed"]');
      await row.waitFor({ timeout: t(20_000) });
      const testResult = async (what: string, re: RegExp) => {
        await row.locator('button.test').click();
        return waitFor(
          what,
          async () => {
            const t = await row.locator('.test-result').innerText();
            return re.test(t) ? t : undefined;
          },
          t(20_000),
        );
      };
      assert.match(await testResult('the test result without a key', /✓|✗/), /✗ no API key set for keyed/);

      await row.locator('button[aria-label="Set API key"]').click();
      const input = vs.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: t(10_000) });
      assert.equal(await input.getAttribute('type'), 'password', 'the key is typed into a password box');
      await input.fill(KEY);
      await input.press('Enter');
      await waitFor('the key shown as stored', async () => /stored/.test(await row.innerText()), t(20_000));
      await testResult('the test passing with the stored key', /✓/);
      assert.ok(!(await panel.locator('body').innerText()).includes(KEY), 'the key never reaches the panel');
      assert.ok(!fs.readFileSync(userSettingsPath(vs), 'utf8').includes(KEY), 'nor settings.json');

      await row.locator('button[aria-label="Clear API key"]').click();
      await waitFor('the key gone', async () => !/stored/.test(await row.innerText()), t(20_000));
      assert.match(await testResult('the test failing again', /✗/), /✗ no API key set for keyed/);
      const keyedModels = () => panel.locator('option[value^="keyed/"]').count();
      await waitFor(
        "keyed's models gone with its key (its listing refuses a missing key)",
        async () => (await keyedModels()) === 0,
        t(20_000),
      );

      // The key set from the command palette (as a chat's Set API Key action does) while the panel is open: the panel
      // shows it stored and lists the provider's models at once, with no Refresh.
      await vs.runCommand('Switchyard: Set API Key');
      await vs.page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'keyed' })
        .first()
        .click({ timeout: t(10_000) });
      await vs.page.locator('.quick-input-widget input[type="password"]').waitFor({ state: 'visible', timeout: t(10_000) });
      await input.fill(KEY);
      await input.press('Enter');
      await waitFor('the panel showing the key set elsewhere as stored', async () => /stored/.test(await row.innerText()), t(20_000));
      await waitFor("keyed's models listed once its key is set", async () => (await keyedModels()) > 0, t(20_000));
      await row.locator('button[aria-label="Clear API key"]').click();
      await waitFor('the key gone again', async () => !/stored/.test(await row.innerText()), t(20_000));
    } catch (e) {
      await failureShot('settings-keys', e);
    } finally {
      await editUserSettings(vs, (s) => {
        s['switchyard.providers'] = providers(ollama.url);
      }).catch(() => {});
      await keyed.close();
    }
  },
);

test(
  "Show Usage draws the ledger of the chats above: totals with the failure, today's bar, failures by kind; screenshot",
  { timeout: t(120_000) },
  async () => {
    try {
      await vs.runCommand('Switchyard: Show Usage');
      const usage = await webviewFrame(vs.page, 'usage');
      const summary = await waitFor(
        'the usage summary',
        async () => {
          const t = await usage
            .locator('#content .summary')
            .innerText()
            .catch(() => '');
          return t || undefined;
        },
        t(20_000),
      );
      // The chats above: answers from the local and the cloud test server, the local-only failure, and the answer
      // stopped with Stop (counted as stopped, not failed).
      const m = /^(\d+) requests \((\d+) failed, (\d+) stopped\), (\d+)% local/.exec(summary);
      assert.ok(m && Number(m[1]) >= 6 && Number(m[2]) >= 1 && Number(m[3]) >= 1 && Number(m[4]) > 0 && Number(m[4]) < 100, summary);
      const today = new Date().toISOString().slice(0, 10);
      const todayBar = usage.locator(`rect.bar-local[data-day="${today}"]`);
      assert.ok(Number(await todayBar.getAttribute('height')) > 0, 'today has local requests');
      const inView = await todayBar.evaluate((r) => {
        const box = r.getBoundingClientRect();
        return box.height > 0 && box.right <= r.ownerDocument.documentElement.clientWidth;
      });
      assert.ok(inView, "today's bar is drawn inside the view, not cut off at its right edge");
      assert.ok((await usage.locator('h2:has-text("Failures by kind") + ul li').count()) >= 1);
      await vs.screenshot('usage-light');
    } catch (e) {
      await failureShot('usage', e);
    }
  },
);
