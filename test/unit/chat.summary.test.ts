// Summaries that keep long chats (src/core/chat/summary.ts, turn.ts): a history that no longer fits the answering
// model's window has its older messages summarized by the summarize task, the summary in the system prompt instead of
// them, cached with the conversation (a next turn reuses it), said in a notice; with no summarize model they are
// dropped as before, and the notice says why.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { runExchange, type ExchangeHooks } from '../../src/core/chat/exchange';
import { historyKey, summaryQuestion, validSummary } from '../../src/core/chat/summary';
import { estimateMessagesTokens, estimateTokens } from '../../src/core/providers/tokenEstimate';
import type { ChatMessage } from '../../src/core/providers/types';
import type { Conversation, Turn } from '../../src/protocol/chat';
import { scriptedBackend, startLlamaCppServer, type FixtureServer } from '../fixtures';

let small: FixtureServer;
let writer: FixtureServer;
before(async () => {
  small = await startLlamaCppServer({
    contextSize: 2048,
    modelAlias: 'small',
    backend: scriptedBackend({ tokens: ['small', ' answers'] }),
  });
  writer = await startLlamaCppServer({
    contextSize: 32768,
    modelAlias: 'writer',
    backend: scriptedBackend({ tokens: ['The user', ' discussed', ' w0 to w99.'] }),
  });
});
after(async () => {
  await small.close();
  await writer.close();
});
beforeEach(() => {
  small.reset();
  writer.reset();
});

function setup(summarize: string[]): Switchyard {
  const { config } = parseConfig({
    'switchyard.providers': [
      { id: 'small', kind: 'llamacpp', baseUrl: small.url },
      { id: 'writer', kind: 'llamacpp', baseUrl: writer.url },
    ],
    'switchyard.tasks': { chat: ['small/small'], summarize },
  });
  return new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
}

function longConversation(): Conversation {
  const turns: Turn[] = Array.from({ length: 40 }, (_, i) => ({
    id: `t${i}`,
    role: i % 2 ? 'assistant' : 'user',
    text: `message ${i}: ${Array.from({ length: 100 }, (_, j) => `w${j}`).join(' ')}`,
    at: '',
    status: 'done',
  }));
  return { id: 'c1', title: 'Long', createdAt: '', updatedAt: '', turns };
}

const hooks = (): ExchangeHooks => ({
  begun: () => undefined,
  changed: () => undefined,
  piece: () => undefined,
  save: async () => undefined,
  error: (e) => ({ kind: 'error', message: String(e), actions: [] }),
});
const chatRequests = (s: FixtureServer) =>
  s.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body.messages as ChatMessage[]);

test('a chat that outgrew the window: older turns summarized by the summarize task, not dropped; the summary cached for the next turn', async () => {
  const sy = setup(['writer/writer']);
  const deps = { router: sy.router, providers: sy.registry };
  try {
    const c = longConversation();
    const turn = await runExchange(
      deps,
      c,
      { task: 'chat', text: 'And now?', context: [], contextLabels: [] },
      hooks(),
      new AbortController().signal,
    );
    assert.equal(turn.status, 'done');
    assert.equal(turn.text, 'small answers');
    const notice = turn.notices?.find((n) =>
      /^Earlier turns summarized by writer\/writer \(\d+ messages\) to fit the model's 2048-token window\.$/.test(n),
    );
    assert.ok(notice, JSON.stringify(turn.notices));
    assert.ok(!turn.notices?.some((n) => /left out/.test(n)), 'nothing dropped');
    // The summarize task got the older messages.
    const [summaryPrompt] = chatRequests(writer);
    assert.equal(chatRequests(writer).length, 1);
    assert.match(summaryPrompt!.at(-1)!.content, /^The conversation:\nUser: message 0:/);
    // The chat model got the summary in its system prompt and the newer messages after it, within its window.
    const [sent] = chatRequests(small);
    assert.match(sent![0]!.content, /Summary of the earlier conversation[\s\S]*The user discussed w0 to w99\./);
    assert.equal(sent!.at(-1)!.content, 'And now?');
    assert.equal(sent![1]!.role, 'user');
    assert.ok(estimateMessagesTokens(sent!) <= 1024, `${estimateMessagesTokens(sent!)} tokens`);
    const covered = c.earlier!.messages;
    assert.equal(sent!.length, 1 + (40 - covered) + 1);
    assert.equal(c.earlier?.model, 'writer/writer');

    // The next turn reuses the summary: no new summarize request.
    writer.reset();
    small.reset();
    const next = await runExchange(
      deps,
      c,
      { task: 'chat', text: 'One more?', context: [], contextLabels: [] },
      hooks(),
      new AbortController().signal,
    );
    assert.equal(next.status, 'done');
    assert.equal(chatRequests(writer).length, 0, 'cached');
    assert.ok(next.notices?.some((n) => /^Earlier turns summarized by writer\/writer/.test(n)));
    assert.match(chatRequests(small)[0]![0]!.content, /The user discussed w0 to w99\./);
  } finally {
    sy.dispose();
  }
});

test('with no model for summarize, the older turns are dropped as before and the notice says why', async () => {
  const sy = setup([]);
  try {
    const c = longConversation();
    const turn = await runExchange(
      { router: sy.router, providers: sy.registry },
      c,
      { task: 'chat', text: 'And now?', context: [], contextLabels: [] },
      hooks(),
      new AbortController().signal,
    );
    assert.equal(turn.status, 'done');
    assert.ok(
      turn.notices?.some((n) => /^Earlier turns could not be summarized \(.*\), so they were left out\.$/.test(n)),
      JSON.stringify(turn.notices),
    );
    assert.ok(turn.notices?.some((n) => /earlier messages left out/.test(n)));
    assert.equal(c.earlier, undefined);
  } finally {
    sy.dispose();
  }
});

test("summary pieces: the cache key follows the history's start; the transcript keeps the newest messages within its budget", () => {
  const history: ChatMessage[] = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
  ];
  const s = { messages: 2, key: historyKey(history, 2), text: 'sum', model: 'm' };
  assert.equal(validSummary(s, history), s);
  assert.equal(validSummary(s, [{ role: 'user', content: 'other' }, ...history.slice(1)]), undefined, 'another conversation start');
  assert.equal(validSummary({ ...s, messages: 4 }, history), undefined);
  const long = Array.from({ length: 50 }, (_, i) => ({ role: 'user' as const, content: `m${i} ${'x'.repeat(300)}` }));
  const q = summaryQuestion('before', long, 500);
  assert.ok(estimateTokens(q) <= 500 + 5, `${estimateTokens(q)}`);
  assert.match(q, /^The summary so far:\nbefore\n/);
  assert.match(q, /User: m49 /, 'the newest kept');
  assert.doesNotMatch(q, /User: m0 /);
});
