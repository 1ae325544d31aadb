// The chat view's rendering in jsdom against a scripted host (test/fixtures/webviewDom.ts), with the built stylesheet
// after VS Code's own webview defaults (which give every `code` element a background and padding): code blocks are one
// frame with one background, a language label and Copy that turns into a check; quotes and tables are styled; an
// error shows its kind in words; history entries show a title and a date; focusing the view focuses the prompt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { ChatState, Turn } from '../../src/protocol/chat';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('chat')) && 'run esbuild first';
const css = path.join(path.dirname(webviewBundle('chat')), 'chat.main.css');

/** The part of VS Code's webview default styles (src/vs/workbench/contrib/webview/browser/pre/index.html) at issue. */
const VSCODE_DEFAULTS = `code { color: rgb(1, 2, 3); background-color: rgb(200, 0, 0); padding: 1px 3px; border-radius: 4px; }
pre code { padding: 0; }
blockquote { background: rgb(9, 9, 9); }`;

function load() {
  const page = loadWebview<{ kind: string; id?: number; name?: string; payload?: unknown }>('chat', '<div id="app"></div>');
  // Defaults first, then the bundle's stylesheet: the order VS Code's webview gives them.
  page.window.eval(`{
    const add = (text) => { const s = document.createElement('style'); s.textContent = text; document.head.append(s); };
    add(${JSON.stringify(VSCODE_DEFAULTS)});
    add(${JSON.stringify(fs.readFileSync(css, 'utf8'))});
  }`);
  return page;
}

const nextFrame = (page: ReturnType<typeof load>) =>
  new Promise<void>((resolve) => (page.window.requestAnimationFrame as (f: () => void) => void)(() => resolve()));

function state(turns: Turn[], extra: Partial<ChatState> = {}): ChatState {
  const at = '2026-11-26T10:00:00.000Z';
  return {
    conversation: { id: 'c1', title: 'Sums', createdAt: at, updatedAt: at, turns },
    history: [],
    route: 'box/qwen (local)',
    workspaceIndex: { available: false },
    ...extra,
  };
}

const ANSWER = [
  'Here:',
  '',
  '```ts',
  'const a = 1;',
  'const b = 2;',
  '```',
  '',
  '> Note: quoted.',
  '',
  '| a | b |',
  '| - | - |',
  '| 1 | 2 |',
  '',
  '```',
  'plain',
  '```',
].join('\n');

test(
  'chat view (jsdom): a code block is one frame on one background, with a language label and Copy that shows a check',
  { skip },
  async () => {
    const page = load();
    const doc = page.window.document;
    const style = (el: unknown) => (page.window.getComputedStyle as (e: unknown) => Record<string, string>)(el);
    try {
      page.deliver({
        kind: 'notify',
        name: 'chat/state',
        payload: state([
          {
            id: 'a1',
            role: 'assistant',
            text: ANSWER,
            at: '2026-11-26T10:00:00.000Z',
            status: 'done',
            answer: { providerId: 'box', model: 'qwen', local: true },
          },
        ]),
      });
      const frames = [...doc.querySelectorAll('.markdown .code-frame')];
      assert.equal(frames.length, 2, 'one frame per block');
      assert.deepEqual(
        frames.map((f) => f.querySelector('.code-lang')?.textContent),
        ['ts', 'text'],
        'the language label (text when none)',
      );
      assert.equal(
        doc.querySelectorAll('.code-frame > .code-header .code-actions button').length,
        8,
        'the actions sit in the frame header',
      );
      const code = doc.querySelector('.code-frame pre.code-block code')!;
      assert.match(
        style(code).backgroundColor,
        /^(transparent|rgba\(0, 0, 0, 0\))$/,
        'the code inside a block has no background of its own (VS Code paints one per line)',
      );
      assert.notEqual(style(doc.querySelector('.code-frame')).backgroundColor, '', 'the frame has the one background');
      assert.equal(style(doc.querySelector('.code-frame pre')).overflowX, 'auto', 'long lines scroll inside the frame');
      assert.equal(style(doc.querySelector('.markdown blockquote')).borderLeftStyle, 'solid', 'quotes have a bar');
      assert.equal(style(doc.querySelector('.markdown td')).borderTopStyle, 'solid', 'table cells have borders');
      assert.equal(style(doc.querySelector('.markdown table')).overflowX, 'auto', 'a wide table scrolls on its own');

      // Copy: the host confirms, the button shows a check and says Copied.
      const copy = doc.querySelector('.code-frame [data-code-action="copy"]')!;
      copy.click();
      const request = page.sent.find((m) => m.name === 'chat/code')!;
      assert.deepEqual(request.payload, { action: 'copy', code: 'const a = 1;\nconst b = 2;', language: 'ts' });
      page.deliver({ kind: 'reply', id: request.id, ok: true, payload: null });
      await nextFrame(page);
      assert.ok(copy.querySelector('.codicon-check'), 'a check mark');
      assert.equal(copy.getAttribute('aria-label'), 'Copied');
    } finally {
      page.window.close();
    }
  },
);

test(
  'chat view (jsdom): an error shows its kind in words as a title; history entries show a title and a date; focusing the view focuses the prompt',
  { skip },
  async () => {
    const page = load();
    const doc = page.window.document;
    try {
      const long = `No model could answer: box/qwen2.5-coder:7b failed (model not found: ${'x'.repeat(300)}).`;
      page.deliver({
        kind: 'notify',
        name: 'chat/state',
        payload: state(
          [
            { id: 'u1', role: 'user', text: 'hi', at: '2026-11-26T10:00:00.000Z' },
            {
              id: 'a1',
              role: 'assistant',
              text: '',
              at: '2026-11-26T10:00:00.000Z',
              status: 'error',
              error: { kind: 'modelMissing', title: 'model not found', message: long, actions: [{ id: 'retry', label: 'Retry' }] },
            },
          ],
          {
            history: [
              { id: 'c1', title: 'Sums', updatedAt: new Date().toISOString(), turns: 2 },
              { id: 'c0', title: 'Older', updatedAt: '2025-01-02T10:00:00.000Z', turns: 4 },
            ],
          },
        ),
      });
      const error = doc.querySelector('.turn-error')!;
      assert.equal(error.querySelector('.error-title')?.textContent, 'Model not found');
      assert.doesNotMatch(error.textContent ?? '', /modelMissing/, 'no kind identifiers in what the user reads');
      const style = (el: unknown) => (page.window.getComputedStyle as (e: unknown) => Record<string, string>)(el);
      assert.equal(style(error.querySelector('.error-message')).overflowWrap, 'anywhere', 'a long message wraps inside its box');

      page.byId('history-toggle').click();
      const items = [...doc.querySelectorAll('.history-item')];
      assert.deepEqual(
        items.map((i) => i.querySelector('.history-title')?.textContent),
        ['Sums', 'Older'],
      );
      assert.match(items[0]!.querySelector('.history-date')?.textContent ?? '', /^Today /, 'today: "Today" and the time');
      assert.match(items[1]!.querySelector('.history-date')?.textContent ?? '', /2025/, 'another year: the full date');

      // "Focus on Chat View" focuses the webview's window: the prompt gets the focus.
      (doc.activeElement as { blur(): void }).blur();
      assert.notEqual(doc.activeElement, page.byId('prompt'));
      page.window.dispatchEvent(new page.window.Event('focus'));
      assert.equal(doc.activeElement, page.byId('prompt'));
    } finally {
      page.window.close();
    }
  },
);

test(
  'chat view (jsdom): a first run with no model shows how to get one (Get Started, Start Ollama, Download a GGUF Model, Open Model Settings)',
  { skip },
  () => {
    const page = load();
    const doc = page.window.document;
    try {
      page.deliver({ kind: 'notify', name: 'chat/state', payload: state([], { noModel: true, route: 'no model available' }) });
      const first = doc.querySelector('#first-run')!;
      assert.ok(first, 'the first-run state');
      assert.deepEqual(
        [...first.querySelectorAll('button')].map((b) => b.getAttribute('data-action')),
        ['walkthrough', 'startOllama', 'downloadGguf', 'openSettings'],
      );
      (first.querySelector('button[data-action="walkthrough"]') as unknown as { click(): void }).click();
      const asked = page.sent.find((m) => m.name === 'chat/action');
      assert.deepEqual(asked?.payload, { turnId: '', action: { id: 'walkthrough', label: 'Get Started' } });
      // Once a model is found, the plain empty state.
      page.deliver({ kind: 'notify', name: 'chat/state', payload: state([], { noModel: false }) });
      assert.equal(doc.querySelector('#first-run'), null);
      assert.ok(doc.querySelector('.empty'));
    } finally {
      page.window.close();
    }
  },
);

test('chat view (jsdom): a fallback notice shows its actions (Pull) and runs them on the host', { skip }, () => {
  const page = load();
  const doc = page.window.document;
  try {
    const answer = {
      providerId: 'cloud',
      model: 'gpt',
      local: false,
      fallbackReason: 'box/qwen2.5-coder:7b failed (model not found: not pulled)',
      fallbackActions: [{ id: 'pullModel' as const, label: 'Pull qwen2.5-coder:7b', arg: 'box/qwen2.5-coder:7b' }],
    };
    page.deliver({
      kind: 'notify',
      name: 'chat/state',
      payload: state([{ id: 'a1', role: 'assistant', text: 'Hi.', at: '2026-11-26T10:00:00.000Z', status: 'done', answer }]),
    });
    const pull = doc.querySelector('.fallback-notice .fallback-action[data-action="pullModel"]')!;
    assert.equal(pull.textContent, 'Pull qwen2.5-coder:7b');
    pull.click();
    assert.deepEqual(page.sent.find((m) => m.name === 'chat/action')?.payload, { turnId: 'a1', action: answer.fallbackActions[0] });
  } finally {
    page.window.close();
  }
});
