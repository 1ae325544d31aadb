// The chat view's script in jsdom against a scripted host (test/fixtures/webviewDom.ts): a thinking model's
// reasoning as the host streams it — plain text (never markup), open while the model thinks, closed once the answer
// starts unless the user opened it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { ChatState, Turn } from '../../src/protocol/chat';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('chat')) && 'run esbuild first';
const frame = () => new Promise((resolve) => setTimeout(resolve, 60));

function state(turns: Turn[]): ChatState {
  const at = '2026-11-26T00:00:00.000Z';
  return {
    conversation: { id: 'c1', title: 'Sums', createdAt: at, updatedAt: at, turns },
    history: [],
    streaming: 1,
    route: 'box/qwen3 (local)',
    workspaceIndex: { available: false },
  };
}

test(
  'chat view (jsdom): reasoning streams as text in an open "Thinking…" block, then folds away when the answer starts',
  { skip },
  async () => {
    const page = loadWebview<unknown>('chat', '<div id="app"></div>');
    const doc = page.window.document;
    const notify = (name: string, payload: unknown) => page.deliver({ kind: 'notify', name, payload });
    try {
      const at = '2026-11-26T00:00:00.000Z';
      notify(
        'chat/state',
        state([
          { id: 'u1', role: 'user', text: 'What is 2 + 2?', at },
          { id: 'a1', role: 'assistant', text: '', at, status: 'streaming', answer: { providerId: 'box', model: 'qwen3', local: true } },
        ]),
      );
      await frame();
      assert.ok(doc.querySelector('.thinking'), 'before any output: waiting for the model');

      const evil = '<img src=x onerror="window.pwned=1"> 2 + 2 is **four**';
      notify('chat/reasoning', { turnId: 'a1', text: 'Let me think. ' });
      notify('chat/reasoning', { turnId: 'a1', text: evil });
      await frame();
      const details = () =>
        doc.querySelector('section[data-turn="a1"] details.reasoning') as unknown as { open: boolean; textContent: string } | null;
      assert.ok(details(), 'a reasoning block');
      assert.equal(details()!.open, true, 'open while the model thinks');
      assert.match(doc.querySelector('section[data-turn="a1"] details.reasoning summary')!.textContent ?? '', /Thinking…/);
      assert.equal(
        doc.querySelector('section[data-turn="a1"] .reasoning-text')!.textContent,
        `Let me think. ${evil}`,
        'the reasoning as the model wrote it, as text',
      );
      assert.equal(doc.querySelectorAll('section[data-turn="a1"] img').length, 0, 'no markup from the model');
      assert.equal(page.window.pwned, undefined);
      assert.equal(doc.querySelector('.thinking'), null, 'the reasoning replaces "Waiting for the model…"');

      notify('chat/chunk', { turnId: 'a1', text: 'Four.' });
      await frame();
      assert.equal(details()!.open, false, 'folded once the answer starts');
      assert.match(doc.querySelector('section[data-turn="a1"] details.reasoning summary')!.textContent ?? '', /Reasoning/);
      assert.equal(
        doc.querySelector('section[data-turn="a1"] .markdown')!.textContent?.trim(),
        'Four.',
        'the answer has no reasoning in it',
      );

      // The user opens it: later chunks (each re-renders the turn) leave it open.
      doc.querySelector('section[data-turn="a1"] details.reasoning summary')!.click();
      await frame();
      notify('chat/chunk', { turnId: 'a1', text: ' Done.' });
      await frame();
      assert.equal(details()!.open, true, 'the user’s choice survives re-renders');
    } finally {
      page.window.close();
    }
  },
);
