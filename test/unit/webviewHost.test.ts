// The host side of every webview's protocol (src/vscode/webview/host.ts) against a scripted webview: what is rejected
// before any handler runs, which handler a request reaches, and what goes back as its reply.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProviderError } from '../../src/core/errors';
import type { UsageNotifications, UsageRequests } from '../../src/protocol/usage';
import { WebviewHost, type WebviewPort } from '../../src/vscode/webview/host';
import { CHAT_SHAPES, USAGE_SHAPES } from '../../src/vscode/webview/validate';
import type { ChatNotifications, ChatRequests } from '../../src/protocol/chat';

function scriptedWebview() {
  const posted: unknown[] = [];
  let listener: ((m: unknown) => unknown) | undefined;
  const port: WebviewPort = {
    postMessage: async (m) => {
      posted.push(JSON.parse(JSON.stringify(m)));
      return true;
    },
    onDidReceiveMessage: (l) => {
      listener = l;
      return { dispose: () => (listener = undefined) };
    },
  };
  return { port, posted, send: (m: unknown) => listener?.(m), listening: () => listener !== undefined };
}

function usageHost(overrides: Partial<{ exportCsv: () => Promise<{ path: string; egressPath: string } | null> }> = {}) {
  const webview = scriptedWebview();
  const warnings: string[] = [];
  const calls: string[] = [];
  const events: string[] = [];
  const host = new WebviewHost<UsageRequests, UsageNotifications>(webview.port, {
    shapes: USAGE_SHAPES,
    label: 'usage view',
    log: { warn: (m) => warnings.push(m) },
    onReady: () => events.push('ready'),
    onCancel: (id) => events.push(`cancel ${id}`),
    onFailure: (name, message) => events.push(`failed ${name}: ${message}`),
  })
    .on('usage/range', (p) => {
      calls.push(`range ${p.days}`);
      return null;
    })
    .on('usage/egressFilter', async (p) => {
      calls.push(`filter ${p.day}|${p.provider}`);
      return null;
    })
    .on('usage/exportCsv', overrides.exportCsv ?? (async () => ({ path: '/u.csv', egressPath: '/u-egress.csv' })))
    .listen();
  return { host, webview, warnings, calls, events };
}

test('webview host: unknown kinds, unknown names and payloads of the wrong shape are rejected before any handler runs', async () => {
  const { host, webview, warnings, calls } = usageHost();
  for (const bad of [
    null,
    'usage/range',
    [],
    { kind: 'notify', name: 'usage/data', payload: {} },
    { kind: 'request', name: 'usage/range', payload: { days: 7 } },
    { kind: 'request', id: 1.5, name: 'usage/range', payload: { days: 7 } },
    { kind: 'request', id: 2, name: 'usage/delete', payload: {} },
    { kind: 'request', id: 3, name: 'toString', payload: {} },
    { kind: 'request', id: 4, name: 'usage/range', payload: { days: 0 } },
    { kind: 'request', id: 5, name: 'usage/range', payload: { days: '7' } },
    { kind: 'request', id: 6, name: 'usage/range' },
    { kind: 'request', id: 7, name: 'usage/egressFilter', payload: { day: 'yesterday', provider: '' } },
    { kind: 'request', id: 8, name: 'usage/egressFilter', payload: { day: '', provider: 'x'.repeat(201) } },
    { kind: 'cancel', id: 'one' },
  ]) {
    await host.receive(bad);
  }
  assert.deepEqual(calls, []);
  assert.deepEqual(webview.posted, [], 'nothing is replied to a message that is not one of the protocol');
  assert.equal(warnings.length, 14);
  assert.ok(
    warnings.every((w) => w.startsWith('usage view: ignored an invalid message (')),
    warnings.join('\n'),
  );
  assert.match(warnings[6]!, /unknown request "usage\/delete"/);
  assert.match(warnings[8]!, /usage\/range: days is invalid/);
});

test('webview host: each request reaches its own handler and its result is the reply; ready and cancel go to the owner', async () => {
  const { webview, calls, events } = usageHost();
  assert.ok(webview.listening());
  await webview.send({ kind: 'ready' });
  await webview.send({ kind: 'request', id: 1, name: 'usage/range', payload: { days: 30 } });
  await webview.send({ kind: 'request', id: 2, name: 'usage/egressFilter', payload: { day: '2026-11-02', provider: 'openai' } });
  await webview.send({ kind: 'request', id: 3, name: 'usage/exportCsv', payload: {} });
  await webview.send({ kind: 'cancel', id: 3 });
  assert.deepEqual(calls, ['range 30', 'filter 2026-11-02|openai']);
  assert.deepEqual(events, ['ready', 'cancel 3']);
  assert.deepEqual(webview.posted, [
    { kind: 'reply', id: 1, ok: true, payload: null },
    { kind: 'reply', id: 2, ok: true, payload: null },
    { kind: 'reply', id: 3, ok: true, payload: { path: '/u.csv', egressPath: '/u-egress.csv' } },
  ]);
});

test('webview host: a handler that throws is a failed reply with the error kind, then onFailure hears of it', async () => {
  let failWith: unknown = new ProviderError('unreachable', 'box is down');
  const { webview, events } = usageHost({
    exportCsv: async () => {
      throw failWith;
    },
  });
  await webview.send({ kind: 'request', id: 9, name: 'usage/exportCsv', payload: {} });
  failWith = 'plain';
  await webview.send({ kind: 'request', id: 10, name: 'usage/exportCsv', payload: {} });
  assert.deepEqual(webview.posted, [
    { kind: 'reply', id: 9, ok: false, error: { kind: 'unreachable', message: 'box is down' } },
    { kind: 'reply', id: 10, ok: false, error: { kind: 'error', message: 'plain' } },
  ]);
  assert.deepEqual(events, ['failed usage/exportCsv: box is down', 'failed usage/exportCsv: plain']);
});

test('webview host: notify posts a notification; after dispose nothing more is taken from the webview', async () => {
  const { host, webview, calls } = usageHost();
  host.notify('usage/data', { rangeDays: 7 } as UsageNotifications['usage/data']);
  assert.deepEqual(webview.posted, [{ kind: 'notify', name: 'usage/data', payload: { rangeDays: 7 } }]);
  host.dispose();
  assert.equal(webview.listening(), false);
  await webview.send({ kind: 'request', id: 1, name: 'usage/range', payload: { days: 30 } });
  assert.deepEqual(calls, []);
});

test('webview host: typed: listen() does not compile until every request has a handler, nor on() for a name twice', () => {
  const webview = scriptedWebview();
  const options = { shapes: CHAT_SHAPES, label: 'chat view', log: { warn() {} }, onReady() {} };
  const partial = new WebviewHost<ChatRequests, ChatNotifications>(webview.port, options).on('chat/new', () => null);
  // @ts-expect-error chat/send, chat/open, … have no handler
  partial.listen();
  // @ts-expect-error chat/new has its handler already
  partial.on('chat/new', () => null);
  // @ts-expect-error a handler's reply must be its request's reply type
  partial.on('chat/send', () => null);
  // @ts-expect-error not a request of the chat protocol
  partial.on('usage/range', () => null);
  // @ts-expect-error a notification's payload is typed too
  partial.notify('chat/chunk', { text: 1 });
  const shapes: Record<keyof ChatRequests, unknown> = CHAT_SHAPES;
  assert.deepEqual(Object.keys(shapes).sort(), [
    'chat/action',
    'chat/code',
    'chat/delete',
    'chat/new',
    'chat/open',
    'chat/openCitation',
    'chat/send',
  ]);
});
