/**
 * OpenAI's Responses API through the gateway (issue 14), driven by the real `openai` client (`responses.create`,
 * streamed and not, and `responses.stream`, whose accumulator checks the event sequence as OpenAI's SDK reads it):
 * text; a tool loop (two parallel calls as function_call items → function_call_output inputs → the final text) with
 * Ollama (legacy tool calls) and llama.cpp (interleaved fragments) upstream, each route starting with a refused
 * server and a model without tool support; previous_response_id and item_reference from the gateway's memory;
 * reasoning items; structured output; the answer budget; a failure mid-stream; the clear 400s; and the same
 * token/Host/Origin/body-size rules as the other routes.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import type {
  FunctionTool,
  Response,
  ResponseFunctionToolCall,
  ResponseInputItem,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { Gateway } from '../../src/core/gateway/server';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, type FixtureServer } from '../fixtures';
import { TIME_TOOL, WEATHER_TOOL } from '../fixtures/toolCallAssert';

const TOKEN = 'sy-gw-responses-token-0123456789';
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };
const TOOLS: FunctionTool[] = [WEATHER_TOOL, TIME_TOOL].map((f) => ({
  type: 'function',
  name: f.name,
  description: f.description,
  parameters: f.parameters,
  strict: false,
}));
const ANSWER = ['It', ' is', ' 21°C', ' in', ' Toronto', ' and', ' 18:00', ' in', ' Paris', '.'];
const FINAL = ANSWER.join('');
const THOUGHT = ['Let', ' me', ' think', '.'];
let ollama: FixtureServer;
let llama: FixtureServer;
let llamaPlain: FixtureServer;
let thinker: FixtureServer;
let crashing: FixtureServer;
let cut: ((e: Error) => void) | undefined;
let refused: number;
let gateway: Gateway;
let usage: MemoryLedger;

before(async () => {
  const backend = scriptedBackend({ tokens: ANSWER, toolCalls: [weather, time] });
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
  thinker = await startLlamaCppServer({ backend: scriptedBackend({ reasoning: THOUGHT, tokens: ANSWER }), modelAlias: 'thinker' });
  // Makes its calls, then the connection is cut (a test opens `cut` when its client saw them).
  crashing = await startLlamaCppServer({
    backend: scriptedBackend({ toolCalls: [weather], afterToolCalls: () => new Promise<void>((_, reject) => (cut = reject)) }),
    modelAlias: 'crashy',
    toolCapable: true,
  });
  refused = await closedPort();
  usage = new MemoryLedger();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'llama', kind: 'llamacpp', baseUrl: llama.url },
      { id: 'plain', kind: 'llamacpp', baseUrl: llamaPlain.url },
      { id: 'think', kind: 'llamacpp', baseUrl: thinker.url },
      { id: 'crash', kind: 'llamacpp', baseUrl: crashing.url },
    ],
    'switchyard.tasks': {
      chat: ['gone/qwen3:8b', 'box/qwen2.5-coder:7b', 'box/qwen3:8b'],
      explain: ['gone/qwen3:8b', 'plain/qwen', 'llama/qwen'],
      summarize: ['think/thinker'],
      edit: ['crash/crashy'],
    },
    'switchyard.privacy': 'local-only',
    'switchyard.aliases': { agent: 'explain', thinker: 'summarize', crashy: 'edit' },
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage,
  });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0, maxBodyBytes: 64 * 1024 });
  await gateway.start();
});
after(async () => {
  await gateway.stop();
  await Promise.all([ollama, llama, llamaPlain, thinker, crashing].map((s) => s.close()));
});
beforeEach(() => {
  for (const s of [ollama, llama, llamaPlain, thinker, crashing]) s.reset();
});

function client(): OpenAI {
  return new OpenAI({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
}

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  return p.then(
    () => assert.fail('expected an error'),
    (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      return e;
    },
  );
}

/**
 * The events of a stream, checked against OpenAI's grammar: sequence numbers from 0 without gaps, created and
 * in_progress first, one terminal event last, each item's events contiguous between its added and done (never
 * interleaved with another's), deltas that add up to the done text / arguments.
 */
function checkSequence(events: ResponseStreamEvent[]): void {
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
    'sequence_number counts from 0',
  );
  assert.equal(events[0]!.type, 'response.created');
  assert.equal(events[1]!.type, 'response.in_progress');
  const end = events.at(-1)!.type;
  assert.ok(['response.completed', 'response.incomplete', 'response.failed'].includes(end), end);
  let open: { index: number; id: string; text: string } | undefined;
  let next = 0;
  for (const e of events.slice(2, -1)) {
    if (e.type === 'response.output_item.added') {
      assert.equal(open, undefined, 'one item at a time');
      assert.equal(e.output_index, next++);
      assert.equal((e.item as { status?: string }).status, 'in_progress');
      open = { index: e.output_index, id: e.item.id!, text: '' };
      continue;
    }
    assert.ok(open, `${e.type} inside an item`);
    if ('output_index' in e) assert.equal(e.output_index, open.index, `${e.type} belongs to the open item`);
    if ('item_id' in e) assert.equal(e.item_id, open.id);
    if (
      e.type === 'response.output_text.delta' ||
      e.type === 'response.function_call_arguments.delta' ||
      e.type === 'response.reasoning_text.delta'
    )
      open.text += e.delta;
    if (e.type === 'response.output_text.done' || e.type === 'response.reasoning_text.done') assert.equal(e.text, open.text);
    if (e.type === 'response.function_call_arguments.done') assert.equal(e.arguments, open.text);
    if (e.type === 'response.output_item.done') {
      assert.equal((e.item as { status?: string }).status, 'completed');
      open = undefined;
    }
  }
  // A failed response may end with an item left in progress.
  if (end !== 'response.failed') assert.equal(open, undefined, 'every item is done before the end');
}

async function streamed(params: Record<string, unknown>): Promise<{ events: ResponseStreamEvent[]; headers: Headers }> {
  const { data, response } = await client()
    .responses.create({ ...params, stream: true } as never)
    .withResponse();
  const events: ResponseStreamEvent[] = [];
  for await (const e of data as unknown as AsyncIterable<ResponseStreamEvent>) events.push(e);
  checkSequence(events);
  return { events, headers: response.headers };
}

/** One request of a loop, streamed or not: the final response object and the headers. */
async function respond(
  params: Record<string, unknown>,
  stream: boolean,
): Promise<{ response: Response; headers: Headers; events?: ResponseStreamEvent[] }> {
  if (!stream) {
    const { data, response } = await client()
      .responses.create(params as never)
      .withResponse();
    return { response: data as Response, headers: response.headers };
  }
  const { events, headers } = await streamed(params);
  const last = events.at(-1)!;
  assert.ok('response' in last);
  return { response: last.response, headers, events };
}

test('text, not streamed: a response with one message item, usage and status', async () => {
  const r = await client().responses.create({ model: 'switchyard/chat', input: 'What is the weather?', instructions: 'Be brief.' });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'completed');
  // No tools: the first healthy candidate answers (the model without tool support serves text).
  assert.equal(r.model, 'box/qwen2.5-coder:7b');
  assert.equal(r.output_text, FINAL, "the SDK's output_text");
  assert.equal(r.output.length, 1);
  const msg = r.output[0]!;
  assert.equal(msg.type, 'message');
  if (msg.type !== 'message') return;
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.status, 'completed');
  assert.deepEqual(msg.content, [{ type: 'output_text', annotations: [], logprobs: [], text: FINAL }]);
  assert.ok(r.usage!.input_tokens > 0 && r.usage!.output_tokens === ANSWER.length);
  assert.equal(r.usage!.total_tokens, r.usage!.input_tokens + r.usage!.output_tokens);
  assert.equal(r.instructions, 'Be brief.');
  // instructions became the system message, the input the user's.
  const sent = ollama.requests.find((q) => q.path === '/api/chat')!.body;
  assert.deepEqual(
    sent.messages.map((m: any) => [m.role, m.content]),
    [
      ['system', 'Be brief.'],
      ['user', 'What is the weather?'],
    ],
  );
  assert.equal(usage.records.at(-1)!.outcome, 'ok');
});

test("text, streamed: OpenAI's event sequence, and responses.stream() accumulates the same response", async () => {
  const { events, headers } = await streamed({
    model: 'switchyard/chat',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'Weather?' }] }],
  });
  assert.equal(headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(headers.get('x-switchyard-route'), 'box/qwen2.5-coder:7b');
  assert.deepEqual(
    [...new Set(events.map((e) => e.type))],
    [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ],
  );
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').length, ANSWER.length, 'one delta per token');
  const created = events[0] as Extract<ResponseStreamEvent, { type: 'response.created' }>;
  assert.equal(created.response.status, 'in_progress');
  assert.deepEqual(created.response.output, []);
  const done = events.at(-1) as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
  assert.equal(done.response.id, created.response.id);
  assert.equal(done.response.status, 'completed');
  assert.ok(done.response.usage!.output_tokens > 0);

  const stream = client().responses.stream({ model: 'switchyard/chat', input: 'Weather?' });
  let deltas = '';
  stream.on('response.output_text.delta', (e) => (deltas += e.delta));
  const final = await stream.finalResponse();
  assert.equal(deltas, FINAL);
  assert.equal(final.output_text, FINAL);
  assert.equal(final.status, 'completed');
});

const upstreams = [
  { name: 'Ollama (legacy tool calls)', model: 'switchyard/chat', server: () => ollama, chatPath: '/api/chat', answered: 'box/qwen3:8b' },
  {
    name: 'llama.cpp (interleaved fragments)',
    model: 'switchyard/agent',
    server: () => llama,
    chatPath: '/v1/chat/completions',
    answered: 'llama/qwen',
  },
];

for (const up of upstreams) {
  for (const stream of [false, true]) {
    test(`tool loop through /v1/responses, ${up.name}, ${stream ? 'streamed' : 'not streamed'}: function_call items, function_call_output inputs, the final text`, async () => {
      const input: ResponseInputItem[] = [{ role: 'user', content: 'What is the weather in Toronto and the time in Paris?' }];
      const first = await respond(
        { model: up.model, input, tools: TOOLS, parallel_tool_calls: true, instructions: 'Use the tools.', store: false },
        stream,
      );
      assert.equal(first.headers.get('x-switchyard-route'), up.answered);
      assert.equal(first.headers.get('x-switchyard-fallback'), 'true', 'the refused server and the model without tools were passed');
      assert.equal(first.response.status, 'completed');
      const calls = first.response.output.filter((o): o is ResponseFunctionToolCall => o.type === 'function_call');
      assert.equal(calls.length, first.response.output.length, 'only calls');
      assert.deepEqual(
        calls.map((c) => [c.name, JSON.parse(c.arguments), c.status]),
        [
          ['get_weather', weather.arguments, 'completed'],
          ['get_time', time.arguments, 'completed'],
        ],
      );
      for (const c of calls) {
        assert.match(c.id!, /^fc_/);
        assert.equal(typeof c.arguments, 'string');
        assert.ok(c.call_id);
      }
      assert.equal(new Set(calls.map((c) => c.call_id)).size, 2);
      if (first.events) {
        // Each call's arguments streamed as deltas, in order, ending with its .done (checked in checkSequence).
        const argDone = first.events.filter((e) => e.type === 'response.function_call_arguments.done');
        assert.deepEqual(
          argDone.map((e) => e.name),
          ['get_weather', 'get_time'],
        );
      }

      // The agent runs the tools and sends the calls back with their outputs.
      input.push(...calls.map(({ type, call_id, name, arguments: args }) => ({ type, call_id, name, arguments: args })));
      for (const c of calls) input.push({ type: 'function_call_output', call_id: c.call_id, output: JSON.stringify({ ok: c.name }) });
      const second = await respond({ model: up.model, input, tools: TOOLS, store: false }, stream);
      assert.equal(second.response.status, 'completed');
      assert.equal(second.response.output.length, 1);
      const msg = second.response.output[0]!;
      assert.ok(msg.type === 'message' && msg.content[0]!.type === 'output_text');
      assert.equal(msg.content[0].text, FINAL);

      // The upstream got the tools, then the calls and results in its own format.
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
      assert.equal(bodies[0].messages[0].role, 'system', 'instructions are the system message');
      assert.deepEqual(
        sent.map((m) => m.role),
        ['user', 'assistant', 'tool', 'tool'],
        'instructions are per request (the second sent none)',
      );
      const assistant = sent[1];
      assert.deepEqual(
        assistant.tool_calls.map((c: any) => c.function.name),
        ['get_weather', 'get_time'],
      );
      if (up.chatPath === '/api/chat') {
        assert.deepEqual(assistant.tool_calls[0].function.arguments, weather.arguments);
        assert.deepEqual(
          sent.slice(2).map((m) => m.tool_name),
          ['get_weather', 'get_time'],
        );
      } else {
        assert.deepEqual(
          sent.slice(2).map((m) => m.tool_call_id),
          calls.map((c) => c.call_id),
        );
        assert.equal(bodies[0].parallel_tool_calls, true);
        assert.equal(
          llamaPlain.requests.filter((r) => r.path === '/v1/chat/completions').length,
          0,
          'the model without tool support got nothing',
        );
      }
      assert.equal(`${usage.records.at(-1)!.providerId}/${usage.records.at(-1)!.model}`, up.answered);
    });
  }
}

test('previous_response_id continues a remembered answer (function_call_output only); an unknown one is a clear 400', async () => {
  const first = await client().responses.create({
    model: 'switchyard/agent',
    input: 'Weather in Toronto and time in Paris?',
    tools: TOOLS,
  });
  const calls = first.output.filter((o): o is ResponseFunctionToolCall => o.type === 'function_call');
  assert.equal(calls.length, 2);
  const second = await client().responses.create({
    model: 'switchyard/agent',
    previous_response_id: first.id,
    input: calls.map((c) => ({ type: 'function_call_output' as const, call_id: c.call_id, output: '{"ok":true}' })),
    tools: TOOLS,
  });
  assert.equal(second.output_text, FINAL);
  assert.equal(second.previous_response_id, first.id);
  const sent = llama.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.body.messages as any[];
  assert.deepEqual(
    sent.map((m) => m.role),
    ['user', 'assistant', 'tool', 'tool'],
  );

  const err = await apiError(
    client().responses.create({ model: 'switchyard/agent', previous_response_id: 'resp_unknown', input: 'and now?' }),
  );
  assert.equal(err.status, 400);
  assert.equal(err.code, 'previous_response_not_found');
  assert.equal(err.param, 'previous_response_id');
  assert.match(err.message, /stateless/);
  // With store: false nothing is remembered.
  const unstored = await client().responses.create({ model: 'switchyard/chat', input: 'hi', store: false });
  assert.equal(
    (await apiError(client().responses.create({ model: 'switchyard/chat', previous_response_id: unstored.id, input: 'again' }))).code,
    'previous_response_not_found',
  );
});

test("item_reference to the gateway's own earlier items (the AI SDK's default with store) resolves; an unknown item is a 400", async () => {
  const first = await client().responses.create({ model: 'switchyard/chat', input: 'Weather?' });
  const msgId = first.output[0]!.id!;
  ollama.reset();
  await client().responses.create({
    model: 'switchyard/chat',
    input: [
      { role: 'user', content: 'Weather?' },
      { type: 'item_reference', id: msgId },
      { role: 'user', content: 'And tomorrow?' },
    ],
  });
  const sent = ollama.requests.find((r) => r.path === '/api/chat')!.body.messages as any[];
  assert.deepEqual(
    sent.map((m) => [m.role, m.content]),
    [
      ['user', 'Weather?'],
      ['assistant', FINAL],
      ['user', 'And tomorrow?'],
    ],
  );
  const err = await apiError(client().responses.create({ model: 'switchyard/chat', input: [{ type: 'item_reference', id: 'msg_gone' }] }));
  assert.equal(err.status, 400);
  assert.equal(err.code, 'item_not_found');
  assert.equal(err.param, 'input[0].id');
});

test('a thinking model: its reasoning is a reasoning item before the message, streamed with reasoning_text events, and not sent back', async () => {
  const r = await client().responses.create({ model: 'switchyard/thinker', input: 'Think.' });
  assert.deepEqual(
    r.output.map((o) => o.type),
    ['reasoning', 'message'],
  );
  const reasoning = r.output[0]!;
  assert.ok(reasoning.type === 'reasoning');
  assert.deepEqual(reasoning.content, [{ type: 'reasoning_text', text: THOUGHT.join('') }]);
  assert.deepEqual(reasoning.summary, []);
  assert.equal(r.output_text, FINAL, 'reasoning is not answer text');

  const { events } = await streamed({ model: 'switchyard/thinker', input: 'Think.' });
  const types = events.map((e) => e.type);
  assert.ok(types.indexOf('response.reasoning_text.delta') < types.indexOf('response.output_text.delta'));
  const final = await client().responses.stream({ model: 'switchyard/thinker', input: 'Think.' }).finalResponse();
  assert.deepEqual(
    final.output.map((o) => o.type),
    ['reasoning', 'message'],
  );

  // Sent back as input, a reasoning item is dropped (as reasoning is on the chat path).
  thinker.reset();
  await client().responses.create({
    model: 'switchyard/thinker',
    input: [{ role: 'user', content: 'Think.' }, ...(r.output as ResponseInputItem[]), { role: 'user', content: 'More.' }],
  });
  const sent = thinker.requests.find((q) => q.path === '/v1/chat/completions')!.body.messages as any[];
  assert.deepEqual(
    sent.map((m) => m.role),
    ['user', 'assistant', 'user'],
  );
  assert.equal(sent[1].content, FINAL);
});

test('text.format json_schema / json_object become the structured output the chat path sends; tool_choice reaches the upstream', async () => {
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
  const r = await client().responses.create({
    model: 'switchyard/chat',
    input: 'x',
    text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
  });
  assert.deepEqual(r.text?.format, { type: 'json_schema', name: 'answer', schema, strict: true });
  assert.deepEqual(ollama.requests.find((q) => q.path === '/api/chat')!.body.format, schema);
  ollama.reset();
  await client().responses.create({ model: 'switchyard/chat', input: 'x', text: { format: { type: 'json_object' } } });
  assert.equal(ollama.requests.find((q) => q.path === '/api/chat')!.body.format, 'json');

  await client().responses.create({
    model: 'switchyard/agent',
    input: 'x',
    tools: TOOLS,
    tool_choice: { type: 'function', name: 'get_time' },
  });
  // The llamacpp kind sends a named choice as that tool alone with "required" (llama-server reads only string choices).
  const named = llama.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!.body;
  assert.equal(named.tool_choice, 'required');
  assert.deepEqual(
    named.tools.map((t: { function: { name: string } }) => t.function.name),
    ['get_time'],
  );
  // allowed_tools narrows the tools offered.
  await client().responses.create({
    model: 'switchyard/agent',
    input: 'x',
    tools: TOOLS,
    tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'get_weather' }] },
  });
  const narrowed = llama.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!.body;
  assert.deepEqual(
    narrowed.tools.map((t: any) => t.function.name),
    ['get_weather'],
  );
  assert.equal(narrowed.tool_choice, 'required');
});

test('max_output_tokens: the answer budget reaches the upstream and a cut answer is incomplete (max_output_tokens)', async () => {
  // No tools: the model without tool support answers.
  const r = await client().responses.create({ model: 'switchyard/agent', input: 'x', max_output_tokens: 3, temperature: 0.2, top_p: 0.5 });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r.output_text, ANSWER.slice(0, 3).join(''));
  const body = llamaPlain.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!.body;
  assert.equal(body.max_tokens, 3);
  assert.equal(body.temperature, 0.2);
  assert.equal(body.top_p, 0.5);
  const { events } = await streamed({ model: 'switchyard/agent', input: 'x', max_output_tokens: 3 });
  const last = events.at(-1)!;
  assert.equal(last.type, 'response.incomplete');
  assert.ok(last.type === 'response.incomplete');
  assert.equal((last.response.output[0] as { status?: string }).status, 'incomplete');
});

test('a model that fails mid-answer: the stream ends with response.failed carrying the error', async () => {
  const { data } = await client().responses.create({ model: 'switchyard/crashy', input: 'x', tools: TOOLS, stream: true }).withResponse();
  const events: ResponseStreamEvent[] = [];
  for await (const e of data) {
    events.push(e);
    // The call is out: the upstream now drops the connection.
    if (e.type === 'response.output_item.added') setTimeout(() => cut?.(new Error('boom')), 5);
  }
  checkSequence(events);
  const last = events.at(-1)!;
  assert.equal(last.type, 'response.failed');
  assert.ok(last.type === 'response.failed');
  assert.equal(last.response.status, 'failed');
  assert.equal(last.response.error?.code, 'server_error');
  assert.match(last.response.error!.message, /mid-answer/);
});

test('what the router cannot give is a clear 400 naming the parameter, and nothing reaches a model', async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ tools: [{ type: 'web_search' }] }, 'tools[0].type', /built-in tool "web_search"/],
    [{ tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 'tools[0].type', /built-in/],
    [{ tools: [{ type: 'computer_use_preview', display_width: 1, display_height: 1, environment: 'linux' }] }, 'tools[0].type', /built-in/],
    [{ tools: [{ type: 'custom', name: 'apply' }] }, 'tools[0].type', /only tools of type "function"/],
    [{ background: true }, 'background', /Background/],
    [{ conversation: 'conv_1' }, 'conversation', /stateless/],
    [{ tools: TOOLS, tool_choice: { type: 'web_search_preview' } }, 'tool_choice', /built-in/],
    [{ tools: TOOLS, tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice.name', /not among the tools/],
    [
      { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] }] },
      'input[0].content[0].type',
      /input_image/,
    ],
    [{ input: [{ type: 'computer_call_output', call_id: 'c', output: {} }] }, 'input[0].type', /computer_call_output/],
    [{ input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0].call_id', /call_id/],
    [{ text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema', /schema/],
    [{ include: ['message.output_text.logprobs'] }, 'include', /Log probabilities/],
    [{ input: undefined }, 'input', /input/],
  ];
  for (const [extra, param, message] of cases) {
    const err = await apiError(client().responses.create({ model: 'switchyard/chat', input: 'x', ...extra } as never));
    assert.equal(err.status, 400, JSON.stringify(extra));
    assert.equal(err.param, param, JSON.stringify(err.error));
    assert.match(err.message, message);
  }
  // Stored responses are not kept to read back.
  const got = await apiError(client().responses.retrieve('resp_123'));
  assert.equal(got.status, 400);
  assert.match(got.message, /does not store responses/);
  assert.equal(ollama.counts.total, 0);
  // Harmless parameters clients send by default pass: store, include of encrypted reasoning, reasoning, metadata, truncation.
  const ok = await client().responses.create({
    model: 'switchyard/chat',
    input: 'x',
    store: true,
    include: ['reasoning.encrypted_content'],
    reasoning: { effort: 'low' },
    metadata: { a: 'b' },
    truncation: 'auto',
    user: 'u',
    service_tier: 'auto',
  });
  assert.equal(ok.status, 'completed');
  assert.deepEqual(ok.metadata, { a: 'b' });
});

test("the route keeps the tool-capability rule: with no model that calls tools the request is the client's 400", async () => {
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
    for (const stream of [false, true]) {
      const err = await apiError(c.responses.create({ model: 'switchyard/chat', input: 'weather?', tools: TOOLS, stream } as never));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'tools_not_supported');
    }
    assert.equal(ollama.requests.filter((r) => r.path === '/api/chat').length, 0);
  } finally {
    await gw.stop();
  }
});

/** A raw request to the gateway (for what the SDK would not send: a wrong Host, an Origin, no token). */
function raw(opts: {
  headers?: Record<string, string>;
  body?: string;
  method?: string;
  path?: string;
}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: gateway.port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/v1/responses',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      },
    );
    req.on('error', reject);
    req.end(opts.body ?? JSON.stringify({ model: 'switchyard/chat', input: 'x' }));
  });
}

test('the same token, Host, Origin and body-size rules as the other routes', async () => {
  assert.equal((await raw({})).status, 200);
  assert.equal((await raw({ headers: { authorization: 'Bearer wrong-token-123' } })).status, 401);
  assert.equal((await raw({ headers: { host: `evil.example:${gateway.port}` } })).body.error.code, 'forbidden_host');
  assert.equal((await raw({ headers: { origin: 'https://evil.example' } })).body.error.code, 'forbidden_origin');
  const big = await raw({ body: JSON.stringify({ model: 'switchyard/chat', input: 'x'.repeat(70 * 1024) }) });
  assert.equal(big.status, 413);
  assert.equal((await raw({ body: '{not json' })).body.error.code, 'invalid_json');
  assert.equal((await raw({ method: 'PUT' })).status, 405);
  assert.equal(ollama.counts.total, 1, 'only the authorised, well-formed request reached a model');
});
