// One chat turn in core (src/core/chat/turn.ts, exchange.ts), against llama.cpp test servers through the real router
// and providers: the prompt is fitted to the window of the candidate that answers, so a fallback to a model with a
// smaller window gets a prompt that fits it (sized for the first candidate, the server refused it) and one to a larger
// window keeps the whole history; retrieval and citations follow the answering prompt; `<think>` text is reasoning;
// a tool loop from VS Code's Language Model API keeps its calls and results. The chat view's exchange runs the same.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { runTurn, turnOfMessages, type TurnDeps, type TurnEvent, type TurnRequest } from '../../src/core/chat/turn';
import { chatRequest, retryRequest, runExchange, type ExchangeHooks } from '../../src/core/chat/exchange';
import { estimateMessagesTokens } from '../../src/core/providers/tokenEstimate';
import { knownContextWindow, contextWindow } from '../../src/core/routing/window';
import { RouteError } from '../../src/core/routing/router';
import type { RetrievedChunk, Retriever } from '../../src/core/index/types';
import type { ChatMessage } from '../../src/core/providers/types';
import type { Conversation, Turn } from '../../src/protocol/chat';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, type FixtureServer } from '../fixtures';

let small: FixtureServer;
let big: FixtureServer;
let thinker: FixtureServer;
let ollama: FixtureServer;
let refused: number;

before(async () => {
  small = await startLlamaCppServer({
    contextSize: 2048,
    modelAlias: 'small',
    backend: scriptedBackend({ tokens: ['small', ' answers'] }),
  });
  big = await startLlamaCppServer({ contextSize: 32768, modelAlias: 'big', backend: scriptedBackend({ tokens: ['big', ' answers'] }) });
  // A thinking model served without a reasoning parser: its thinking arrives as answer text in <think> tags.
  thinker = await startLlamaCppServer({
    contextSize: 4096,
    modelAlias: 'thinker',
    backend: scriptedBackend({ tokens: ['<think>', 'add', ' them', '</think>', '\n\n', 'Four', '.'] }),
  });
  ollama = await startOllamaServer({
    backend: scriptedBackend(),
    models: [
      { name: 'qwen3:latest', contextLength: 40960 },
      { name: 'tiny:1b', contextLength: 1024 },
    ],
  });
  refused = await closedPort();
});
after(async () => {
  for (const s of [small, big, thinker, ollama]) await s.close();
});
beforeEach(() => {
  for (const s of [small, big, thinker, ollama]) s.reset();
});

function setup(chat: unknown[]): Switchyard {
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'down', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'small', kind: 'llamacpp', baseUrl: small.url },
      { id: 'big', kind: 'llamacpp', baseUrl: big.url },
      { id: 'thinker', kind: 'llamacpp', baseUrl: thinker.url },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
    ],
    // Summaries have their own tests (chat.summary.test.ts): here older messages are dropped.
    'switchyard.tasks': { chat, summarize: [] },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  return new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: c.workspaceCloudOptOut }),
  });
}

const deps = (sy: Switchyard, index?: Retriever): TurnDeps => ({ router: sy.router, providers: sy.registry, index });

/** 40 earlier messages of ~100 words each (about 4000 tokens by any count): more than the small model's window. */
function longHistory(): ChatMessage[] {
  return Array.from({ length: 40 }, (_, i) => ({
    role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
    content: `message ${i}: ${Array.from({ length: 100 }, (_, j) => `w${j}`).join(' ')}`,
  }));
}

async function collect(events: AsyncIterable<TurnEvent>) {
  const out = { text: '', reasoning: '', notices: [] as string[], events: [] as TurnEvent[] };
  for await (const ev of events) {
    out.events.push(ev);
    if (ev.type === 'text') out.text += ev.text;
    else if (ev.type === 'reasoning') out.reasoning += ev.text;
    else if (ev.type === 'notice') out.notices.push(ev.text);
  }
  const route = out.events.find((e) => e.type === 'route');
  const context = out.events.find((e) => e.type === 'context');
  return {
    ...out,
    route: route?.type === 'route' ? route.route : undefined,
    context: context?.type === 'context' ? context.context : undefined,
  };
}

function sentMessages(server: FixtureServer): { role: string; content: string }[][] {
  return server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions').map((r) => r.body.messages);
}

const request = (over: Partial<TurnRequest> = {}): TurnRequest => ({
  task: 'chat',
  system: 'You are terse.',
  history: longHistory(),
  question: 'And now?',
  ...over,
});

test("fallback to a model with a smaller window: the prompt is assembled for that window (not the first candidate's), fits, and says what it left out", async () => {
  // The first candidate is sized 32k (and down); the small one that answers has 2048 tokens.
  const sy = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 32768 }, 'small/small']);
  try {
    const r = await collect(runTurn(deps(sy), request()));
    assert.equal(r.text, 'small answers');
    assert.equal(r.route?.providerId, 'small');
    assert.equal(r.route?.fallback, true);
    assert.equal(r.context?.window, 2048);
    const sent = sentMessages(small);
    assert.equal(sent.length, 1, 'one request, accepted (a prompt sized for 32k is refused by this server)');
    const messages = sent[0]!;
    assert.ok(
      estimateMessagesTokens(messages as ChatMessage[]) <= 2048 - 1024,
      `${estimateMessagesTokens(messages as ChatMessage[])} tokens`,
    );
    assert.equal(messages[0]!.role, 'system');
    assert.equal(messages.at(-1)!.content, 'And now?');
    assert.match(messages.at(-2)!.content, /^message 39:/, 'the newest history is kept');
    assert.ok(!messages.some((m) => /^message 0:/.test(m.content)), 'the oldest is left out');
    assert.equal(messages[1]!.role, 'user', 'the kept history starts with a question, not an orphaned answer');
    assert.ok(
      r.notices.some((n) => /To fit the model's 2048-token window: \d+ earlier messages left out/.test(n)),
      JSON.stringify(r.notices),
    );
    // The notices come before the route event, which comes before the text: a view can show them with the route.
    const kinds = r.events.map((e) => e.type);
    assert.ok(kinds.indexOf('context') < kinds.indexOf('route') && kinds.lastIndexOf('notice') < kinds.indexOf('route'), kinds.join(','));
  } finally {
    sy.dispose();
  }
});

test("fallback to a model with a larger window: the whole history is sent, nothing cut for the first candidate's 1024 tokens", async () => {
  const sy = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 1024 }, 'big/big']);
  try {
    const r = await collect(runTurn(deps(sy), request()));
    assert.equal(r.text, 'big answers');
    assert.equal(r.route?.providerId, 'big');
    assert.equal(r.context?.window, 32768);
    const [messages] = sentMessages(big);
    assert.equal(messages!.length, 1 + 40 + 1, 'system, all 40 earlier messages, the question');
    assert.deepEqual(r.notices, [], 'nothing left out, nothing to say');
    assert.equal(r.context?.prompt.droppedMessages, 0);
  } finally {
    sy.dispose();
  }
});

test('a candidate whose window cannot hold the question is not sent it: it fails as contextOverflow and the next answers', async () => {
  const sy = setup(['small/small', 'big/big']);
  try {
    const question = Array.from({ length: 2000 }, (_, i) => `q${i}`).join(' ');
    const r = await collect(runTurn(deps(sy), { task: 'chat', question }));
    assert.equal(r.route?.providerId, 'big');
    const failed = r.route!.attempts.find((a) => a.providerId === 'small');
    assert.equal(failed?.outcome, 'failed');
    assert.equal(failed?.kind, 'contextOverflow');
    assert.equal(sentMessages(small).length, 0, 'nothing was sent to the small model');
    // With nobody big enough, the error says what to do.
    const only = setup(['small/small']);
    try {
      await assert.rejects(
        collect(runTurn(deps(only), { task: 'chat', question })),
        (e: unknown) => e instanceof RouteError && e.kind === 'contextOverflow' && /Shorten it/.test(e.message),
      );
    } finally {
      only.dispose();
    }
  } finally {
    sy.dispose();
  }
});

test('one context-window lookup: discovery (an Ollama name without a tag is :latest), the catalog, capped by contextSize', async () => {
  const sy = setup(['box/qwen3', { model: 'box/qwen3', contextSize: 8000 }, 'box/tiny:1b', 'down/qwen2.5-coder:7b', 'small/small']);
  try {
    const { list } = await sy.router.candidates('chat');
    const byRef = (ref: string, size?: number) => list.find((c) => `${c.providerId}/${c.model}` === ref && c.contextSize === size)!;
    await sy.registry.discover('box');
    assert.equal(knownContextWindow(byRef('box/qwen3'), sy.registry), 40960, 'qwen3 is qwen3:latest');
    assert.equal(knownContextWindow(byRef('box/tiny:1b'), sy.registry), 1024);
    // A server that cannot be asked: the catalog's entry for the name.
    assert.ok((await contextWindow(byRef('down/qwen2.5-coder:7b'), sy.registry))! >= 32768);
    // Discovered on demand for a local candidate.
    assert.equal(knownContextWindow(byRef('small/small'), sy.registry), undefined);
    assert.equal(await contextWindow(byRef('small/small'), sy.registry), 2048);
  } finally {
    sy.dispose();
  }
  const capped = setup([{ model: 'box/qwen3', contextSize: 8000 }]);
  try {
    const [c] = (await capped.router.candidates('chat')).list;
    await capped.registry.discover('box');
    assert.equal(knownContextWindow(c!, capped.registry), 8000);
  } finally {
    capped.dispose();
  }
});

/** An index that honours the token budget (about 1000 tokens a chunk), and records each search. */
function fakeIndex(): Retriever & { budgets: number[] } {
  const chunk = (i: number): RetrievedChunk => ({
    path: `src/f${i}.ts`,
    root: '/ws',
    startLine: 1,
    endLine: 40,
    symbol: `f${i}`,
    text: Array.from({ length: 500 }, (_, j) => `c${j}`).join(' '),
    score: 10 - i,
  });
  const budgets: number[] = [];
  return {
    budgets,
    async search(_query, options) {
      budgets.push(options?.tokenBudget ?? -1);
      const n = Math.min(options?.k ?? 8, Math.floor((options?.tokenBudget ?? 0) / 1000));
      return Array.from({ length: n }, (_, i) => chunk(i));
    },
    status: () => ({ state: 'idle', filesDone: 1, filesTotal: 1, chunks: 8, embeddingsPending: 0, keywordOnly: true }),
  };
}

test('retrieval follows the answering candidate: searched again for a larger window, cited only as far as its prompt kept', async () => {
  const index = fakeIndex();
  const sy = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 3000 }, 'big/big']);
  try {
    const r = await collect(runTurn(deps(sy, index), { task: 'chat', question: 'where is f0?', retrieve: 'f0' }));
    assert.deepEqual(index.budgets, [1000, Math.floor(32768 / 3)], 'searched for the first candidate, then again for the larger window');
    assert.equal(r.context?.retrieved, 8);
    assert.equal(r.context?.citations.length, 8);
    assert.ok(r.notices.includes('@workspace: keyword search only (no embeddings yet).'));
    assert.equal(r.notices.filter((n) => n.startsWith('@workspace: keyword')).length, 1, 'said once');
    assert.match(sentMessages(big)[0]!.at(-1)!.content, /### src\/f7\.ts:1-40 \(f7\)/);
  } finally {
    sy.dispose();
  }
  index.budgets.length = 0;
  const shrinking = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 32768 }, 'small/small']);
  try {
    const r = await collect(runTurn(deps(shrinking, index), { task: 'chat', question: 'where is f0?', retrieve: 'f0' }));
    assert.deepEqual(index.budgets, [Math.floor(32768 / 3)], 'a smaller window reuses what was found');
    // 2048 tokens, 1024 of them for the answer: the best chunk fits (~780 tokens by the estimate), the others do not.
    assert.deepEqual(
      r.context?.citations.map((c) => c.path),
      ['src/f0.ts'],
    );
    assert.match(r.notices.join('\n'), /context left out: src\/f1\.ts:1-40 \(f1\)/);
    assert.ok(estimateMessagesTokens(sentMessages(small)[0] as ChatMessage[]) <= 1024);
  } finally {
    shrinking.dispose();
  }
});

test('without an index, @workspace says so; <think> text is reasoning, never answer text', async () => {
  const sy = setup(['thinker/thinker']);
  try {
    const r = await collect(runTurn(deps(sy), { task: 'chat', question: '2 + 2?', retrieve: '' }));
    assert.equal(r.reasoning, 'add them');
    assert.equal(r.text, 'Four.');
    assert.match(r.notices[0]!, /workspace index is not available/);
  } finally {
    sy.dispose();
  }
});

test("a tool loop as VS Code's Language Model API sends it: system, question, calls and results kept; history cut to the window", () => {
  const history = longHistory();
  const messages: ChatMessage[] = [
    { role: 'system', content: 'Use tools.' },
    ...history,
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'lookup_weather', arguments: '{"city":"Oslo"}' }] },
    { role: 'tool', content: 'Sunny', toolCallId: 'c1' },
  ];
  const t = turnOfMessages(messages);
  assert.equal(t.system, 'Use tools.');
  assert.equal(t.question, 'Weather in Oslo?');
  assert.equal(t.history!.length, 40);
  assert.deepEqual(
    t.after!.map((m) => m.role),
    ['assistant', 'tool'],
  );
  // No user message at all: everything is sent as it is.
  assert.deepEqual(turnOfMessages([{ role: 'assistant', content: 'hi' }]), {
    system: '',
    history: [],
    after: [{ role: 'assistant', content: 'hi' }],
  });
});

test('the tool loop through the turn: the small model gets the calls, the result and the newest history that fits', async () => {
  const sy = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 32768 }, 'small/small']);
  try {
    const messages: ChatMessage[] = [
      ...longHistory(),
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'lookup_weather', arguments: '{"city":"Oslo"}' }] },
      { role: 'tool', content: 'Sunny', toolCallId: 'c1' },
    ];
    const tools = [
      { name: 'lookup_weather', description: 'The weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    ];
    const r = await collect(runTurn(deps(sy), { task: 'chat', ...turnOfMessages(messages), tools }));
    assert.equal(r.route?.providerId, 'small');
    const sent = sentMessages(small)[0]!;
    assert.deepEqual(
      sent.slice(-3).map((m) => m.role),
      ['user', 'assistant', 'tool'],
    );
    assert.ok(sent.length < messages.length, 'history was cut');
    assert.equal(sent[0]!.role, 'user', 'no system message was given, none is sent');
  } finally {
    sy.dispose();
  }
});

function memoryHooks(): ExchangeHooks & { turns: Turn[]; pieces: string[]; saves: number } {
  const h = {
    turns: [] as Turn[],
    pieces: [] as string[],
    saves: 0,
    begun: () => undefined,
    changed: (t: Turn) => void h.turns.push(structuredClone(t)),
    piece: (_id: string, kind: 'text' | 'reasoning', text: string) => void h.pieces.push(`${kind}:${text}`),
    save: async () => void h.saves++,
    fallback: () => ({ fallbackReason: 'down failed' }),
    error: (e: unknown) => ({ kind: e instanceof RouteError ? e.kind : 'error', message: String(e), actions: [] }),
  };
  return h;
}

const conversation = (turns: Turn[] = []): Conversation => ({ id: 'c1', title: 'New chat', createdAt: '', updatedAt: '', turns });

test("the chat view's exchange runs the same turn: its history from the conversation fitted to the answering model, notices and route in the turn", async () => {
  const sy = setup([{ model: 'down/qwen2.5-coder:7b', contextSize: 32768 }, 'small/small']);
  try {
    const earlier: Turn[] = longHistory().map((m, i) => ({
      id: `t${i}`,
      role: m.role as 'user' | 'assistant',
      text: m.content,
      at: '',
      status: 'done',
    }));
    const c = conversation(earlier);
    const hooks = memoryHooks();
    const turn = await runExchange(
      deps(sy),
      c,
      { task: 'chat', text: 'And now?', context: [], contextLabels: [] },
      hooks,
      new AbortController().signal,
    );
    assert.equal(turn.status, 'done');
    assert.equal(turn.text, 'small answers');
    assert.equal(turn.answer?.providerId, 'small');
    assert.equal(turn.answer?.fallbackReason, 'down failed');
    assert.ok(
      turn.notices?.some((n) => /2048-token window/.test(n)),
      JSON.stringify(turn.notices),
    );
    assert.equal(c.turns.length, 42);
    assert.deepEqual(hooks.pieces, ['text:small', 'text: answers']);
    assert.ok(hooks.saves >= 2);
    assert.ok(estimateMessagesTokens(sentMessages(small)[0] as ChatMessage[]) <= 1024);
    // Explain has its own system prompt.
    await runExchange(
      deps(sy),
      conversation(),
      { task: 'explain', text: 'Explain this.', context: [{ label: 'file a.ts', text: 'const a = 1;' }], contextLabels: ['file a.ts'] },
      memoryHooks(),
      new AbortController().signal,
    );
    const sent = sentMessages(small).at(-1)!;
    assert.match(sent[0]!.content, /Explain the given code/);
    assert.match(sent.at(-1)!.content, /### file a\.ts[\s\S]*const a = 1;[\s\S]*Explain this\.$/);
  } finally {
    sy.dispose();
  }
});

test("an exchange that no model can answer ends as an error turn with the hooks' words; a stopped one as stopped", async () => {
  const sy = setup(['down/qwen2.5-coder:7b']);
  try {
    const turn = await runExchange(
      deps(sy),
      conversation(),
      { task: 'chat', text: 'hi', context: [], contextLabels: [] },
      memoryHooks(),
      new AbortController().signal,
    );
    assert.equal(turn.status, 'error');
    assert.equal(turn.error?.kind, 'unreachable');
    const controller = new AbortController();
    controller.abort();
    const stopped = await runExchange(
      deps(setup(['small/small'])),
      conversation(),
      { task: 'chat', text: 'hi', context: [], contextLabels: [] },
      memoryHooks(),
      controller.signal,
    );
    assert.equal(stopped.status, 'stopped');
  } finally {
    sy.dispose();
  }
});

test("the chat view's requests: @workspace asks for retrieval without the word; Retry takes the failed exchange out and asks again with its task", () => {
  assert.deepEqual(chatRequest('where is @workspace parse defined?', [{ label: 'file a.ts', text: 'x' }]), {
    task: 'chat',
    text: 'where is @workspace parse defined?',
    context: [{ label: 'file a.ts', text: 'x' }],
    contextLabels: ['file a.ts'],
    retrieve: 'where is  parse defined?',
  });
  assert.equal(chatRequest('email me@workspace.com').retrieve, undefined);
  const c = conversation([
    { id: 'u1', role: 'user', text: 'hi', at: '', task: 'chat' },
    { id: 'a1', role: 'assistant', text: 'hello', at: '', status: 'done' },
    { id: 'u2', role: 'user', text: 'Summarize file a.ts', at: '', task: 'summarize' },
    { id: 'a2', role: 'assistant', text: '', at: '', status: 'error' },
  ]);
  const again = retryRequest(c, 'a2');
  assert.equal(again.task, 'summarize');
  assert.equal(again.text, 'Summarize file a.ts');
  assert.deepEqual(
    c.turns.map((t) => t.id),
    ['u1', 'a1'],
  );
  assert.throws(() => retryRequest(c, 'nope'), /Nothing to retry/);
});
