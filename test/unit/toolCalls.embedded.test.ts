/**
 * Tool calls with the embedded provider (issue 14): node-llama-cpp's function calling in the child process, real
 * inference on the tiny random-weight model. Its calls are sampled under grammars (a name from the offered tools,
 * then JSON of that tool's schema), so even gibberish weights make well-formed calls: the tests check the call's
 * shape (name, JSON arguments with the schema's required keys, events in order, finish reason), never its text.
 * The provider stops at the calls: the caller runs them and sends results back, here as an agent would, through the
 * provider, the router and the gateway with the real `openai` client.
 *
 * The tool documentation node-llama-cpp adds to the prompt is ~650 tokens of the tiny vocabulary: these tests use the
 * tiny model's 2048-token variant, and the 512-token one shows the overflow is reported before anything runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { ProviderError } from '../../src/core/errors';
import { Gateway } from '../../src/core/gateway/server';
import { EmbeddedProvider } from '../../src/core/providers/embedded/provider';
import { FunctionCallStream, functionsFor, toHistory, type WorkerToolEvent } from '../../src/core/providers/embedded/functions';
import { EmbeddedRuntime } from '../../src/core/providers/embedded/runtime';
import type { ChatEvent, ChatRequest, ToolSpec } from '../../src/core/providers/types';
import { Switchyard } from '../../src/core/switchyard';
import { tinyModelPath } from '../fixtures';

/** Schemas whose every valid value is short, so the answer budget always holds a whole call of random weights. */
const SET_MODE: ToolSpec = {
  name: 'set_mode',
  description: 'Switch the editor mode',
  parameters: {
    type: 'object',
    properties: { mode: { enum: ['light', 'dark'] }, save: { type: 'boolean' } },
    required: ['mode', 'save'],
    additionalProperties: false,
  },
};
const NOW: ToolSpec = { name: 'now', description: 'The current time', parameters: { type: 'object', properties: {} } };
const TOOLS = [SET_MODE, NOW];

const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const secrets = { getApiKey: async () => undefined };
let runtime: EmbeddedRuntime;
let provider: EmbeddedProvider;
let modelsDir: string;

before(async () => {
  modelsDir = mkdtempSync(path.join(tmpdir(), 'switchyard-embedded-tools-'));
  copyFileSync(await tinyModelPath({ contextLength: 2048 }), path.join(modelsDir, 'tiny.gguf'));
  copyFileSync(await tinyModelPath(), path.join(modelsDir, 'tiny512.gguf'));
  runtime = new EmbeddedRuntime({ gpu: false, maxThreads: 1, idleTimeoutMs: 0, modelsDir });
  provider = new EmbeddedProvider(
    { id: 'emb', kind: 'embedded', baseUrl: 'embedded:', local: true },
    { secrets, logger, embedded: runtime },
  );
});
after(() => runtime.dispose());

async function events(request: Omit<ChatRequest, 'model'> & { model?: string }): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of provider.chat({ model: 'tiny', temperature: 0, maxTokens: 64, ...request })) out.push(e);
  return out;
}

interface Call {
  index: number;
  id: string;
  name: string;
  arguments: string;
  ended: boolean;
  pieces: number;
}

/** The calls of a stream, checking the event order: start, then argument pieces, then end, per index. */
function callsOf(stream: ChatEvent[]): Call[] {
  const calls = new Map<number, Call>();
  for (const e of stream) {
    if (e.type === 'toolCall') {
      assert.ok(!calls.has(e.index), `call ${e.index} starts once`);
      calls.set(e.index, { index: e.index, id: e.id, name: e.name, arguments: '', ended: false, pieces: 0 });
    } else if (e.type === 'toolCallArgs') {
      const c = calls.get(e.index);
      assert.ok(c && !c.ended, `arguments of call ${e.index} come between its start and its end`);
      c.arguments += e.text;
      c.pieces++;
    } else if (e.type === 'toolCallEnd') {
      const c = calls.get(e.index);
      assert.ok(c && !c.ended, `call ${e.index} ends once, after it started`);
      c.ended = true;
    }
  }
  return [...calls.values()];
}

/** A well-formed call: an offered name, an id, arguments that parse as a JSON object with the schema's required keys. */
function assertWellFormed(call: Call, offered: ToolSpec[]): Record<string, unknown> {
  const tool = offered.find((t) => t.name === call.name);
  assert.ok(tool, `"${call.name}" is one of the offered tools`);
  assert.match(call.id, /^call_/);
  assert.ok(call.ended);
  const args = JSON.parse(call.arguments) as Record<string, unknown>;
  assert.equal(typeof args, 'object');
  for (const key of (tool.parameters?.required as string[] | undefined) ?? [])
    assert.ok(key in args, `required "${key}" in ${call.arguments}`);
  if (tool === SET_MODE) {
    assert.ok(args.mode === 'light' || args.mode === 'dark', call.arguments);
    assert.equal(typeof args.save, 'boolean', call.arguments);
  }
  return args;
}

const finishOf = (stream: ChatEvent[]) => stream.find((e): e is Extract<ChatEvent, { type: 'finish' }> => e.type === 'finish')?.reason;

test('tool choice required: a well-formed call from real inference, streamed, finishing with tool_calls', async () => {
  const stream = await events({ messages: [{ role: 'user', content: 'switch to dark mode' }], tools: TOOLS, toolChoice: 'required' });
  const calls = callsOf(stream);
  assert.ok(calls.length >= 1, JSON.stringify(stream));
  for (const c of calls) assertWellFormed(c, TOOLS);
  assert.equal(finishOf(stream), 'tool_calls');
  const usage = stream.at(-1);
  assert.equal(usage?.type, 'usage');
  assert.ok(usage.type === 'usage' && usage.inputTokens! > 600, 'the tool documentation is part of the prompt the model read');
});

test("a named tool choice calls that tool; its arguments stream in pieces without the grammar's end marker", async () => {
  const stream = await events({ messages: [{ role: 'user', content: 'set the mode' }], tools: TOOLS, toolChoice: { name: 'set_mode' } });
  const [call, ...rest] = callsOf(stream);
  assert.deepEqual(rest, []);
  assert.equal(call!.name, 'set_mode');
  assertWellFormed(call!, TOOLS);
  assert.ok(call!.pieces > 1, 'argument text arrives as it is sampled');
  assert.doesNotMatch(call!.arguments, /\n$/);
  assert.equal(finishOf(stream), 'tool_calls');
});

test('a function without parameters is called with {}', async () => {
  const stream = await events({ messages: [{ role: 'user', content: 'what time is it' }], tools: TOOLS, toolChoice: { name: 'now' } });
  const [call] = callsOf(stream);
  assert.equal(call!.name, 'now');
  assert.equal(call!.arguments, '{}');
});

test('tool choice none: no call, a text answer (the tools are not even described to the model)', async () => {
  const stream = await events({ messages: [{ role: 'user', content: 'hello' }], tools: TOOLS, toolChoice: 'none', maxTokens: 8 });
  assert.deepEqual(callsOf(stream), []);
  assert.notEqual(finishOf(stream), 'tool_calls');
  const usage = stream.at(-1);
  assert.ok(usage?.type === 'usage' && usage.inputTokens! < 100, JSON.stringify(usage));
});

test('the second step of an agent loop: the call and its result in the history reach the model as a function result', async () => {
  const first = await events({
    messages: [{ role: 'user', content: 'switch to dark mode' }],
    tools: TOOLS,
    toolChoice: { name: 'set_mode' },
  });
  const [call] = callsOf(first);
  const history: ChatRequest['messages'] = [
    { role: 'user', content: 'switch to dark mode' },
    { role: 'assistant', content: '', toolCalls: [{ id: call!.id, name: call!.name, arguments: call!.arguments }] },
    { role: 'tool', toolCallId: call!.id, content: '{"ok":true}' },
  ];
  // `none`: the answer after the result is text; the result is in the prompt (more input than without it).
  const answer = await events({ messages: history, tools: TOOLS, toolChoice: 'none', maxTokens: 8 });
  assert.deepEqual(callsOf(answer), []);
  const withResult = answer.at(-1);
  const without = (await events({ messages: history.slice(0, 1), tools: TOOLS, toolChoice: 'none', maxTokens: 8 })).at(-1);
  assert.ok(
    withResult?.type === 'usage' && without?.type === 'usage' && withResult.inputTokens! > without.inputTokens!,
    `${JSON.stringify(withResult)} vs ${JSON.stringify(without)}`,
  );
  // `required` again: another well-formed call after the result.
  const again = await events({ messages: history, tools: TOOLS, toolChoice: 'required' });
  for (const c of callsOf(again)) assertWellFormed(c, TOOLS);
  assert.equal(finishOf(again), 'tool_calls');
});

test("a prompt whose tool documentation does not fit the model's context is contextOverflow before generating", async () => {
  await assert.rejects(
    events({ model: 'tiny512', messages: [{ role: 'user', content: 'hi' }], tools: TOOLS, toolChoice: 'required' }),
    (e: unknown) => e instanceof ProviderError && e.kind === 'contextOverflow' && /2 tools/.test(e.message),
  );
});

test('aborting during a call stops the stream with kind canceled; the next request is answered', async () => {
  const controller = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const e of provider.chat({
        model: 'tiny',
        temperature: 0,
        maxTokens: 64,
        messages: [{ role: 'user', content: 'x' }],
        tools: TOOLS,
        toolChoice: { name: 'set_mode' },
        signal: controller.signal,
      })) {
        if (e.type === 'toolCall') controller.abort();
      }
    })(),
    (e: unknown) => e instanceof ProviderError && e.kind === 'canceled',
  );
  const [call] = callsOf(await events({ messages: [{ role: 'user', content: 'again' }], tools: TOOLS, toolChoice: { name: 'set_mode' } }));
  assertWellFormed(call!, TOOLS);
});

test('the gateway: the real openai client gets tool_calls from the embedded model, sends the result, gets an answer', async () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [{ id: 'emb', kind: 'embedded', modelPath: path.join(modelsDir, 'tiny.gguf') }],
    'switchyard.tasks': { chat: ['emb/tiny'] },
    'switchyard.privacy': 'local-only',
    'switchyard.embedded.gpu': 'off',
  });
  assert.deepEqual(problems, []);
  const embeddedWorkerPath = path.resolve(__dirname, '../../dist/embeddedWorker.js');
  const sy = new Switchyard({
    config,
    secrets,
    embeddedWorkerPath,
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  const token = 'sy-embedded-tools-0123456789';
  const gateway = new Gateway({ source: sy, token, port: 0 });
  await gateway.start();
  try {
    const client = new OpenAI({ baseURL: gateway.url, apiKey: token, maxRetries: 0 });
    const tools = TOOLS.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
    const first = await client.chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'dark mode please' }],
      tools,
      tool_choice: 'required',
      max_tokens: 64,
      temperature: 0,
    });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function', JSON.stringify(choice.message));
    assertWellFormed(
      { index: 0, id: call.id, name: call.function.name, arguments: call.function.arguments, ended: true, pieces: 1 },
      TOOLS,
    );
    // Streamed: OpenAI's delta.tool_calls framing, reassembled by the client's own helper.
    const stream = client.chat.completions.stream({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'dark mode please' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'set_mode' } },
      max_tokens: 64,
      temperature: 0,
    });
    const streamed = await stream.finalChatCompletion();
    const streamedCall = streamed.choices[0]!.message.tool_calls?.[0];
    assert.ok(streamedCall && streamedCall.type === 'function');
    assert.equal(streamedCall.function.name, 'set_mode');
    assertWellFormed(
      { index: 0, id: streamedCall.id, name: 'set_mode', arguments: streamedCall.function.arguments, ended: true, pieces: 1 },
      TOOLS,
    );
    assert.equal(streamed.choices[0]!.finish_reason, 'tool_calls');
    const second = await client.chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'dark mode please' }, choice.message, { role: 'tool', tool_call_id: call.id, content: 'done' }],
      tools,
      tool_choice: 'none',
      max_tokens: 8,
      temperature: 0,
    });
    assert.notEqual(second.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(second.choices[0]!.message.tool_calls, undefined);
  } finally {
    await gateway.stop();
    sy.dispose();
  }
});

test('history: assistant calls become function-call items with their results; an orphan result stays as user text', () => {
  const history = toHistory([
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'two things' },
    {
      role: 'assistant',
      content: '',
      toolCalls: [
        { id: 'a', name: 'set_mode', arguments: '{"mode":"dark","save":true}' },
        { id: 'b', name: 'now', arguments: '{}' },
      ],
    },
    { role: 'tool', toolCallId: 'b', content: '12:00' },
    { role: 'tool', toolCallId: 'a', content: '{"ok":true}' },
    { role: 'tool', toolCallId: 'zz', toolName: 'ghost', content: 'late' },
  ]);
  assert.deepEqual(history, [
    { type: 'system', text: 'be brief' },
    { type: 'user', text: 'two things' },
    {
      type: 'model',
      response: [
        { type: 'functionCall', name: 'set_mode', params: { mode: 'dark', save: true }, result: { ok: true }, startsNewChunk: true },
        { type: 'functionCall', name: 'now', params: {}, result: '12:00' },
      ],
    },
    { type: 'user', text: 'Result of ghost: late' },
  ]);
});

test('functions: none offers nothing, a named choice offers only that tool, an empty object schema has no params', () => {
  assert.equal(functionsFor(TOOLS, 'none'), undefined);
  assert.deepEqual(Object.keys(functionsFor(TOOLS, { name: 'now' })!), ['now']);
  assert.equal(functionsFor(TOOLS, { name: 'missing' }), undefined);
  const all = functionsFor(TOOLS, 'auto')!;
  assert.deepEqual(all.now, { description: 'The current time' });
  assert.deepEqual(all.set_mode!.params, SET_MODE.parameters);
});

test("the call stream holds back the grammar's trailing blank lines and ends cut calls", () => {
  const out: WorkerToolEvent[] = [];
  const s = new FunctionCallStream((e) => out.push(e));
  s.chunk(0, 'set_mode', '{"mode":');
  s.chunk(0, 'set_mode', ' "dark"}\n\n');
  s.chunk(0, 'set_mode', '\n\n');
  s.end(0, 'set_mode', { mode: 'dark' });
  s.chunk(1, 'set_mode', '{"mo');
  s.close();
  const text = (i: number) =>
    out
      .filter((e) => e.type === 'toolCallArgs' && e.index === i)
      .map((e) => (e as { text: string }).text)
      .join('');
  assert.equal(text(0), '{"mode": "dark"}');
  assert.equal(text(1), '{"mo');
  assert.deepEqual(
    out.map((e) => `${e.type}:${e.index}`),
    ['toolCall:0', 'toolCallArgs:0', 'toolCallArgs:0', 'toolCallEnd:0', 'toolCall:1', 'toolCallArgs:1', 'toolCallEnd:1'],
  );
});
