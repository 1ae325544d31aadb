// End to end: how the chat looks and what a message carries, in code-server against the Ollama test server.
// 1. Attachments are per message: Selection and File chips attach to one message (the model gets the code), then
//    reset; the next message carries nothing.
// 2. A Markdown answer with code blocks, a table and a quote, screenshotted in the dark theme, the light theme and a
//    180 px wide sidebar (test-results/chat-markdown-*.png, checked by eye), with what can be measured asserted: at
//    180 px nothing runs out of the view sideways (code and tables scroll inside their own box), each code block is
//    one frame with its language, and the theme's colours reach the code.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { launchVSCode, resultsDir, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { editUserSettings, openChat, sendChat } from './webviews';

const ANSWER = [
  '## Summing',
  ' numbers\n\n',
  'Use `add` for two numbers and `sum` for a list:\n\n',
  '```ts\n',
  'export function sum(values: readonly number[], start = 0): number {\n',
  '  return values.reduce((total, value) => total + value, start); // a long line that must scroll, not be cut off\n',
  '}\n',
  '```\n\n',
  '| Function | Arguments | Returns | Notes |\n',
  '| --- | --- | --- | --- |\n',
  '| `add` | `a: number, b: number` | `number` | Adds two numbers |\n',
  '| `sum` | `values: readonly number[]` | `number` | 0 for an empty list |\n\n',
  '> **Note:** `sum` of a very long list can lose precision; see',
  ' https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Global_Objects/Number/EPSILON for why.\n\n',
  'Run the tests with:\n\n',
  '```bash\n',
  'npm test -- --grep "sum of an empty list is zero"\n',
  '```\n\n',
  '1. Import it.\n',
  '2. Call it.\n',
];

let ollama: FixtureServer;
let vs: VSCode;
let chat: Frame;
let workspace: string;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ tokens: ANSWER }) });
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-chat-look-'));
  fs.writeFileSync(
    path.join(workspace, 'sample.ts'),
    'export function add(a: number, b: number): number {\n  return a + b; // ATTACHED_MARKER\n}\n',
  );
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'] },
      'switchyard.privacy': 'local-only',
      'switchyard.index.enabled': false,
      'workbench.colorTheme': 'Default Dark Modern',
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

const done = (turn: ReturnType<Frame['locator']>) =>
  waitFor('the answer', async () => (await turn.getAttribute('data-status')) === 'done', t(30_000), 100);
/** The messages of the last chat request the test server received. */
const lastPrompt = () => JSON.stringify(ollama.requests.filter((r) => r.path === '/api/chat').at(-1)?.body?.messages ?? []);

test('attachments are per message: Selection and File attach to one message, then the chips reset', { timeout: t(120_000) }, async () => {
  try {
    // sample.ts open, lines 1-2 selected.
    await vs.page.keyboard.press('Control+P');
    await vs.page.locator('.quick-input-widget input').fill('sample.ts');
    await vs.page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'sample.ts' })
      .first()
      .waitFor({ timeout: t(15_000) });
    await vs.page.keyboard.press('Enter');
    const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'ATTACHED_MARKER' }).first();
    await editor.waitFor({ timeout: t(15_000) });
    await editor.click();
    await vs.page.keyboard.press('Control+Home');
    await vs.page.keyboard.press('Shift+ArrowDown');
    await vs.page.keyboard.press('Shift+End');
    await waitFor(
      'two lines selected',
      async () => /selected/.test(await vs.page.locator('[id="status.editor.selection"]').innerText()),
      t(15_000),
      100,
    );

    chat = await openChat(vs);
    await chat.locator('#attach-selection').click();
    await chat.locator('#attach-file').click();
    const attached = chat.locator('#attachments .attachment');
    await waitFor('the composer to list both', async () => (await attached.count()) === 2, t(10_000), 50);
    assert.deepEqual(await attached.allInnerTexts().then((a) => a.map((s) => s.trim())), ['sample.ts:1-2', 'sample.ts']);
    assert.equal(await chat.locator('#attach-selection').getAttribute('aria-pressed'), 'true');

    const first = await sendChat(chat, 'What does this do?');
    await done(first);
    assert.match(lastPrompt(), /ATTACHED_MARKER/, 'the first message carried the code');
    assert.match(await chat.locator('.turn.user').last().locator('.context-labels').innerText(), /sample\.ts/);
    // After sending: nothing attached, both chips off.
    assert.equal(await attached.count(), 0, 'the composer lists nothing for the next message');
    assert.equal(await chat.locator('#attach-selection').getAttribute('aria-pressed'), 'false');
    assert.equal(await chat.locator('#attach-file').getAttribute('aria-pressed'), 'false');

    const second = await sendChat(chat, 'And in one word?');
    await done(second);
    assert.doesNotMatch(lastPrompt(), /ATTACHED_MARKER/, 'the next message carried no code');
    assert.equal(await chat.locator('.turn.user').last().locator('.context-labels').count(), 0);
  } catch (e) {
    await vs.screenshot('chat-attachments-failure').catch(() => {});
    throw e;
  }
});

/** Just enough of the DOM for the functions run inside the webview (the test tier has no DOM types). */
interface Box {
  right: number;
  top: number;
  bottom: number;
}
interface El {
  tagName: string;
  className: unknown;
  getBoundingClientRect(): Box;
}
interface Page {
  document: {
    documentElement: { clientWidth: number; scrollWidth: number };
    querySelectorAll(s: string): Iterable<El>;
    querySelector(s: string): El | null;
  };
  getComputedStyle(e: El): { getPropertyValue(p: string): string };
}

/** The chat view's width in CSS pixels, as its webview sees it. */
const viewWidth = () => chat.evaluate(() => (globalThis as unknown as Page).document.documentElement.clientWidth);

/** Drags the sash between the side bar and the editor until the chat view is `width` px wide. */
async function sidebarWidth(width: number): Promise<number> {
  const sidebar = vs.page.locator('.part.sidebar');
  for (let i = 0; i < 4; i++) {
    const now = await viewWidth();
    if (Math.abs(now - width) <= 1) return now;
    const box = (await sidebar.boundingBox())!;
    const x = box.x + box.width;
    const y = box.y + box.height / 2;
    await vs.page.mouse.move(x, y);
    await vs.page.mouse.down();
    await vs.page.mouse.move(x + (width - now) / 2, y, { steps: 4 });
    await vs.page.mouse.move(x + (width - now), y, { steps: 4 });
    await vs.page.mouse.up();
    await waitFor('the side bar to take its new width', async () => (await viewWidth()) !== now || undefined, t(5_000), 50).catch(
      () => undefined,
    );
  }
  return viewWidth();
}

/** What runs out of the view sideways: elements of the answer whose right edge is past the view's. */
const overflowing = () =>
  chat.evaluate(() => {
    const { document } = globalThis as unknown as Page;
    const width = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > width)
      out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${width})`);
    for (const el of document.querySelectorAll(
      '.turn.assistant .markdown > *, .code-frame, .code-header, .code-actions, .markdown table, .markdown blockquote, .composer, .composer-row, #send',
    )) {
      const r = el.getBoundingClientRect();
      if (r.right > width + 0.5)
        out.push(
          `${el.tagName.toLowerCase()}.${(el.className || '').toString().split(' ').join('.')} ends at ${Math.round(r.right)} > ${width}`,
        );
    }
    return out;
  });

/** Computed colours of the first code block's keyword and text, and of its frame. */
async function codeColours(): Promise<{ keyword: string; code: string; frame: string; page: string }> {
  // (No named functions inside evaluate: the test runner's transform would wrap them in a helper the page lacks.)
  const [keyword, code, frame, page] = await chat.evaluate(() => {
    const { document, getComputedStyle } = globalThis as unknown as Page;
    return [
      ['pre.code-block .hljs-keyword', 'color'],
      ['pre.code-block code', 'color'],
      ['.code-frame', 'background-color'],
      ['body', 'background-color'],
    ].map(([sel, prop]) => getComputedStyle(document.querySelector(sel!)!).getPropertyValue(prop!));
  });
  return { keyword: keyword!, code: code!, frame: frame!, page: page! };
}

/** Relative luminance-ish (0..255) of an rgb() colour. */
function lum(colour: string): number {
  const [r, g, b] = (colour.match(/\d+(\.\d+)?/g) ?? ['0', '0', '0']).map(Number);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

async function shot(name: string): Promise<void> {
  await vs.screenshot(name);
  fs.mkdirSync(resultsDir, { recursive: true });
  await vs.page.locator('.part.sidebar').screenshot({ path: path.join(resultsDir, `${name}-sidebar.png`) });
}

test(
  'a Markdown answer with code blocks, a table and a quote: dark, light and a 180 px sidebar (screenshots), nothing cut off',
  { timeout: t(180_000) },
  async () => {
    try {
      await chat.locator('#new-chat').click();
      await waitFor('an empty chat', async () => (await chat.locator('.turn').count()) === 0, t(10_000), 100);
      const turn = await sendChat(chat, 'How do I sum numbers?');
      await done(turn);
      const body = turn.locator('.markdown');
      // The parts are there and shaped as the chat draws them.
      assert.equal(await body.locator('.code-frame').count(), 2, 'one frame per code block');
      assert.deepEqual(await body.locator('.code-frame .code-lang').allInnerTexts(), ['ts', 'bash']);
      assert.equal(await body.locator('table').count(), 1);
      assert.equal(await body.locator('blockquote').count(), 1);
      assert.ok((await body.locator('pre.code-block .hljs-keyword').count()) > 0, 'the TypeScript is highlighted');
      const dark = await codeColours();
      assert.notEqual(dark.keyword, dark.code, `keywords are coloured: ${JSON.stringify(dark)}`);
      assert.ok(lum(dark.code) > 128 && lum(dark.keyword) > 64, `the code is light text in the dark theme: ${JSON.stringify(dark)}`);
      assert.notEqual(dark.frame, dark.page, 'a code block stands out from the view');
      await shot('chat-markdown-dark');

      await editUserSettings(vs, (s) => {
        s['workbench.colorTheme'] = 'Default Light Modern';
      });
      await chat.locator('body.vscode-light').waitFor({ timeout: t(20_000) });
      // In the light theme the code is not drawn in the dark theme's colours: the keyword colour differs from the
      // text's, and the code's text is dark on the light frame.
      const light = await codeColours();
      assert.notEqual(light.keyword, light.code, `keywords are coloured: ${JSON.stringify(light)}`);
      assert.notEqual(light.keyword, dark.keyword, `in the light theme's colours, not the dark one's: ${JSON.stringify({ light, dark })}`);
      assert.ok(lum(light.code) < 128 && lum(light.keyword) < 128, `the code is dark text in the light theme: ${JSON.stringify(light)}`);
      assert.notEqual(light.frame, light.page, `a code block stands out from the view in the light theme too: ${JSON.stringify(light)}`);
      await shot('chat-markdown-light');

      await editUserSettings(vs, (s) => {
        s['workbench.colorTheme'] = 'Default Dark Modern';
      });
      await chat.locator('body.vscode-dark').waitFor({ timeout: t(20_000) });
      const width = await sidebarWidth(180);
      assert.ok(Math.abs(width - 180) <= 10, `the chat view is ~180 px wide: ${width}`);
      await turn.locator('.code-frame').first().scrollIntoViewIfNeeded();
      assert.deepEqual(await overflowing(), [], 'nothing runs out of a 180 px view');
      // The long line scrolls inside its block (not clipped, not wrapping the page).
      const pre = await turn
        .locator('pre.code-block')
        .first()
        .evaluate((p) => ({
          scroll: p.scrollWidth,
          client: p.clientWidth,
          overflow: (globalThis as unknown as Page).getComputedStyle(p as unknown as El).getPropertyValue('overflow-x'),
        }));
      assert.ok(pre.scroll > pre.client && pre.overflow === 'auto', `the code scrolls inside its block: ${JSON.stringify(pre)}`);
      await shot('chat-markdown-narrow');
      await turn.locator('.answer-meta').scrollIntoViewIfNeeded();
      await shot('chat-markdown-narrow-top');

      // While an answer streams in the 180 px view, Stop takes Send's place on the chips' row: nothing wraps onto a
      // line of its own under the input, and nothing runs out of the view.
      ollama.setBehaviour({ mode: 'stallAfterTokens', afterTokens: 3 }, 'POST /api/chat');
      const streaming = await sendChat(chat, 'And once more?');
      await waitFor(
        'the answer to stream, with Stop shown',
        async () =>
          ((await streaming.getAttribute('data-status')) === 'streaming' && (await chat.locator('#stop').isVisible())) || undefined,
        t(20_000),
        100,
      );
      const [stop, chip, prompt] = await chat.evaluate(() => {
        const { document } = globalThis as unknown as Page;
        return ['#stop', '#attach-selection', '#prompt'].map((sel) => {
          const r = document.querySelector(sel)!.getBoundingClientRect();
          return { top: Math.round(r.top), bottom: Math.round(r.bottom), right: Math.round(r.right) };
        });
      });
      const view = await viewWidth();
      assert.ok(Math.abs(stop!.top - chip!.top) <= 4, `Stop is on the chips' row: ${JSON.stringify({ stop, chip })}`);
      assert.ok(
        stop!.top >= prompt!.bottom && stop!.right <= view,
        `Stop is under the input, inside the view: ${JSON.stringify({ stop, prompt, view })}`,
      );
      assert.equal(await chat.locator('#send').isVisible(), false, 'Send is hidden while Stop shows');
      assert.deepEqual(await overflowing(), [], 'nothing runs out of a 180 px view while streaming');
      await shot('chat-markdown-narrow-streaming');
      await chat.locator('#stop').click();
      await waitFor(
        'the stream to stop',
        async () => (await streaming.getAttribute('data-status')) !== 'streaming' || undefined,
        t(20_000),
        100,
      );
      ollama.setBehaviour({ mode: 'ok' });
    } catch (e) {
      await vs.screenshot('chat-markdown-failure').catch(() => {});
      throw e;
    }
  },
);

test("Focus on Chat View puts the cursor in the prompt, also when a code block's Copy had the focus", { timeout: t(60_000) }, async () => {
  try {
    // A click on Copy focuses that button; then the editor takes the focus (runCommand clicks it), then the command.
    await chat.locator('.code-actions button').first().click();
    await vs.runCommand('Switchyard: Focus on Chat View');
    // The view takes the focus a moment after the command (typing at once would lose the first keys anywhere).
    const focused = () =>
      chat.evaluate(() => {
        const { document } = globalThis as unknown as { document: { hasFocus(): boolean; activeElement: { id?: string } | null } };
        return document.hasFocus() ? (document.activeElement?.id ?? '') : '(not focused)';
      });
    await waitFor('the chat view to take the focus', async () => ((await focused()) !== '(not focused)' ? true : undefined), t(10_000), 50);
    assert.equal(await focused(), 'prompt', 'the prompt has the focus, not the Copy button clicked before');
    await vs.page.keyboard.type('typed after focus');
    await waitFor(
      'the keys to land in the prompt',
      async () => (await chat.locator('#prompt').inputValue()) === 'typed after focus' || undefined,
      t(10_000),
      100,
    );
    await chat.locator('#prompt').fill('');
  } catch (e) {
    await vs.screenshot('chat-focus-failure').catch(() => {});
    throw e;
  }
});
