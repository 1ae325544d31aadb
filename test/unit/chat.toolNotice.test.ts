/**
 * The sidebar chat is text-only (issue 14): when the routed model calls a tool anyway, the exchange does not break
 * (the turn ends done, not as an error or an empty answer without a word) and says what happened and where tools run.
 * A caller that offers tools (VS Code's model picker) handles the calls itself and gets no such notice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { runExchange, type ExchangeHooks } from '../../src/core/chat/exchange';
import { runTurn } from '../../src/core/chat/turn';
import { Switchyard } from '../../src/core/switchyard';
import type { Conversation } from '../../src/protocol/chat';
import { scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';

let ollama: FixtureServer;
let sy: Switchyard;

before(async () => {
  // A model that writes a call on its own (no tools offered), which Ollama parses as a tool call.
  const backend = scriptedBackend({ toolCalls: [{ name: 'read_file', arguments: { path: 'a.ts' } }], callsUnasked: true });
  ollama = await startOllamaServer({ backend, models: [{ name: 'qwen3:8b', contextLength: 40960, tools: true }] });
  const { config, problems } = parseConfig({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { chat: ['box/qwen3:8b'], summarize: [] },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
});
after(() => ollama.close());

test('a tool call in the chat view ends the turn with a notice naming the tool and where tools run', async () => {
  const conversation: Conversation = { id: 'c1', title: 'New chat', createdAt: '', updatedAt: '', turns: [] };
  const hooks: ExchangeHooks = {
    begun() {},
    changed() {},
    piece() {},
    save: async () => {},
    error: (e) => ({ kind: 'server', message: String(e) }) as never,
  };
  const turn = await runExchange(
    { router: sy.router, providers: sy.registry },
    conversation,
    { task: 'chat', text: 'open a.ts', context: [], contextLabels: [] },
    hooks,
    new AbortController().signal,
  );
  assert.equal(turn.status, 'done', JSON.stringify(turn.error));
  assert.equal(turn.text, '');
  assert.deepEqual(turn.notices, [
    'The model asked to call the tool "read_file". The Switchyard chat view does not run tools: use VS Code\'s Agent mode or the gateway for that.',
  ]);
  assert.equal(turn.answer?.model, 'qwen3:8b');
  const [request] = ollama.requests.filter((r) => r.path === '/api/chat');
  assert.equal(request!.body.tools, undefined, 'the chat view offered no tools');
});

test('a caller that offers tools gets the call and no notice', async () => {
  const tools = [{ name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } }];
  const events = [];
  for await (const ev of runTurn({ router: sy.router, providers: sy.registry }, { task: 'chat', question: 'open a.ts', tools }))
    events.push(ev);
  assert.ok(events.some((e) => e.type === 'toolCall' && e.name === 'read_file'));
  assert.ok(!events.some((e) => e.type === 'notice'), JSON.stringify(events.filter((e) => e.type === 'notice')));
});
