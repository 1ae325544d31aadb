// The chat view follows reality without a reload (jsdom, scripted host; test/fixtures/webviewDom.ts): the host's
// chat/route (a server went down or came back) changes the header, and the empty view's "No model found yet" comes
// and goes with it; chat/index (the index built, embeddings paused or resumed) changes the composer's note. Neither
// re-renders the conversation (an answer being read or streamed stays the same element).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { ChatState, Turn } from '../../src/protocol/chat';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('chat')) && 'run esbuild first';
const at = '2026-11-26T00:00:00.000Z';

function state(turns: Turn[], extra: Partial<ChatState> = {}): ChatState {
  return {
    conversation: { id: 'c1', title: 'New chat', createdAt: at, updatedAt: at, turns },
    history: [],
    route: 'box/qwen (local)',
    workspaceIndex: { available: false, note: 'No workspace index yet: @workspace answers without workspace search.' },
    ...extra,
  };
}

function open() {
  const page = loadWebview<{ kind: string }>('chat', '<div id="app"></div>');
  const doc = page.window.document;
  const raf = page.window.requestAnimationFrame as (cb: () => void) => number;
  const frames = () => new Promise((r) => raf(() => r(undefined)));
  return {
    ...page,
    doc,
    frames,
    notify: (name: string, payload: unknown) => page.deliver({ kind: 'notify', name, payload }),
    header: () => (doc.querySelector('.toolbar .route')!.textContent ?? '').trim(),
    note: () => page.byId('index-note').textContent ?? '',
  };
}

test('chat view (jsdom): the header and the empty view follow chat/route; the composer note follows chat/index', { skip }, () => {
  const p = open();
  try {
    p.notify('chat/state', state([]));
    assert.equal(p.header(), 'box/qwen (local)');
    assert.equal(p.doc.getElementById('first-run'), null);
    assert.match(p.note(), /No workspace index yet/);

    // The server went down.
    p.notify('chat/route', { route: 'no model available', noModel: true });
    assert.equal(p.header(), 'no model available');
    assert.ok(p.doc.getElementById('first-run'), 'the empty view says how to get a model');

    // The index was built; then its embedding server went away.
    p.notify('chat/index', { available: true });
    assert.equal(p.note(), '');
    p.notify('chat/index', { available: true, note: 'embeddings paused: box/nomic-embed-text: unreachable: connection refused' });
    assert.match(p.note(), /^embeddings paused: box\/nomic-embed-text: unreachable/);

    // And came back.
    p.notify('chat/route', { route: 'box/qwen (local)', noModel: false });
    p.notify('chat/index', { available: true });
    assert.equal(p.header(), 'box/qwen (local)');
    assert.equal(p.doc.getElementById('first-run'), null);
    assert.equal(p.note(), '');
  } finally {
    p.window.close();
  }
});

test('chat view (jsdom): a route change mid-answer leaves the conversation as it is', { skip }, async () => {
  const p = open();
  try {
    const user: Turn = { id: 'u1', role: 'user', text: 'hi', at };
    const answer: Turn = {
      id: 'a1',
      role: 'assistant',
      text: 'Hel',
      at,
      status: 'streaming',
      answer: { providerId: 'box', model: 'qwen', local: true },
    };
    p.notify('chat/state', state([user, answer], { streaming: 7 }));
    const before = p.doc.querySelector('[data-turn="a1"]');
    p.notify('chat/chunk', { turnId: 'a1', text: 'lo' });
    await p.frames();
    const streaming = p.doc.querySelector('[data-turn="a1"]');
    p.notify('chat/route', { route: 'no model available', noModel: true });
    p.notify('chat/index', { available: true, note: 'embeddings paused: box: unreachable' });
    assert.equal(p.doc.querySelector('[data-turn="a1"]'), streaming, 'the streaming answer is the same element');
    assert.notEqual(before, null);
    assert.equal(p.doc.getElementById('first-run'), null, 'no empty view over a conversation');
    assert.match(p.doc.querySelector('[data-turn="a1"] .markdown')!.textContent ?? '', /Hello/);
    assert.equal(p.byId('stop').getAttribute('hidden'), null, 'still streaming: Stop shown');
  } finally {
    p.window.close();
  }
});
