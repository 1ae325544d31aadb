// End to end: inline completions (issue 15) in code-server against the Ollama test server. Typing in a file shows the
// ghost text the local test server answered (a FIM request: /api/generate with the prefix and the suffix), Tab accepts
// it and the file holds it; a superseded request is aborted at the server; a failing server shows in the status bar
// item, never as a notification; Show Usage counts the suggestion shown and accepted; snooze and toggle show in the
// item. One code-server launch serves every step, in order.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startLlamaCppServer, startOllamaServer, type Backend, type FixtureServer } from '../fixtures';
import { readUserSettings, webviewFrame } from './webviews';

const MODEL = 'qwen2.5-coder:1.5b';
const FILE = 'calc.ts';

/** A scripted backend whose tokens a step can swap. */
function switchable(tokens: string[]): Backend & { set(tokens: string[]): void } {
  let current = scriptedBackend({ tokens });
  return {
    get dims() {
      return current.dims;
    },
    chat: (m, o) => current.chat(m, o),
    embed: (x) => current.embed(x),
    countTokens: (x) => current.countTokens(x),
    set(next) {
      current = scriptedBackend({ tokens: next });
    },
  };
}

const backend = switchable([' *', ' b;']);
let ollama: FixtureServer;
/** The second candidate: a llama.cpp server, asked by /infill with the other files as input_extra. */
let llama: FixtureServer;
let vs: VSCode;
let workspace: string;

before(async () => {
  ollama = await startOllamaServer({
    backend,
    models: [
      { name: 'llama3.2:3b', contextLength: 8192 },
      { name: MODEL, contextLength: 32768, insert: true },
    ],
  });
  llama = await startLlamaCppServer({ backend: scriptedBackend({ tokens: [' 42;'] }), modelAlias: 'coder.gguf' });
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-complete-ws-'));
  fs.writeFileSync(path.join(workspace, FILE), 'export function mul(a: number, b: number): number {\n  \n}\n');
  fs.writeFileSync(path.join(workspace, 'util.ts'), 'export function parseSettings(text: string) {\n  return JSON.parse(text);\n}\n');
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': [
        { id: 'box', kind: 'ollama', baseUrl: ollama.url },
        { id: 'llama', kind: 'llamacpp', baseUrl: llama.url },
      ],
      'switchyard.tasks': { chat: ['box/llama3.2:3b'], complete: [`box/${MODEL}`, 'llama/coder.gguf'], embed: [] },
      'switchyard.privacy': 'local-only',
      'switchyard.routing.cooldownMs': 0,
      'switchyard.index.enabled': false,
      // The suggest widget would take Tab for its own item; this test is about the ghost text.
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
      // VS Code in a browser auto-saves 1 s after an edit; the test saves itself.
      'files.autoSave': 'off',
      'workbench.colorTheme': 'Default Dark Modern',
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  await llama?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

async function failureShot(name: string, e: unknown): Promise<never> {
  await vs.screenshot(`${name}-failure`).catch(() => {});
  throw e;
}

/** The status bar item of inline completions (its text, icons as codicon names). */
const item = () => vs.page.locator('.statusbar-item', { hasText: /Complete|qwen2\.5-coder:1\.5b/ }).first();
const editorText = async () => (await vs.page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
const ghost = () => vs.page.locator('.monaco-editor [class*="ghost-text"]');
const generates = () => ollama.requests.filter((r) => r.path === '/api/generate');

async function waitForCursor(re: RegExp): Promise<void> {
  const status = vs.page.locator('[id="status.editor.selection"]');
  await waitFor(`the cursor at ${re}`, async () => re.test(await status.innerText()), t(15_000), 100);
}

test("typing shows the local server's ghost text; Tab accepts it and the file holds it", { timeout: t(180_000) }, async () => {
  try {
    await waitFor(
      'the completions status bar item to show the model',
      async () => (await item().innerText()).includes(MODEL),
      t(30_000),
      250,
    );
    await vs.page.keyboard.press('Control+P');
    await vs.page.locator('.quick-input-widget input').fill(FILE);
    await vs.page
      .locator('.quick-input-list .monaco-list-row', { hasText: FILE })
      .first()
      .waitFor({ timeout: t(15_000) });
    await vs.page.keyboard.press('Enter');
    const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function mul' }).first();
    await editor.waitFor({ timeout: t(15_000) });
    await editor.click();
    await vs.page.locator('.monaco-editor.focused').waitFor({ timeout: t(15_000) });
    await vs.page.keyboard.press('Control+Home');
    await vs.page.keyboard.press('ArrowDown');
    await vs.page.keyboard.press('End');
    await waitForCursor(/Ln 2, Col 3/);

    const before = generates().length;
    await vs.page.keyboard.type('return a', { delay: 40 });
    await waitFor(
      'the ghost text from the test server',
      async () =>
        (await ghost().allInnerTexts())
          .join('')
          .replace(/\u00a0/g, ' ')
          .includes('* b;')
          ? true
          : undefined,
      t(30_000),
      100,
    );
    await vs.screenshot('complete-ghost-text');

    const sent = generates().slice(before);
    process.stdout.write(`# typing 8 characters at 40 ms intervals sent ${sent.length} completion request(s) to the server\n`);
    assert.ok(sent.length >= 1 && sent.length < 8, `requests per keystroke, not per pause: ${sent.length}`);
    const last = sent.at(-1)!.body as { model: string; prompt: string; suffix: string };
    assert.equal(last.model, MODEL);
    assert.match(last.prompt, /\n {2}return a$/, 'the prefix ends at the cursor');
    assert.match(last.suffix, /^\n}\n/, 'the suffix starts after the cursor');

    await vs.page.keyboard.press('Tab');
    // The editor's lines render the ghost text too: its text counts only once the ghost is gone.
    await waitFor('the ghost text gone', async () => (await ghost().count()) === 0, t(10_000), 100);
    await waitFor(
      'the suggestion in the editor',
      async () => ((await editorText()).includes('return a * b;') ? true : undefined),
      t(15_000),
      100,
    );
    await waitForCursor(/Ln 2, Col 16/);
    await vs.page.keyboard.press('Control+S');
    await waitFor(
      `${FILE} saved with the suggestion`,
      () => (fs.readFileSync(path.join(workspace, FILE), 'utf8').includes('  return a * b;\n}') ? true : undefined),
      t(15_000),
      100,
    );
    await vs.screenshot('complete-accepted');
  } catch (e) {
    await failureShot('complete-accept', e);
  }
});

test('a superseded request is aborted at the server', { timeout: t(120_000) }, async () => {
  try {
    ollama.setBehaviour({ mode: 'hang' }, 'POST /api/generate');
    await vs.page.keyboard.press('End');
    await vs.page.keyboard.press('Enter');
    const before = generates().length;
    const abortedBefore = ollama.aborted;
    await vs.page.keyboard.type('const c', { delay: 40 });
    await waitFor('a completion request hanging at the server', () => (generates().length > before ? true : undefined), t(30_000), 50);
    await vs.page.keyboard.type('x');
    await waitFor('the hanging request aborted at the server', () => (ollama.aborted > abortedBefore ? true : undefined), t(30_000), 50);
  } catch (e) {
    await failureShot('complete-cancel', e);
  } finally {
    ollama.setBehaviour({ mode: 'ok' }, 'POST /api/generate');
  }
});

test('a failing server shows in the status bar item and the log, never as a notification', { timeout: t(120_000) }, async () => {
  try {
    ollama.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/generate');
    llama.setBehaviour({ mode: 'error', status: 500 }, 'POST /infill');
    const before = generates().length;
    await vs.page.keyboard.type(' =', { delay: 40 });
    await waitFor('the failed request', () => (generates().length > before ? true : undefined), t(30_000), 50);
    await waitFor(
      'the status bar item to warn',
      async () => ((await item().locator('.codicon-warning').count()) > 0 ? true : undefined),
      t(15_000),
      100,
    );
    await vs.waitForLog('Switchyard', /completion failed \(server/, t(15_000));
    // The tooltip says why and what to do next.
    await item().hover();
    const hover = vs.page.locator('.monaco-hover, .workbench-hover', { hasText: 'last inline completion failed' }).first();
    await hover.waitFor({ timeout: t(15_000) });
    const tip = (await hover.innerText()).replace(/\s+/g, ' ');
    assert.match(tip, /failed \(server error\)/);
    assert.match(tip, /Show Logs/);
    await vs.screenshot('complete-failure-status');
    await vs.page.keyboard.press('Escape');
    const notes = await vs.notifications();
    assert.ok(!notes.some((n) => /complet/i.test(n)), `no notification about the failure: ${JSON.stringify(notes)}`);

    // The server answers again: the next suggestion clears the warning.
    ollama.setBehaviour({ mode: 'ok' }, 'POST /api/generate');
    llama.setBehaviour({ mode: 'ok' }, 'POST /infill');
    backend.set([' 1;']);
    await vs.page.keyboard.type(' ', { delay: 40 });
    await waitFor(
      'the ghost text again',
      async () => ((await ghost().allInnerTexts()).join('').includes('1;') ? true : undefined),
      t(30_000),
      100,
    );
    await waitFor(
      'the warning gone',
      async () => ((await item().locator('.codicon-warning').count()) === 0 ? true : undefined),
      t(15_000),
      100,
    );
    await vs.page.keyboard.press('Escape');
    // Saved, so closing the editors later asks nothing.
    await vs.page.keyboard.press('Control+S');
    await waitFor(
      `${FILE} saved`,
      () => (fs.readFileSync(path.join(workspace, FILE), 'utf8').includes('const cx =') ? true : undefined),
      t(15_000),
      100,
    );
  } catch (e) {
    await failureShot('complete-failure', e);
  } finally {
    ollama.setBehaviour({ mode: 'ok' }, 'POST /api/generate');
    llama.setBehaviour({ mode: 'ok' }, 'POST /infill');
  }
});

test(
  'Show Usage counts the suggestions shown and accepted, with the accept rate and p50 latency of the model',
  { timeout: t(120_000) },
  async () => {
    try {
      await vs.runCommand('Switchyard: Show Usage');
      const usage = await webviewFrame(vs.page, 'usage');
      const row = usage.locator(`#completions tr[data-model="box/${MODEL}"]`);
      await row.waitFor({ timeout: t(20_000) });
      const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
      assert.equal(cells[0], `box/${MODEL} (local)`);
      const [shown, accepted] = [Number(cells[1]), Number(cells[2])];
      assert.ok(shown >= 2, `at least the two suggestions seen: ${cells.join(' | ')}`);
      assert.equal(accepted, 1, cells.join(' | '));
      assert.equal(cells[3], `${Math.round((100 * accepted) / shown)}%`);
      assert.match(cells[4]!, /^\d+ ms$/);
      await row.scrollIntoViewIfNeeded();
      await vs.screenshot('complete-usage');
      assert.doesNotMatch(await vs.outputChannelText('Switchyard'), /return a/, 'no code in the log');
      await vs.runCommand('View: Close All Editors');
      await vs.page.locator('.monaco-editor .view-lines').waitFor({ state: 'detached', timeout: t(10_000) });
    } catch (e) {
      await failureShot('complete-usage', e);
    }
  },
);

test('snooze and toggle show in the status bar item; toggle writes the setting', { timeout: t(120_000) }, async () => {
  try {
    await vs.runCommand('Switchyard: Snooze Inline Completions');
    await waitFor(
      'the item to say snoozed',
      async () => ((await item().innerText()).includes('snoozed') ? true : undefined),
      t(15_000),
      100,
    );
    await vs.runCommand('Switchyard: Toggle Inline Completions');
    await waitFor('the item to say off', async () => ((await item().innerText()).includes('off') ? true : undefined), t(15_000), 100);
    await waitFor(
      'switchyard.completion.enabled false in the user settings',
      () => (readUserSettings(vs)['switchyard.completion.enabled'] === false ? true : undefined),
      t(15_000),
      100,
    );
    await vs.runCommand('Switchyard: Toggle Inline Completions');
    await waitFor(
      'the item to show the model again',
      async () => ((await item().innerText()).includes(MODEL) ? true : undefined),
      t(15_000),
      100,
    );
    assert.equal(readUserSettings(vs)['switchyard.completion.enabled'], true);
  } catch (e) {
    await failureShot('complete-toggle', e);
  }
});

test(
  'accept word by word (Ctrl+Right) takes part of the suggestion, and Show Usage counts it as accepted in part',
  { timeout: t(120_000) },
  async () => {
    try {
      backend.set([' first', ' second', ' third;']);
      await vs.page.keyboard.press('Control+P');
      await vs.page.locator('.quick-input-widget input').fill(FILE);
      await vs.page
        .locator('.quick-input-list .monaco-list-row', { hasText: FILE })
        .first()
        .waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Enter');
      const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function mul' }).first();
      await editor.waitFor({ timeout: t(15_000) });
      await editor.click();
      await vs.page.locator('.monaco-editor.focused').waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Control+Home');
      await vs.page.keyboard.press('ArrowDown');
      await vs.page.keyboard.press('End');
      await waitForCursor(/Ln 2, Col 16/);
      await vs.page.keyboard.press('Enter');
      await vs.page.keyboard.type('let w =', { delay: 40 });
      await waitFor(
        'the ghost text',
        async () =>
          (await ghost().allInnerTexts())
            .join('')
            .replace(/\u00a0/g, ' ')
            .includes('first second third;')
            ? true
            : undefined,
        t(30_000),
        100,
      );
      // VS Code's accept-next-word takes the leading space on its own first, then the word.
      const cursor = vs.page.locator('[id="status.editor.selection"]');
      for (let i = 0; i < 3 && !/Col 16\b/.test(await cursor.innerText()); i++) {
        const before = await cursor.innerText();
        await vs.page.keyboard.press('Control+ArrowRight');
        await waitFor(
          'the cursor to move past the accepted part',
          async () => ((await cursor.innerText()) !== before ? true : undefined),
          t(10_000),
          50,
        );
      }
      await waitForCursor(/Ln 3, Col 16/);
      await vs.screenshot('complete-partial-accept');
      // The rest is still offered; Escape hides it and leaves what was taken.
      await vs.page.keyboard.press('Escape');
      await waitFor('the ghost text gone', async () => (await ghost().count()) === 0, t(10_000), 100);
      const text = await editorText();
      assert.ok(text.includes('let w = first') && !text.includes('first second'), `only the first word was taken:\n${text}`);
      // Typing something else ends the suggestion.
      await vs.page.keyboard.type(';');

      await vs.runCommand('Switchyard: Show Usage');
      const usage = await webviewFrame(vs.page, 'usage');
      const row = usage.locator(`#completions tr[data-model="box/${MODEL}"]`);
      await waitFor(
        'the partial accept counted',
        async () =>
          (
            await row
              .locator('td')
              .nth(2)
              .innerText()
              .catch(() => '')
          ).includes('(1 in part)')
            ? true
            : undefined,
        t(20_000),
        250,
      );
      const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
      assert.equal(cells[2], '2 (1 in part)', cells.join(' | '));
    } catch (e) {
      await failureShot('complete-partial', e);
    }
  },
);

test(
  'a file edited a moment ago goes with the request (llama.cpp /infill input_extra, after a fallback)',
  { timeout: t(120_000) },
  async () => {
    try {
      // Edit util.ts: its lines around the edit become context for the next completion elsewhere.
      await vs.page.keyboard.press('Control+P');
      await vs.page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: t(10_000) });
      await vs.page.locator('.quick-input-widget input').fill('util.ts');
      await vs.page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'util.ts' })
        .first()
        .waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Enter');
      const util = vs.page.locator('.monaco-editor .view-lines', { hasText: 'parseSettings' }).first();
      await util.waitFor({ timeout: t(15_000) });
      await util.click();
      await vs.page.locator('.monaco-editor.focused', { hasText: 'parseSettings' }).waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Control+End');
      await vs.page.keyboard.type('// RECENT_EDIT_MARKER', { delay: 10 });
      await waitFor('util.ts edited', async () => ((await editorText()).includes('RECENT_EDIT_MARKER') ? true : undefined), t(10_000), 100);
      await vs.page.keyboard.press('Escape');
      // Back to calc.ts by its tab.
      await vs.page.locator('.tabs-container .tab', { hasText: FILE }).first().click();
      const calc = vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function mul' }).first();
      await calc.waitFor({ timeout: t(15_000) });
      await calc.click();
      await vs.page.locator('.monaco-editor.focused', { hasText: 'export function mul' }).waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Control+End');
      await waitForCursor(/Ln 6, Col 1/);
      // Ollama fails: the router falls back to llama.cpp, which takes the other files as input_extra.
      ollama.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/generate');
      const before = llama.requests.length;
      await vs.page.keyboard.type('const n =', { delay: 40 });
      await waitFor(
        'the ghost text from llama.cpp',
        async () => ((await ghost().allInnerTexts()).join('').includes('42;') ? true : undefined),
        t(30_000),
        100,
      );
      const infill = llama.requests
        .slice(before)
        .filter((r) => r.path === '/infill')
        .at(-1);
      assert.ok(infill, 'an /infill request');
      const extra = (infill.body as { input_extra?: { filename: string; text: string }[] }).input_extra ?? [];
      const snippet = extra.find((e) => e.filename === 'util.ts');
      assert.ok(snippet, `util.ts among input_extra: ${JSON.stringify(extra.map((e) => e.filename))}`);
      assert.match(snippet.text, /parseSettings[\s\S]*RECENT_EDIT_MARKER/);
      assert.ok(!extra.some((e) => e.filename === FILE), 'the current file is in the prefix and suffix, not in extra');
      assert.match(String((infill.body as { input_prefix: string }).input_prefix), /const n =$/);
      await vs.screenshot('complete-fallback-extra');
    } catch (e) {
      await failureShot('complete-extra', e);
    } finally {
      ollama.setBehaviour({ mode: 'ok' }, 'POST /api/generate');
    }
  },
);
