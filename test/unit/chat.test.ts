// src/core/chat: prompt assembly within the context window (trim and say what was dropped), conversation persistence;
// the host's message validation and error → action mapping (pure parts of src/vscode/chat).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemblePrompt } from '../../src/core/chat/prompt';
import { ConversationStore, MAX_CONVERSATIONS, historyMessages, settleInterrupted, type KeyValueStore } from '../../src/core/chat/store';
import { estimateMessagesTokens } from '../../src/core/providers/tokenEstimate';
import { ProviderError } from '../../src/core/errors';
import { errorActions, fallbackReason } from '../../src/vscode/chat/errorActions';
import { validateChatMessage, validateSettingsMessage } from '../../src/vscode/webview/validate';
import type { RouteAttempt } from '../../src/core/routing/router';

const words = (n: number, w = 'token') => Array.from({ length: n }, (_, i) => `${w}${i}`).join(' ');

test('assemblePrompt keeps everything when it fits, with the system prompt first and context before the question', () => {
  const p = assemblePrompt({
    system: 'sys',
    history: [
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1' },
    ],
    context: [{ label: 'selection in a.ts:1-2', text: 'const a = 1;' }],
    question: 'what is a?',
    contextWindow: 4096,
    answerTokens: 512,
  });
  assert.equal(p.notice, undefined);
  assert.deepEqual(
    p.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'user'],
  );
  assert.match(p.messages.at(-1)!.content, /selection in a\.ts:1-2[\s\S]*const a = 1;[\s\S]*what is a\?$/);
  assert.ok(estimateMessagesTokens(p.messages) <= p.budget);
});

test('assemblePrompt drops the oldest history and low-priority context to fit, and says what it dropped', () => {
  const history = Array.from({ length: 10 }, (_, i) => ({
    role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
    content: `turn ${i} ${words(60)}`,
  }));
  const p = assemblePrompt({
    system: 'sys',
    history,
    context: [
      { label: 'selection in a.ts:1-20', text: words(100) },
      { label: 'big.ts:1-400', text: words(2000) },
      { label: 'small.ts:1-5', text: words(20) },
    ],
    question: 'explain',
    contextWindow: 1500,
    answerTokens: 400,
  });
  assert.deepEqual(p.droppedContext, ['big.ts:1-400']);
  assert.ok(p.droppedMessages > 0 && p.droppedMessages < 10);
  // The newest turns are the ones kept, in order.
  const kept = p.messages.slice(1, -1).map((m) => m.content.split(' ').slice(0, 2).join(' '));
  assert.equal(kept.at(-1), 'turn 9');
  assert.match(p.notice!, /1500-token window: context left out: big\.ts:1-400; \d+ earlier messages left out/);
  // The estimate the providers use stays inside the window minus the answer.
  assert.ok(estimateMessagesTokens(p.messages) <= 1500 - 400, `${estimateMessagesTokens(p.messages)} tokens`);
  assert.match(p.messages.at(-1)!.content, /small\.ts:1-5/);
});

test('assemblePrompt caps the answer reservation at half the window and refuses a question that cannot fit', () => {
  const p = assemblePrompt({ system: 's', history: [], context: [], question: 'q', contextWindow: 1000, answerTokens: 5000 });
  assert.equal(p.budget, 500);
  assert.throws(
    () => assemblePrompt({ system: 's', history: [], context: [], question: words(2000), contextWindow: 1000, answerTokens: 100 }),
    (e: unknown) => e instanceof ProviderError && e.kind === 'contextOverflow' && /Shorten it/.test(e.message),
  );
});

function memoryKv(): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: <T>(k: string) => (data.has(k) ? (JSON.parse(JSON.stringify(data.get(k))) as T) : undefined),
    update: async (k, v) => {
      if (v === undefined) data.delete(k);
      else data.set(k, JSON.parse(JSON.stringify(v)));
    },
  };
}

test('ConversationStore saves, lists newest first, reloads from the same storage, deletes and evicts the oldest', async () => {
  const kv = memoryKv();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const store = new ConversationStore(kv, () => new Date((clock += 1000)));
  const a = store.create();
  await store.save(a);
  assert.equal(store.list().length, 0, 'an empty conversation is not stored');
  a.turns.push(
    { id: 't1', role: 'user', text: 'How do I parse JSON?\nmore', at: '' },
    { id: 't2', role: 'assistant', text: 'Use JSON.parse', at: '', status: 'streaming' },
  );
  await store.save(a);
  const b = store.create();
  b.turns.push({ id: 't3', role: 'user', text: 'second', at: '' });
  await store.save(b);

  const reopened = new ConversationStore(kv); // a window reload: same storage, new objects
  assert.deepEqual(
    reopened.list().map((s) => s.title),
    ['second', 'How do I parse JSON?'],
  );
  const loaded = settleInterrupted(reopened.get(a.id)!);
  assert.equal(loaded.turns[1]!.status, 'stopped', 'an answer cut off by a reload shows as stopped');
  assert.equal(reopened.latest().id, b.id);

  await reopened.delete(b.id);
  assert.deepEqual(
    reopened.list().map((s) => s.id),
    [a.id],
  );
  assert.equal(reopened.get(b.id), undefined);

  for (let i = 0; i < MAX_CONVERSATIONS + 3; i++) {
    const c = store.create();
    c.turns.push({ id: `x${i}`, role: 'user', text: `c${i}`, at: '' });
    await store.save(c);
  }
  assert.equal(store.list().length, MAX_CONVERSATIONS);
  assert.equal(store.get(a.id), undefined, 'the oldest conversation was evicted with its data');
});

test('historyMessages leaves out failed answers and empty turns', () => {
  const msgs = historyMessages([
    { id: '1', role: 'user', text: 'q', at: '' },
    { id: '2', role: 'assistant', text: '', at: '', status: 'error' },
    { id: '3', role: 'user', text: 'q2', at: '' },
    { id: '4', role: 'assistant', text: 'a2', at: '', status: 'done' },
  ]);
  assert.deepEqual(msgs, [
    { role: 'user', content: 'q' },
    { role: 'user', content: 'q2' },
    { role: 'assistant', content: 'a2' },
  ]);
});

test('the host rejects malformed and unknown webview messages', () => {
  assert.equal(validateChatMessage({ kind: 'ready' }).ok, true);
  assert.equal(
    validateChatMessage({ kind: 'request', id: 1, name: 'chat/send', payload: { text: 'hi', context: ['selection'] } }).ok,
    true,
  );
  assert.equal(validateChatMessage({ kind: 'cancel', id: 3 }).ok, true);
  const bad: unknown[] = [
    null,
    'chat/send',
    { kind: 'request', id: '1', name: 'chat/send', payload: { text: 'hi', context: [] } },
    { kind: 'request', id: 1, name: 'chat/exec', payload: {} },
    { kind: 'request', id: 1, name: 'chat/send', payload: { text: '', context: [] } },
    { kind: 'request', id: 1, name: 'chat/send', payload: { text: 'x', context: ['secrets'] } },
    { kind: 'request', id: 1, name: 'chat/action', payload: { turnId: 't', action: { id: 'runShell', label: 'x' } } },
    { kind: 'request', id: 1, name: 'chat/code', payload: { action: 'eval', code: 'x' } },
    { kind: 'request', id: 1, name: 'toString', payload: {} },
    { kind: 'cancel', id: 'x' },
  ];
  for (const m of bad) assert.equal(validateChatMessage(m).ok, false, JSON.stringify(m));
  assert.equal(
    validateSettingsMessage({
      kind: 'request',
      id: 2,
      name: 'settings/setTask',
      payload: { task: 'chat', candidates: [{ model: 'box/m', temperature: 0.2 }] },
    }).ok,
    true,
  );
  assert.equal(
    validateSettingsMessage({
      kind: 'request',
      id: 2,
      name: 'settings/setTask',
      payload: { task: 'chat', candidates: [{ model: 'nope' }] },
    }).ok,
    false,
  );
  assert.equal(
    validateSettingsMessage({
      kind: 'request',
      id: 2,
      name: 'settings/setTask',
      payload: { task: 'chat', candidates: [{ model: 'a/b', temperature: 9 }] },
    }).ok,
    false,
  );
  assert.equal(validateSettingsMessage({ kind: 'request', id: 2, name: 'settings/setPrivacy', payload: { mode: 'yolo' } }).ok, false);
  assert.equal(
    validateSettingsMessage({
      kind: 'request',
      id: 2,
      name: 'settings/saveProvider',
      payload: { provider: { id: 'x', kind: 'ollama', baseUrl: 'javascript:alert(1)' } },
    }).ok,
    false,
  );
});

test('errors map to actions by kind: Start Ollama, Pull Model only when the command exists, Set API Key, Open Settings, Retry', () => {
  const providers = [
    { id: 'box', kind: 'ollama' as const, baseUrl: 'http://127.0.0.1:1', local: true },
    { id: 'cloud', kind: 'openai-compatible' as const, baseUrl: 'https://x', local: false },
  ];
  const down: RouteAttempt[] = [
    { providerId: 'box', model: 'm', local: true, outcome: 'failed', kind: 'unreachable', reason: 'refused' },
    { providerId: 'cloud', model: 'c', local: false, outcome: 'skipped', kind: 'policy', reason: 'privacy is local-only' },
  ];
  const ids = (a: { id: string }[]) => a.map((x) => x.id);
  assert.deepEqual(ids(errorActions('unreachable', down, providers, { pullModel: false })), ['startOllama', 'openSettings', 'retry']);
  assert.equal(
    errorActions('unreachable', down, providers, { pullModel: false }).find((a) => a.id === 'openSettings')?.label,
    'Open Privacy Settings',
  );
  const missing: RouteAttempt[] = [
    { providerId: 'box', model: 'qwen:7b', local: true, outcome: 'failed', kind: 'modelMissing', reason: 'no such model' },
  ];
  assert.deepEqual(ids(errorActions('modelMissing', missing, providers, { pullModel: false })), ['openSettings', 'retry']);
  const pull = errorActions('modelMissing', missing, providers, { pullModel: true }).find((a) => a.id === 'pullModel');
  assert.equal(pull?.arg, 'box/qwen:7b');
  const auth: RouteAttempt[] = [{ providerId: 'cloud', model: 'c', local: false, outcome: 'failed', kind: 'auth', reason: '401' }];
  assert.deepEqual(
    errorActions('auth', auth, providers, { pullModel: true }).find((a) => a.id === 'setApiKey'),
    { id: 'setApiKey', label: 'Set API Key', arg: 'cloud' },
  );
  assert.ok(ids(errorActions('server', [], providers, { pullModel: false })).includes('showLogs'));
  assert.equal(
    fallbackReason([{ ...down[0]! }, { providerId: 'cloud', model: 'c', local: false, outcome: 'answered' }]),
    'box/m failed (server not reachable: refused)',
  );
  assert.equal(fallbackReason([{ providerId: 'cloud', model: 'c', local: false, outcome: 'answered' }]), undefined);
});
