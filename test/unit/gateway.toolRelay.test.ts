/**
 * Tool-call streams through the gateway, relayed and framed (issue 14): the same request through a gateway that relays
 * OpenAI-compatible streams (the default) and one with switchyard.gateway.relay off (the gateway frames every event)
 * must give the real `openai` client the same answer, for well-formed streams and for every quirk the test servers
 * reproduce. Well-formed streams (OpenAI's sequential calls, llama.cpp's interleaved parallel calls) are passed on as
 * the server sent them; malformed ones (object arguments from llama.cpp#20198, calls without ids, indexes from 1,
 * `stop` after calls) are normalised, so only well-formed streams take the fast path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionTool } from 'openai/resources/chat/completions';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { Gateway } from '../../src/core/gateway/server';
import { scriptedBackend, startLlamaCppServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import type { ToolCallWire } from '../fixtures/openaiServer';
import { TIME_TOOL, WEATHER_TOOL } from '../fixtures/toolCallAssert';

const TOKEN = 'sy-gw-tool-relay-token-0123456789';
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius', note: 'a "quoted" ünïcode ☀ value' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };
const TOOLS: ChatCompletionTool[] = [WEATHER_TOOL, TIME_TOOL].map((f) => ({ type: 'function', function: f }));

interface Upstream {
  name: string;
  kind: 'openai-compatible' | 'llamacpp';
  wire: ToolCallWire;
  /** Whether the server's stream is already in OpenAI's shape (relayed unchanged). */
  wellFormed: boolean;
  reasoning?: string[];
}

const UPSTREAMS: Upstream[] = [
  { name: 'OpenAI (sequential calls)', kind: 'openai-compatible', wire: {}, wellFormed: true },
  { name: 'llama.cpp (interleaved parallel calls)', kind: 'llamacpp', wire: { stream: 'interleaved' }, wellFormed: true },
  {
    name: 'llama.cpp, a thinking model (reasoning, then calls)',
    kind: 'llamacpp',
    wire: { stream: 'interleaved' },
    wellFormed: true,
    reasoning: ['Weather', ' and time.'],
  },
  { name: 'llama.cpp object arguments (llama.cpp#20198)', kind: 'llamacpp', wire: { arguments: 'object' }, wellFormed: false },
  { name: 'calls without ids', kind: 'openai-compatible', wire: { ids: 'missing' }, wellFormed: false },
  {
    name: 'indexes from 1, finish "stop" after the calls',
    kind: 'openai-compatible',
    wire: { firstIndex: 1, finishAfterCalls: 'stop' },
    wellFormed: false,
  },
];

const servers: FixtureServer[] = [];
const gateways: Gateway[] = [];
/** Per upstream: the gateway that relays and the one that frames. */
const routes = new Map<string, { relayed: Gateway; framed: Gateway }>();

before(async () => {
  for (const up of UPSTREAMS) {
    const backend = scriptedBackend({
      tokens: ['Done', '.'],
      toolCalls: [weather, time],
      ...(up.reasoning ? { reasoning: up.reasoning } : {}),
    });
    const server =
      up.kind === 'llamacpp'
        ? await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: true, toolCalls: up.wire })
        : await startOpenAIServer({ backend, toolCalls: up.wire });
    servers.push(server);
    const pair: Gateway[] = [];
    for (const relay of [true, false]) {
      const { config, problems } = parseConfig({
        'switchyard.providers': [{ id: 'up', kind: up.kind, baseUrl: up.kind === 'llamacpp' ? server.url : `${server.url}/v1` }],
        'switchyard.tasks': { chat: [up.kind === 'llamacpp' ? 'up/qwen' : 'up/gpt-4.1-mini'] },
        'switchyard.privacy': 'local-only',
        'switchyard.gateway.relay': relay,
      });
      assert.deepEqual(problems, []);
      const sy = new Switchyard({
        config,
        secrets: { getApiKey: async () => undefined },
        privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
      });
      const gw = new Gateway({ source: sy, token: TOKEN, port: 0 });
      await gw.start();
      gateways.push(gw);
      pair.push(gw);
    }
    routes.set(up.name, { relayed: pair[0]!, framed: pair[1]! });
  }
});
after(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(servers.map((s) => s.close()));
});

interface Seen {
  /** The openai client's own accumulation of the stream (its ChatCompletionStream helper). */
  message: OpenAI.Chat.Completions.ChatCompletionMessage;
  finish: string | null;
  chunks: ChatCompletionChunk[];
}

async function ask(gw: Gateway): Promise<Seen> {
  const client = new OpenAI({ baseURL: gw.url, apiKey: TOKEN, maxRetries: 0 });
  const stream = client.chat.completions.stream({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'weather and time?' }],
    tools: TOOLS,
    stream_options: { include_usage: true },
  });
  const chunks: ChatCompletionChunk[] = [];
  stream.on('chunk', (c) => chunks.push(c));
  const final = await stream.finalChatCompletion();
  const choice = final.choices[0]!;
  return { message: choice.message, finish: choice.finish_reason, chunks };
}

/** Every streamed piece in OpenAI's framing: a call's first piece index (0, 1, … in order), id, type, name, string arguments; later pieces index and arguments only. */
function assertOpenAIFraming(chunks: ChatCompletionChunk[]): void {
  const started: number[] = [];
  for (const chunk of chunks) {
    for (const piece of chunk.choices[0]?.delta.tool_calls ?? []) {
      if (!started.includes(piece.index)) {
        assert.equal(piece.index, started.length, `calls are numbered from 0 in order: ${JSON.stringify(piece)}`);
        started.push(piece.index);
        assert.ok(typeof piece.id === 'string' && piece.id !== '', `first piece has an id: ${JSON.stringify(piece)}`);
        assert.equal(piece.type, 'function');
        assert.ok(piece.function?.name);
        assert.equal(typeof piece.function?.arguments, 'string');
      } else {
        assert.deepEqual(
          Object.keys(piece).sort(),
          ['function', 'index'],
          `later pieces carry index and arguments only: ${JSON.stringify(piece)}`,
        );
        assert.equal(typeof piece.function?.arguments, 'string');
      }
    }
  }
  assert.deepEqual(started, [0, 1]);
}

/** What a client acts on: the calls (ids only by shape: servers and the gateway make new ones per answer), text, finish. */
function outcome(seen: Seen): unknown {
  const calls = (seen.message.tool_calls ?? []) as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
  assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, 'each call has its own id');
  for (const c of calls) assert.ok(typeof c.id === 'string' && c.id.length > 0);
  return {
    content: seen.message.content,
    reasoning:
      seen.chunks.map((c) => (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '').join('') ||
      undefined,
    calls: calls.map((c) => ({
      type: c.type,
      name: c.function.name,
      arguments: JSON.parse(c.function.arguments) as unknown,
      argumentsType: typeof c.function.arguments,
    })),
    finish: seen.finish,
    usage: seen.chunks.some((c) => (c.usage?.completion_tokens ?? 0) > 0),
  };
}

for (const up of UPSTREAMS) {
  test(`tool calls relayed and framed give the openai client the same answer: ${up.name}`, async () => {
    const { relayed, framed } = routes.get(up.name)!;
    const a = await ask(relayed);
    const b = await ask(framed);
    assertOpenAIFraming(a.chunks);
    assertOpenAIFraming(b.chunks);
    assert.deepEqual(outcome(a), outcome(b));
    assert.deepEqual(outcome(a), {
      content: null,
      reasoning: up.reasoning?.join(''),
      calls: [
        { type: 'function', name: 'get_weather', arguments: weather.arguments, argumentsType: 'string' },
        { type: 'function', name: 'get_time', arguments: time.arguments, argumentsType: 'string' },
      ],
      finish: 'tool_calls',
      usage: true,
    });
    // The gateway frames with its own chunk ids; a relayed stream keeps the server's. Only well-formed streams have
    // every tool-call chunk passed on as the server sent it.
    assert.ok(
      b.chunks.every((c) => c.id.startsWith('chatcmpl-sy')),
      'relay off: the gateway framed every chunk',
    );
    const callChunks = a.chunks.filter((c) => c.choices[0]?.delta.tool_calls?.length);
    assert.ok(
      callChunks.every((c) => !c.id.startsWith('chatcmpl-sy')),
      "relayed: chunks keep the server's id",
    );
    assert.ok(
      a.chunks.every((c) => c.model === 'up/' + (up.kind === 'llamacpp' ? 'qwen' : 'gpt-4.1-mini')),
      'relayed: every chunk names the route',
    );
    const ids = a.message.tool_calls!.map((c) => c.id);
    // The server's own ids (llama.cpp: 32 letters and digits), or ids made where it sent none.
    if (up.kind === 'llamacpp')
      assert.ok(
        ids.every((id) => /^[A-Za-z0-9]{32}$/.test(id)),
        ids.join(),
      );
    if (up.wire.ids === 'missing')
      assert.ok(
        ids.every((id) => /^call_[A-Za-z0-9_-]{24}$/.test(id)),
        ids.join(),
      );
  });
}

test("a relayed well-formed tool-call stream is the server's stream: its pieces arrive unchanged, chunk for chunk", async () => {
  const up = UPSTREAMS[1]!;
  const server = servers[1]!;
  const direct = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
  const wire: unknown[] = [];
  for await (const c of await direct.chat.completions.create({
    model: 'qwen',
    messages: [{ role: 'user', content: 'weather and time?' }],
    tools: TOOLS,
    stream: true,
  })) {
    for (const p of c.choices[0]?.delta.tool_calls ?? []) wire.push({ ...p, id: p.id === undefined ? undefined : 'id' });
  }
  const seen = await ask(routes.get(up.name)!.relayed);
  const relayed = seen.chunks
    .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
    .map((p) => ({ ...p, id: p.id === undefined ? undefined : 'id' }));
  assert.deepEqual(relayed, wire);
});
