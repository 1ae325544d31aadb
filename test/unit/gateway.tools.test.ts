/**
 * Agents through the gateway (issue 14): the real `openai` client runs a tool loop against /v1/chat/completions —
 * two calls in parallel, their results sent back as `tool` messages, then the final text — streamed and not, with
 * Ollama (legacy tool-call style: object arguments, no ids, calls in a chunk before `done`) and llama.cpp
 * (interleaved fragments of parallel calls) upstream. Each route starts with a refused server and a model without
 * tool support, so the loop also crosses a fallback and a capability skip. Calls reach the client exactly as OpenAI
 * frames them.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { Gateway } from '../../src/core/gateway/server';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, type FixtureServer } from '../fixtures';
import { TIME_TOOL, WEATHER_TOOL } from '../fixtures/toolCallAssert';

const TOKEN = 'sy-gw-tools-token-0123456789';
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };
const TOOLS: ChatCompletionTool[] = [WEATHER_TOOL, TIME_TOOL].map((f) => ({ type: 'function', function: f }));
const FINAL = 'It is 21°C in Toronto and 18:00 in Paris.';
let ollama: FixtureServer;
let llama: FixtureServer;
let llamaPlain: FixtureServer;
let refused: number;
let gateway: Gateway;
let usage: MemoryLedger;

before(async () => {
  const backend = scriptedBackend({
    tokens: ['It', ' is', ' 21°C', ' in', ' Toronto', ' and', ' 18:00', ' in', ' Paris', '.'],
    toolCalls: [weather, time],
  });
  // qwen3:8b lists the `tools` capability in /api/show; qwen2.5-coder:7b does not (skipped for tool requests).
  ollama = await startOllamaServer({
    backend,
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'qwen3:8b', contextLength: 40960, tools: true },
    ],
    toolCallStyle: 'legacy',
  });
  llama = await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: true, toolCalls: { stream: 'interleaved' } });
  llamaPlain = await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: false });
  refused = await closedPort();
  usage = new MemoryLedger();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'llama', kind: 'llamacpp', baseUrl: llama.url },
      { id: 'plain', kind: 'llamacpp', baseUrl: llamaPlain.url },
    ],
    'switchyard.tasks': {
      chat: ['gone/qwen3:8b', 'box/qwen2.5-coder:7b', 'box/qwen3:8b'],
      explain: ['gone/qwen3:8b', 'plain/qwen', 'llama/qwen'],
    },
    'switchyard.privacy': 'local-only',
    'switchyard.aliases': { agent: 'explain' },
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
  });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gateway.start();
});
after(async () => {
  await gateway.stop();
  await Promise.all([ollama.close(), llama.close(), llamaPlain.close()]);
});
beforeEach(() => {
  for (const s of [ollama, llama, llamaPlain]) s.reset();
});

function client(): OpenAI {
  return new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
}

interface Turn {
  content: string | null;
  toolCalls: ChatCompletionMessageFunctionToolCall[];
  finish: string | null | undefined;
  headers: Headers;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/**
 * One request of the loop. Streamed, every `delta.tool_calls` piece is checked against OpenAI's framing: a call's
 * first piece carries index, id, type "function", the name and empty arguments; later pieces only index and
 * arguments; the finish chunk says tool_calls.
 */
async function turn(
  model: string,
  messages: ChatCompletionMessageParam[],
  stream: boolean,
  extra: Record<string, unknown> = {},
): Promise<Turn> {
  if (!stream) {
    const { data, response } = await client()
      .chat.completions.create({ model, messages, tools: TOOLS, ...extra })
      .withResponse();
    const choice = data.choices[0]!;
    for (const c of choice.message.tool_calls ?? [])
      assert.equal(typeof (c as { function: { arguments: unknown } }).function.arguments, 'string', 'arguments are a JSON string');
    return {
      content: choice.message.content,
      toolCalls: (choice.message.tool_calls ?? []) as ChatCompletionMessageFunctionToolCall[],
      finish: choice.finish_reason,
      headers: response.headers,
      usage: data.usage,
    };
  }
  const { data, response } = await client()
    .chat.completions.create({ model, messages, tools: TOOLS, stream: true, stream_options: { include_usage: true }, ...extra })
    .withResponse();
  const calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];
  let content: string | null = null;
  let finish: string | null | undefined;
  let usageSeen: Turn['usage'];
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of data) {
    chunks.push(chunk);
    if (chunk.usage) usageSeen = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.content) content = (content ?? '') + c.delta.content;
      for (const piece of c.delta.tool_calls ?? []) {
        assert.equal(typeof piece.index, 'number');
        const known = calls[piece.index];
        if (!known) {
          assert.equal(piece.index, calls.length, 'calls are numbered from 0 in order');
          assert.ok(typeof piece.id === 'string' && piece.id !== '', `first piece has an id: ${JSON.stringify(piece)}`);
          assert.equal(piece.type, 'function');
          assert.ok(piece.function?.name, 'first piece has the name');
          assert.equal(typeof piece.function?.arguments, 'string');
          calls[piece.index] = {
            id: piece.id!,
            type: 'function',
            function: { name: piece.function!.name!, arguments: piece.function!.arguments ?? '' },
          };
        } else {
          assert.deepEqual(
            Object.keys(piece).sort(),
            ['function', 'index'],
            `later pieces carry index and arguments only: ${JSON.stringify(piece)}`,
          );
          assert.deepEqual(Object.keys(piece.function!), ['arguments']);
          known.function.arguments += piece.function!.arguments;
        }
      }
      if (c.finish_reason) {
        assert.equal(finish, undefined, 'one finish chunk');
        finish = c.finish_reason;
      }
    }
  }
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  return { content, toolCalls: calls, finish, headers: response.headers, usage: usageSeen };
}

/** What the tools answer (the agent's side of the loop). */
function runTool(call: ChatCompletionMessageFunctionToolCall): string {
  const args = JSON.parse(call.function.arguments) as { city: string };
  return call.function.name === 'get_weather'
    ? JSON.stringify({ city: args.city, temperature: 21 })
    : JSON.stringify({ city: args.city, time: '18:00' });
}

const upstreams = [
  {
    name: 'Ollama (legacy tool calls)',
    model: 'switchyard/chat',
    server: () => ollama,
    chatPath: '/api/chat',
    answered: 'box/qwen3:8b',
    skippedModel: 'box/qwen2.5-coder:7b',
  },
  {
    name: 'llama.cpp (interleaved fragments)',
    model: 'switchyard/agent',
    server: () => llama,
    chatPath: '/v1/chat/completions',
    answered: 'llama/qwen',
    skippedModel: 'plain/qwen',
  },
];

for (const up of upstreams) {
  for (const stream of [false, true]) {
    test(`agent loop through the gateway, ${up.name}, ${stream ? 'streamed' : 'not streamed'}: two parallel calls, their results, the final text`, async () => {
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: 'You are an agent. Use the tools.' },
        { role: 'user', content: 'What is the weather in Toronto and the time in Paris?' },
      ];
      // Step 1: the model calls both tools at once.
      const first = await turn(up.model, messages, stream, { parallel_tool_calls: true });
      assert.equal(first.finish, 'tool_calls');
      assert.equal(first.headers.get('x-switchyard-route'), up.answered);
      assert.equal(first.headers.get('x-switchyard-fallback'), 'true');
      assert.deepEqual(
        first.toolCalls.map((c) => [c.type, c.function.name, JSON.parse(c.function.arguments)]),
        [
          ['function', 'get_weather', weather.arguments],
          ['function', 'get_time', time.arguments],
        ],
      );
      assert.equal(new Set(first.toolCalls.map((c) => c.id)).size, 2, 'each call has its own id');
      if (!stream) assert.equal(first.content, null, 'a message with only calls has content null');
      if (stream) assert.ok(first.usage && first.usage.completion_tokens > 0, 'usage chunk as asked');

      // Step 2: the agent runs the tools and sends the results back (assistant message with content null).
      messages.push({ role: 'assistant', content: null, tool_calls: first.toolCalls });
      for (const call of first.toolCalls) messages.push({ role: 'tool', tool_call_id: call.id, content: runTool(call) });
      const second = await turn(up.model, messages, stream);
      // Step 3: the final text.
      assert.equal(second.finish, 'stop');
      assert.equal(second.content, FINAL);
      assert.deepEqual(second.toolCalls, []);

      // The upstream got the tools, then the calls and results in its own format; the skipped models got nothing.
      const bodies = up
        .server()
        .requests.filter((r) => r.method === 'POST' && r.path === up.chatPath)
        .map((r) => r.body);
      assert.equal(bodies.length, 2);
      assert.deepEqual(
        bodies[0].tools.map((t: any) => t.function.name),
        ['get_weather', 'get_time'],
      );
      const sent = bodies[1].messages as any[];
      const assistant = sent.find((m) => m.role === 'assistant');
      assert.deepEqual(
        assistant.tool_calls.map((c: any) => c.function.name),
        ['get_weather', 'get_time'],
      );
      const results = sent.filter((m) => m.role === 'tool');
      assert.equal(results.length, 2);
      assert.deepEqual(
        results.map((m) => m.tool_call_id),
        first.toolCalls.map((c) => c.id),
      );
      if (up.chatPath === '/api/chat') {
        // Ollama takes arguments as objects and the result's function name.
        assert.deepEqual(assistant.tool_calls[0].function.arguments, weather.arguments);
        assert.deepEqual(
          results.map((m) => m.tool_name),
          ['get_weather', 'get_time'],
        );
        assert.deepEqual(
          bodies.map((b) => b.model),
          ['qwen3:8b', 'qwen3:8b'],
        );
      } else {
        assert.equal(typeof assistant.tool_calls[0].function.arguments, 'string');
        assert.equal(bodies[0].parallel_tool_calls, true);
        assert.equal(llamaPlain.requests.filter((r) => r.path === '/v1/chat/completions').length, 0);
      }
      // The route recorded why: the refused server failed, the model without tool support was skipped.
      const record = usage.records.at(-1)!;
      assert.equal(record.outcome, 'ok');
      assert.equal(`${record.providerId}/${record.model}`, up.answered);
    });
  }
}

test("the openai client's own tool runner (runTools, streamed) completes the loop through the gateway", async () => {
  const seen: string[] = [];
  const runner = client().chat.completions.runTools({
    model: 'switchyard/agent',
    stream: true,
    messages: [{ role: 'user', content: 'What is the weather in Toronto and the time in Paris?' }],
    tools: [WEATHER_TOOL, TIME_TOOL].map((f) => ({
      type: 'function' as const,
      function: {
        name: f.name,
        description: f.description,
        parameters: f.parameters,
        parse: JSON.parse,
        function: (args: { city: string }) => {
          seen.push(`${f.name}(${args.city})`);
          return f.name === 'get_weather' ? { temperature: 21 } : { time: '18:00' };
        },
      },
    })),
  });
  assert.equal(await runner.finalContent(), FINAL);
  assert.deepEqual(seen, ['get_weather(Toronto)', 'get_time(Paris)']);
  assert.equal(llama.requests.filter((r) => r.path === '/v1/chat/completions').length, 2);
});

test('a model without tool support is skipped, not sent the tools; with none left the gateway says why', async () => {
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'] },
    'switchyard.privacy': 'local-only',
  });
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  const gw = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gw.start();
  try {
    const c = new OpenAI({ baseURL: gw.url, apiKey: TOKEN, maxRetries: 0 });
    const err = await c.chat.completions
      .create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'weather?' }], tools: TOOLS })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(err instanceof OpenAI.APIError);
    assert.match(err.message, /no tool calling/);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'tools_not_supported');
    assert.equal(ollama.requests.filter((r) => r.path === '/api/chat').length, 0);
    // The same model answers the same request without tools, and with tool_choice "none".
    for (const extra of [{}, { tools: TOOLS, tool_choice: 'none' as const }]) {
      const ok = await c.chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'weather?' }], ...extra });
      assert.equal(ok.choices[0]!.message.content, FINAL);
    }
  } finally {
    await gw.stop();
  }
});

test('legacy functions / function_call: mapped to tools, answered with message.function_call (not streamed and streamed)', async () => {
  const functions = [WEATHER_TOOL];
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Toronto?' }];
  const r = await client().chat.completions.create({ model: 'switchyard/chat', messages, functions, function_call: 'auto' });
  const choice = r.choices[0]!;
  assert.equal(choice.finish_reason, 'function_call');
  assert.equal(choice.message.function_call?.name, 'get_weather');
  assert.deepEqual(JSON.parse(choice.message.function_call!.arguments), weather.arguments);
  assert.equal(choice.message.tool_calls, undefined);
  const [body] = ollama.requests.filter((r) => r.path === '/api/chat').map((r) => r.body);
  assert.deepEqual(
    body.tools.map((t: any) => t.function.name),
    ['get_weather'],
  );

  const stream = await client().chat.completions.create({ model: 'switchyard/chat', messages, functions, stream: true });
  let name = '';
  let args = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    name += c.delta.function_call?.name ?? '';
    args += c.delta.function_call?.arguments ?? '';
    assert.equal(c.delta.tool_calls, undefined);
    finish = c.finish_reason ?? finish;
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), weather.arguments);
  assert.equal(finish, 'function_call');

  // The result goes back as a `function` message and the model answers.
  ollama.reset();
  const after = await client().chat.completions.create({
    model: 'switchyard/chat',
    functions,
    messages: [
      ...messages,
      { role: 'assistant', content: null, function_call: choice.message.function_call! },
      { role: 'function', name: 'get_weather', content: '{"temperature":21}' },
    ],
  });
  assert.equal(after.choices[0]!.message.content, FINAL);
  const sent = ollama.requests.find((r) => r.path === '/api/chat')!.body.messages as any[];
  assert.equal(sent.at(-1).role, 'tool');
  assert.equal(sent.at(-1).tool_name, 'get_weather');
});

test('tool_choice and response_format reach the upstream; bad tool parameters get a clear 400, logprobs keeps its 400', async () => {
  await client().chat.completions.create({
    model: 'switchyard/agent',
    messages: [{ role: 'user', content: 'x' }],
    tools: TOOLS,
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  const [body] = llama.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body);
  // llama-server takes tool_choice as a string only (an object is read as "auto"): a named choice goes as that tool, required.
  assert.equal(body.tool_choice, 'required');
  assert.deepEqual(
    body.tools.map((t: { function: { name: string } }) => t.function.name),
    ['get_time'],
  );

  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
  ollama.reset();
  const json = await client().chat.completions.create({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
  });
  assert.equal(json.choices[0]!.finish_reason, 'stop');
  assert.deepEqual(ollama.requests.find((r) => r.path === '/api/chat')!.body.format, schema);
  ollama.reset();
  await client().chat.completions.create({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_object' },
  });
  assert.equal(ollama.requests.find((r) => r.path === '/api/chat')!.body.format, 'json');

  ollama.reset();
  const bad = async (extra: Record<string, unknown>, messages: unknown[] = [{ role: 'user', content: 'x' }]) =>
    client()
      .chat.completions.create({ model: 'switchyard/chat', messages, ...extra } as never)
      .then(
        () => assert.fail(`expected a 400 for ${JSON.stringify(extra)}`),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
  const cases: [Record<string, unknown>, unknown[] | undefined, string][] = [
    [{ tools: [{ type: 'function', function: { name: 'has space' } }] }, undefined, 'tools[0].function.name'],
    [{ tools: [{ type: 'web_search' }] }, undefined, 'tools[0].type'],
    [{ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }, undefined, 'tool_choice'],
    [{ response_format: { type: 'json_schema' } }, undefined, 'response_format.json_schema'],
    [
      {},
      [
        { role: 'user', content: 'x' },
        { role: 'tool', content: 'result' },
      ],
      'messages[1].tool_call_id',
    ],
    [{ logprobs: true }, undefined, 'logprobs'],
  ];
  for (const [extra, messages, param] of cases) {
    const err = await bad(extra, messages);
    assert.equal(err.status, 400, JSON.stringify(extra));
    assert.equal((err.error as { param?: string }).param, param, JSON.stringify(err.error));
  }
  assert.equal(ollama.counts.total, 0, 'nothing refused reached a model');
});
