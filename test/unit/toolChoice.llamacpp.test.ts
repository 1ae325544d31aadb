/**
 * llama-server reads `tool_choice` as a string: an object (a named function) is replaced by "auto" with a warning
 * ("Wrong type supplied for parameter 'tool_choice', using default value", seen on a real llama-server, llama.cpp
 * 80fb11a, test/unit/toolCalls.llamaserver.test.ts), so the model may answer in text. The llamacpp kind sends a named
 * choice as that one tool with "required"; OpenAI-compatible servers get OpenAI's object form as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaCppProvider } from '../../src/core/providers/llamacpp';
import { OpenAICompatibleProvider } from '../../src/core/providers/openaiCompatible';
import type { ChatRequest } from '../../src/core/providers/types';
import { scriptedBackend, startLlamaCppServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import { TIME_TOOL, WEATHER_TOOL } from '../fixtures/toolCallAssert';

const deps = { secrets: { getApiKey: async () => 'sk-test' }, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} } };
const backend = scriptedBackend({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] });
let llama: FixtureServer;
let openai: FixtureServer;

before(async () => {
  llama = await startLlamaCppServer({ backend, modelAlias: 'qwen', toolCapable: true });
  openai = await startOpenAIServer({ backend });
});
after(async () => {
  await Promise.all([llama.close(), openai.close()]);
});

const request: ChatRequest = {
  model: 'qwen',
  messages: [{ role: 'user', content: 'weather in Oslo?' }],
  tools: [WEATHER_TOOL, TIME_TOOL],
  toolChoice: { name: 'get_weather' },
};

async function drain(events: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of events) void _;
}

test('llama.cpp: a named tool choice goes as that tool alone with tool_choice "required"', async () => {
  const p = new LlamaCppProvider({ id: 'llama', kind: 'llamacpp', baseUrl: llama.url, local: true }, deps);
  await drain(p.chat(request));
  const body = llama.requests.find((r) => r.path === '/v1/chat/completions')!.body;
  assert.equal(body.tool_choice, 'required');
  assert.deepEqual(
    body.tools.map((t: { function: { name: string } }) => t.function.name),
    ['get_weather'],
  );
  // Other choices are unchanged.
  llama.reset();
  await drain(p.chat({ ...request, toolChoice: 'auto' }));
  const auto = llama.requests.find((r) => r.path === '/v1/chat/completions')!.body;
  assert.equal(auto.tool_choice, 'auto');
  assert.equal(auto.tools.length, 2);
});

test("OpenAI-compatible servers get the named choice as OpenAI's object, with every tool", async () => {
  const p = new OpenAICompatibleProvider({ id: 'oa', kind: 'openai-compatible', baseUrl: `${openai.url}/v1`, local: true }, deps);
  await drain(p.chat({ ...request, model: 'gpt-4.1-mini' }));
  const body = openai.requests.find((r) => r.path === '/v1/chat/completions')!.body;
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'get_weather' } });
  assert.equal(body.tools.length, 2);
});
