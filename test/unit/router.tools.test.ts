/**
 * Tool calls through the router (issue 14): a request's tools reach the provider and its calls come back as events;
 * a candidate that cannot call tools (Ollama /api/show without `tools`, llama.cpp /props without tool support, or
 * `"tools": false` in switchyard.tasks) is skipped with the reason in the route; fallback happens before the first
 * tool call and never after one; privacy rules are those of text requests. Real providers and clients against the
 * test servers.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type PrivacyMode } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { RouteError, type RoutedChatEvent, type RoutedChatRequest } from '../../src/core/routing/router';
import type { ChatEvent, ChatMessage } from '../../src/core/providers/types';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import { TIME_TOOL, WEATHER_TOOL, foldAnswer } from '../fixtures/toolCallAssert';

const KEY = 'sk-test-0123456789abcdefTOOLS';
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };
const TOOLS = [WEATHER_TOOL, TIME_TOOL];
let ollama: FixtureServer;
let llamaNoTools: FixtureServer;
let llamaTools: FixtureServer;
let cloud: FixtureServer;
/** A llama.cpp server whose model, once its calls are out, fails when the test calls `cut`. */
let llamaCut: FixtureServer;
let cut: ((e: Error) => void) | undefined;
let refused: number;

before(async () => {
  const backend = scriptedBackend({ tokens: ['It', ' is', ' sunny', '.'], toolCalls: [weather, time] });
  // qwen2.5-coder:7b's /api/show lists no `tools` capability; qwen3:8b's does.
  ollama = await startOllamaServer({
    backend,
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'qwen3:8b', contextLength: 40960, tools: true },
      { name: 'starcoder2:latest', contextLength: 16384 },
    ],
  });
  llamaNoTools = await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: false });
  llamaTools = await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: true });
  cloud = await startOpenAIServer({ backend, apiKey: KEY });
  const crashing = scriptedBackend({ toolCalls: [weather, time], afterToolCalls: () => new Promise<void>((_, reject) => (cut = reject)) });
  llamaCut = await startLlamaCppServer({ backend: crashing, modelAlias: 'qwen', toolCapable: true });
  refused = await closedPort();
});
after(async () => {
  await Promise.all([ollama.close(), llamaNoTools.close(), llamaTools.close(), cloud.close(), llamaCut.close()]);
});
beforeEach(() => {
  for (const s of [ollama, llamaNoTools, llamaTools, cloud, llamaCut]) s.reset();
});

function setup(chat: unknown[], privacy: PrivacyMode = 'allow') {
  const usage = new MemoryLedger();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'down', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'plain', kind: 'llamacpp', baseUrl: llamaNoTools.url },
      { id: 'jinja', kind: 'llamacpp', baseUrl: llamaTools.url },
      { id: 'crash', kind: 'llamacpp', baseUrl: llamaCut.url },
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TOOLS_KEY' },
    ],
    'switchyard.tasks': { chat },
    'switchyard.privacy': privacy,
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_TOOLS_KEY' ? KEY : undefined) },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
  });
  return { sy, usage };
}

const ask: ChatMessage[] = [{ role: 'user', content: 'Weather in Toronto and time in Paris?' }];

/** The router's events, with tool-call events checked against the provider contract (the router passes them on). */
async function run(events: AsyncIterable<RoutedChatEvent>) {
  const all: RoutedChatEvent[] = [];
  for await (const ev of events) all.push(ev);
  const route = all.find((e) => e.type === 'route');
  const done = all.find((e) => e.type === 'done');
  const providerShaped = all.filter((e): e is Extract<RoutedChatEvent, ChatEvent> => e.type !== 'route' && e.type !== 'done');
  return {
    all,
    route: route?.type === 'route' ? route.route : undefined,
    done: done?.type === 'done' ? done : undefined,
    answer: foldAnswer(providerShaped),
  };
}

function chatRequests(server: FixtureServer, path: string): any[] {
  return server.requests.filter((r) => r.method === 'POST' && r.path === path).map((r) => r.body);
}

test('a tool request is answered with the calls, as events, and the done event says tool_calls', async () => {
  const { sy, usage } = setup(['box/qwen3:8b']);
  const r = await run(sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS, toolChoice: 'auto' }));
  assert.equal(r.route?.providerId, 'box');
  assert.deepEqual(
    r.answer.calls.map((c) => [c.name, JSON.parse(c.arguments)]),
    [
      ['get_weather', weather.arguments],
      ['get_time', time.arguments],
    ],
  );
  assert.ok(
    r.answer.calls.every((c) => c.id.length > 0),
    'ids made for Ollama calls without ids',
  );
  assert.equal(r.done?.finish, 'tool_calls');
  assert.equal(r.answer.text, '');
  // The tools reached Ollama's /api/chat.
  const [body] = chatRequests(ollama, '/api/chat');
  assert.deepEqual(
    body.tools.map((t: any) => t.function.name),
    ['get_weather', 'get_time'],
  );
  assert.equal(usage.records.at(-1)?.outcome, 'ok');
  // Without tools, the same route answers with text and says stop.
  const plain = await run(sy.router.chat({ task: 'chat', messages: ask }));
  assert.equal(plain.answer.text, 'It is sunny.');
  assert.equal(plain.answer.calls.length, 0);
  assert.notEqual(plain.done?.finish, 'tool_calls');
});

test('candidates that cannot call tools are skipped with the reason in the route: Ollama /api/show, llama.cpp /props, "tools": false', async () => {
  const chat = ['box/qwen2.5-coder:7b', 'plain/qwen', { model: 'jinja/qwen', tools: false }, 'box/qwen3:8b'];
  const { sy } = setup(chat);
  const r = await run(sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS }));
  assert.equal(`${r.route?.providerId}/${r.route?.model}`, 'box/qwen3:8b');
  assert.equal(r.route?.fallback, true);
  const skipped = r.route!.attempts.filter((a) => a.outcome === 'skipped');
  assert.deepEqual(
    skipped.map((a) => `${a.providerId}/${a.model}`),
    ['box/qwen2.5-coder:7b', 'plain/qwen', 'jinja/qwen'],
  );
  for (const a of skipped) {
    assert.match(a.reason ?? '', /^no tool calling/, `${a.providerId}: ${a.reason}`);
    assert.equal(a.missing, 'tools');
  }
  assert.match(skipped[2]!.reason!, /"tools": false/);
  assert.equal(r.answer.calls.length, 2);
  // None of the skipped ones was asked to chat.
  assert.equal(chatRequests(llamaNoTools, '/v1/chat/completions').length, 0);
  assert.equal(chatRequests(llamaTools, '/v1/chat/completions').length, 0);
  assert.deepEqual(
    chatRequests(ollama, '/api/chat').map((b) => b.model),
    ['qwen3:8b'],
  );

  // The same candidates answer text requests (and tool_choice "none"), first one first: capabilities only matter for tools.
  for (const extra of [{}, { tools: TOOLS, toolChoice: 'none' as const }]) {
    ollama.reset();
    const text = await run(sy.router.chat({ task: 'chat', messages: ask, ...extra }));
    assert.equal(`${text.route?.providerId}/${text.route?.model}`, 'box/qwen2.5-coder:7b', JSON.stringify(extra));
    assert.equal(text.route?.fallback, false);
    assert.equal(text.answer.text, 'It is sunny.');
  }

  // When no candidate can call tools, the error says so.
  const { sy: none } = setup(['box/qwen2.5-coder:7b', 'plain/qwen']);
  await assert.rejects(
    (async () => {
      for await (const _ of none.router.chat({ task: 'chat', messages: ask, tools: TOOLS }));
    })(),
    (e: unknown) => e instanceof RouteError && /no tool calling/.test(e.message) && e.attempts.every((a) => a.outcome === 'skipped'),
  );
});

test('a llama.cpp server whose /props says it renders tools answers with interleaved calls reassembled', async () => {
  const { sy } = setup(['plain/qwen', 'jinja/qwen']);
  const r = await run(sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS, parallelToolCalls: true }));
  assert.equal(r.route?.providerId, 'jinja');
  assert.deepEqual(
    r.answer.calls.map((c) => JSON.parse(c.arguments)),
    [weather.arguments, time.arguments],
  );
  assert.ok(
    r.answer.calls.some((c) => c.pieces > 1),
    'arguments came in pieces',
  );
  assert.equal(r.done?.finish, 'tool_calls');
  const [body] = chatRequests(llamaTools, '/v1/chat/completions');
  assert.equal(body.parallel_tool_calls, true);
  assert.equal(body.tools.length, 2);
});

test('fallback before the first tool call: a refused server and a 503 hand over, and the next answers with the calls', async () => {
  llamaTools.setBehaviour({ mode: 'error', status: 503 });
  const { sy } = setup(['down/qwen3:8b', 'jinja/qwen', 'box/qwen3:8b']);
  const r = await run(sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS }));
  assert.equal(`${r.route?.providerId}/${r.route?.model}`, 'box/qwen3:8b');
  assert.deepEqual(
    r.route!.attempts.map((a) => [a.providerId, a.outcome]),
    [
      ['down', 'failed'],
      ['jinja', 'failed'],
      ['box', 'answered'],
    ],
  );
  assert.equal(r.answer.calls.length, 2);
  assert.equal(r.done?.finish, 'tool_calls');
});

test('no splice after a tool call: a candidate that fails after its first call is reported, the next is not asked', async () => {
  // The calls go out; once the router's caller has the first one, the server's model crashes (connection cut).
  const { sy, usage } = setup(['crash/qwen', 'box/qwen3:8b']);
  const seen: RoutedChatEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const ev of sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS })) {
        seen.push(ev);
        if (ev.type === 'toolCall' && ev.index === 0) cut?.(new Error('the model crashed'));
      }
    })(),
    (e: unknown) => e instanceof RouteError && e.afterOutput === true && /mid-answer/.test(e.message),
  );
  assert.ok(
    seen.some((e) => e.type === 'toolCall'),
    `a call started before the failure: ${seen.map((e) => e.type)}`,
  );
  assert.ok(!seen.some((e) => e.type === 'done'));
  assert.equal(chatRequests(ollama, '/api/chat').length, 0, 'nobody else answered after the call');
  assert.notEqual(usage.records.at(-1)?.outcome, 'ok');
});

test('privacy is unchanged for tool requests: local-only never sends a tool request to the cloud, allow does', async () => {
  const { sy } = setup(['openai/gpt-4.1-mini', 'box/qwen3:8b'], 'local-only');
  const r = await run(sy.router.chat({ task: 'chat', messages: ask, tools: TOOLS }));
  assert.equal(r.route?.providerId, 'box');
  assert.equal(r.route!.attempts[0]!.kind, 'policy');
  assert.equal(cloud.counts.total, 0);
  // A cloud model the policy forbids is skipped for the policy (not for its capabilities), even when it has none.
  const { sy: noTools } = setup([{ model: 'openai/gpt-4.1-mini', tools: false }, 'box/qwen3:8b'], 'local-only');
  const n = await run(noTools.router.chat({ task: 'chat', messages: ask, tools: TOOLS }));
  assert.equal(n.route!.attempts[0]!.kind, 'policy');
  assert.equal(cloud.counts.total, 0);

  // Allowed: the cloud gets the tools and answers with its calls.
  const { sy: allow } = setup(['openai/gpt-4.1-mini', 'box/qwen3:8b'], 'allow');
  const c = await run(allow.router.chat({ task: 'chat', messages: ask, tools: TOOLS, toolChoice: { name: 'get_weather' } }));
  assert.equal(c.route?.providerId, 'openai');
  assert.equal(c.answer.calls.length, 2);
  const [body] = chatRequests(cloud, '/v1/chat/completions');
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'get_weather' } });
});

test('a tool result turn goes back to the model, which answers with text; structured output reaches the provider', async () => {
  const { sy } = setup(['box/qwen3:8b']);
  const history: ChatMessage[] = [
    ...ask,
    { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Toronto"}' }] },
    { role: 'tool', content: '{"temp":21}', toolCallId: 'call_1', toolName: 'get_weather' },
  ];
  const r = await run(sy.router.chat({ task: 'chat', messages: history, tools: TOOLS }));
  assert.equal(r.answer.text, 'It is sunny.');
  assert.notEqual(r.done?.finish, 'tool_calls');
  const [body] = chatRequests(ollama, '/api/chat');
  assert.equal(body.messages.at(-1).role, 'tool');
  assert.deepEqual(body.messages.at(-2).tool_calls[0].function.arguments, { city: 'Toronto' });

  ollama.reset();
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
  const request: RoutedChatRequest = { task: 'chat', messages: ask, responseFormat: { type: 'json_schema', name: 'a', schema } };
  await run(sy.router.chat(request));
  assert.deepEqual(chatRequests(ollama, '/api/chat')[0].format, schema);
});

test('"tools" in a task candidate: false is read, anything but a boolean is reported and the entry ignored', () => {
  const ok = parseConfig({ 'switchyard.tasks': { chat: [{ model: 'box/qwen3:8b', tools: false }, 'auto'] } });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.config.tasks.chat[0], { ref: 'box/qwen3:8b', tools: false });
  const bad = parseConfig({ 'switchyard.tasks': { chat: [{ model: 'box/qwen3:8b', tools: 'no' }, 'auto'] } });
  assert.equal(bad.problems.length, 1);
  assert.match(bad.problems[0]!.message, /tools/);
  assert.deepEqual(bad.config.tasks.chat, [{ ref: 'auto' }]);
});

test("what VS Code's model picker reports as toolCalling: a candidate the policy may reach is not known to lack it (an Ollama name without a tag is its :latest)", async () => {
  const calls = async (chat: unknown[], privacy: PrivacyMode = 'allow') => {
    const { sy } = setup(chat, privacy);
    await sy.router.plan('chat'); // discovery: /api/tags and /api/show
    return sy.router.routeCallsTools('switchyard/chat');
  };
  assert.equal(await calls(['box/qwen2.5-coder:7b']), false, '/api/show lists no tools');
  assert.equal(await calls(['box/starcoder2']), false, 'starcoder2 is starcoder2:latest, whose /api/show lists no tools');
  assert.equal(await calls(['box/qwen2.5-coder:7b', 'box/qwen3:8b']), true, 'the router skips to qwen3:8b for tool requests');
  assert.equal(await calls([{ model: 'box/qwen3:8b', tools: false }]), false, '"tools": false');
  assert.equal(await calls(['box/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'], 'local-only'), false, 'the cloud one is out of reach');
  assert.equal(await calls(['box/qwen2.5-coder:7b', 'openai/gpt-4.1-mini']), true);
});
