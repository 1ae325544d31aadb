// The chat view's composer in jsdom against a scripted host (test/fixtures/webviewDom.ts): attachments belong to one
// message. Before sending, the composer shows exactly what Selection / File carry (file and line range, following the
// editor as the host reports it) with a way to remove each; after sending, the next message starts with none. Stop
// takes Send's place while an answer streams, so the row never wraps Send under the input.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { ChatState, EditorContext } from '../../src/protocol/chat';
import { loadWebview, webviewBundle, type DomElement } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('chat')) && 'run esbuild first';

interface Sent {
  kind: string;
  id?: number;
  name?: string;
  payload?: { text: string; context: string[] };
}

function state(editor: EditorContext): ChatState {
  const at = '2026-11-26T00:00:00.000Z';
  return {
    conversation: { id: 'c1', title: 'New chat', createdAt: at, updatedAt: at, turns: [] },
    history: [],
    route: 'box/qwen (local)',
    workspaceIndex: { available: false },
    editor,
  };
}

test(
  'chat view (jsdom): the composer shows what is attached (file and lines), each removable, and attachments reset after sending',
  { skip },
  () => {
    const page = loadWebview<Sent>('chat', '<div id="app"></div>');
    const doc = page.window.document;
    const notify = (name: string, payload: unknown) => page.deliver({ kind: 'notify', name, payload });
    const shown = () => [...doc.querySelectorAll('#attachments .attachment')].map((a) => `${a.getAttribute('data-kind')}=${a.textContent}`);
    const pressed = (kind: string) => page.byId(`attach-${kind}`).getAttribute('aria-pressed');
    const sendText = (text: string) => {
      const prompt = page.byId('prompt');
      page.type(prompt, text);
      const KeyboardEvent = page.window.KeyboardEvent as new (type: string, init: object) => unknown;
      prompt.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    };
    const sends = () => page.sent.filter((m) => m.kind === 'request' && m.name === 'chat/send');
    try {
      notify('chat/state', state({ file: 'src/a.ts', selection: { startLine: 3, endLine: 9 } }));
      assert.deepEqual(shown(), [], 'nothing attached at first');

      page.byId('attach-selection').click();
      page.byId('attach-file').click();
      assert.deepEqual(shown(), ['selection=src/a.ts:3-9', 'file=src/a.ts'], 'the composer names the file and the selected lines');
      assert.equal(pressed('selection'), 'true');

      // The user moves to another editor with nothing selected: the composer says what a send would carry now.
      notify('chat/editor', { file: 'src/b.ts' });
      assert.deepEqual(shown(), ['selection=no selection in src/b.ts', 'file=src/b.ts']);
      assert.match(
        doc.querySelector('#attachments .attachment[data-kind="selection"]')!.getAttribute('class') ?? '',
        /\bempty\b/,
        'an attachment that carries nothing looks empty',
      );
      notify('chat/editor', { file: 'src/b.ts', selection: { startLine: 12, endLine: 12 } });
      assert.deepEqual(shown(), ['selection=src/b.ts:12', 'file=src/b.ts']);

      // Remove the file from the next message.
      const remove = doc.querySelector('#attachments .attachment[data-kind="file"] .attachment-remove') as DomElement;
      assert.match(remove.getAttribute('aria-label') ?? '', /Remove file src\/b\.ts/);
      remove.click();
      assert.deepEqual(shown(), ['selection=src/b.ts:12']);
      assert.equal(pressed('file'), 'false', 'the File chip follows the removal');

      sendText('What does this do?');
      assert.equal(sends().length, 1);
      assert.deepEqual(
        sends()[0]!.payload,
        { text: 'What does this do?', context: ['selection'] },
        'the message carries exactly what was shown',
      );
      assert.deepEqual(shown(), [], 'after sending, nothing is attached');
      assert.equal(pressed('selection'), 'false');

      // While it streams, Stop takes Send's place (the row keeps its width).
      assert.equal((page.byId('stop') as unknown as { hidden: boolean }).hidden, false, 'Stop shows while streaming');
      assert.equal((page.byId('send') as unknown as { hidden: boolean }).hidden, true, 'Send is hidden while streaming');
      page.deliver({ kind: 'reply', id: sends()[0]!.id, ok: true, payload: { turnId: 't2' } });
      return new Promise<void>((resolve, reject) => {
        // The reply settles in a microtask chain; a macrotask later the composer is idle again.
        (page.window.setTimeout as (f: () => void, ms: number) => void)(() => {
          try {
            assert.equal((page.byId('send') as unknown as { hidden: boolean }).hidden, false, 'Send is back once the answer is done');
            sendText('And this?');
            assert.equal(sends().length, 2);
            assert.deepEqual(
              sends()[1]!.payload,
              { text: 'And this?', context: [] },
              'the second message carries nothing unless attached again',
            );
            resolve();
          } catch (e) {
            reject(e);
          }
        }, 0);
      }).finally(() => page.window.close());
    } catch (e) {
      page.window.close();
      throw e;
    }
  },
);
