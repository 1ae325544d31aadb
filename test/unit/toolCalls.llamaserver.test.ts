/**
 * Opt-in (not in CI): tool calls against a real llama-server started with --jinja, built from the llama.cpp source
 * node-llama-cpp ships (checked with commit 80fb11a). Skipped unless SWITCHYARD_LLAMA_SERVER names the binary:
 *
 *   SWITCHYARD_LLAMA_SERVER=/work/build/llama.cpp/build/bin/llama-server \
 *     node_modules/.bin/node --import tsx --test test/unit/toolCalls.llamaserver.test.ts
 *
 * The tiny random-weight model's own template (ChatML) renders no tools: with --jinja, /props says
 * supports_tool_calls false, and a tool request gets HTTP 500 "The model produced output that does not match the
 * expected peg-native format" (its free text is no call). So the tool-capable server is given a template of
 * llama.cpp's models/templates with --chat-template-file (SWITCHYARD_LLAMA_TEMPLATE overrides the path):
 * meetkai-functionary-medium-v3.2, whose tool_choice "required" grammar starts the answer with a call, so even random
 * weights make well-formed calls. Of the 16 templates tried, the others let free text come first (Qwen2.5, Hermes 2
 * Pro, Llama 3.x, Mistral, …), which random weights never end. The model is the tiny model's variant without SPM's
 * space prefix: the server replays the generation prompt ("<|im_start|>assistant\n") through the grammar token by
 * token, and " assistant" made it refuse every tool request ("Failed to initialize samplers").
 * What this server does not do with random weights: answer in text once tools are offered (the same 500), so the
 * loop's second step is asked for another call.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { Gateway } from '../../src/core/gateway/server';
import type { ChatMessage, ToolSpec } from '../../src/core/providers/types';
import { privacyContext } from '../../src/core/routing/privacy';
import type { RoutedChatEvent } from '../../src/core/routing/router';
import { Switchyard } from '../../src/core/switchyard';
import { closedPort, tinyModelPath } from '../fixtures';

const BINARY = process.env.SWITCHYARD_LLAMA_SERVER;
const TEMPLATE =
  process.env.SWITCHYARD_LLAMA_TEMPLATE ??
  (BINARY ? path.resolve(path.dirname(BINARY), '../../models/templates/meetkai-functionary-medium-v3.2.jinja') : '');
const skip = !BINARY && 'SWITCHYARD_LLAMA_SERVER is not set';
const TOKEN = 'sy-llamaserver-tools-0123456789';
const SET_MODE: ToolSpec = {
  name: 'set_mode',
  description: 'Switch the editor mode',
  parameters: { type: 'object', properties: { mode: { enum: ['light', 'dark'] }, save: { type: 'boolean' } }, required: ['mode', 'save'] },
};
const NOW: ToolSpec = { name: 'now', description: 'The current time', parameters: { type: 'object', properties: {} } };
const TOOLS = [SET_MODE, NOW];
const servers: ChildProcess[] = [];
let sy: Switchyard | undefined;
let gateway: Gateway | undefined;

async function start(model: string, extra: string[]): Promise<string> {
  const port = await closedPort();
  const child = spawn(
    BINARY!,
    [
      '-m',
      model,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '-c',
      '2048',
      '-t',
      '1',
      '-np',
      '1',
      '--alias',
      'tiny',
      '--jinja',
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  servers.push(child);
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return url;
    if (Date.now() > end) throw new Error(`llama-server on ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (!BINARY) return;
  const model = await tinyModelPath({ contextLength: 2048, addSpacePrefix: false });
  const [chatml, functionary] = await Promise.all([start(model, []), start(model, ['--chat-template-file', TEMPLATE])]);
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'chatml', kind: 'llamacpp', baseUrl: chatml },
      { id: 'jinja', kind: 'llamacpp', baseUrl: functionary },
    ],
    'switchyard.tasks': { chat: ['chatml/tiny', 'jinja/tiny'] },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  sy = new Switchyard({ config, secrets: { getApiKey: async () => undefined }, privacy: (c) => privacyContext(c) });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gateway.start();
});
after(async () => {
  await gateway?.stop();
  sy?.dispose();
  for (const s of servers) s.kill();
});

interface Call {
  id: string;
  name: string;
  arguments: string;
  ended: boolean;
}

async function route(messages: ChatMessage[], toolChoice: 'required' | { name: string }, maxTokens = 200) {
  const calls = new Map<number, Call>();
  let route: Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined;
  let done: Extract<RoutedChatEvent, { type: 'done' }> | undefined;
  for await (const ev of sy!.router.chat({ task: 'chat', messages, tools: TOOLS, toolChoice, maxTokens, temperature: 0 })) {
    if (ev.type === 'route') route = ev.route;
    else if (ev.type === 'toolCall') calls.set(ev.index, { id: ev.id, name: ev.name, arguments: '', ended: false });
    else if (ev.type === 'toolCallArgs') calls.get(ev.index)!.arguments += ev.text;
    else if (ev.type === 'toolCallEnd') calls.get(ev.index)!.ended = true;
    else if (ev.type === 'done') done = ev;
  }
  return { route: route!, done: done!, calls: [...calls.values()] };
}

/** A call of an offered tool whose arguments parse as JSON with the schema's required keys. */
function assertWellFormed(call: { name: string; arguments: string }): void {
  const tool = TOOLS.find((t) => t.name === call.name);
  assert.ok(tool, `"${call.name}" is an offered tool`);
  const args = JSON.parse(call.arguments) as Record<string, unknown>;
  for (const key of (tool.parameters?.required as string[] | undefined) ?? []) assert.ok(key in args, `"${key}" in ${call.arguments}`);
  if (tool === SET_MODE) assert.ok(args.mode === 'light' || args.mode === 'dark');
}

test(
  'real llama-server: /props tells tool support; the router skips the template without tools and the call streams from the one with',
  { skip },
  async () => {
    const r = await route([{ role: 'user', content: 'switch to dark mode' }], { name: 'set_mode' });
    assert.equal(r.route.providerId, 'jinja');
    assert.match(r.route.attempts[0]!.reason!, /^no tool calling \(chatml reports that tiny cannot call tools\)/);
    assert.equal(r.calls.length, 1, JSON.stringify(r.calls));
    const [call] = r.calls;
    assert.equal(call!.name, 'set_mode');
    assert.ok(call!.ended && call!.id.length > 0);
    assertWellFormed(call!);
    assert.equal(r.done.finish, 'tool_calls');
    assert.ok(r.done.usage.inputTokens! > 100 && !r.done.usage.tokensEstimated, 'the server reported usage');
  },
);

test("real llama-server: the loop's second step (the call and its result in the history) is rendered and answered", { skip }, async () => {
  const first = await route([{ role: 'user', content: 'switch to dark mode' }], 'required');
  const calls = first.calls.filter((c) => c.ended);
  assert.ok(calls.length >= 1);
  const history: ChatMessage[] = [
    { role: 'user', content: 'switch to dark mode' },
    { role: 'assistant', content: '', toolCalls: calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) },
    ...calls.map((c): ChatMessage => ({ role: 'tool', toolCallId: c.id, content: '{"ok":true}' })),
  ];
  const second = await route(history, 'required', 120);
  assert.ok(second.calls.length >= 1, 'the server took the history and answered with a call');
  for (const c of second.calls.slice(0, -1)) assertWellFormed(c);
  assert.ok(
    second.calls.every((c) => c.ended),
    'a call cut by the answer budget is ended too',
  );
  assert.ok(second.done.finish === 'tool_calls' || second.done.finish === 'length', String(second.done.finish));
});

test('real llama-server through the gateway: the real openai client gets tool_calls, streamed and not', { skip }, async () => {
  const client = new OpenAI({ baseURL: gateway!.url, apiKey: TOKEN, maxRetries: 0 });
  const tools = TOOLS.map((t) => ({
    type: 'function' as const,
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  const plain = await client.chat.completions.create({
    model: 'switchyard/chat',
    messages: [{ role: 'user', content: 'dark mode' }],
    tools,
    tool_choice: { type: 'function', function: { name: 'set_mode' } },
    max_tokens: 200,
    temperature: 0,
  });
  assert.equal(plain.choices[0]!.finish_reason, 'tool_calls');
  const call = plain.choices[0]!.message.tool_calls?.[0];
  assert.ok(call && call.type === 'function');
  assert.equal(typeof call.function.arguments, 'string');
  assertWellFormed(call.function);
  assert.equal(plain.model, 'jinja/tiny');
  const streamed = await client.chat.completions
    .stream({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'dark mode' }],
      tools,
      tool_choice: 'required',
      max_tokens: 200,
      temperature: 0,
    })
    .finalChatCompletion();
  assert.equal(streamed.choices[0]!.finish_reason, 'tool_calls');
  const calls = streamed.choices[0]!.message.tool_calls ?? [];
  assert.ok(calls.length >= 1);
  for (const c of calls) {
    assert.ok(c.type === 'function');
    assertWellFormed(c.function);
  }
});
