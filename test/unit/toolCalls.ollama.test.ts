/**
 * Tool calls and structured output through OllamaProvider (issue 14), against the Ollama test server's
 * reproduction of what Ollama sends: whole calls with object arguments, no ids (before 0.12.4), several calls in one
 * chunk, that chunk before the `done` one whose done_reason is "stop". Each quirk is first shown on the wire with
 * the real `ollama` client, then through the provider.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Ollama } from 'ollama';
import { silentLogger } from '../../src/core/host';
import { OllamaProvider } from '../../src/core/providers';
import type { ChatMessage, ChatRequest, ProviderConfig } from '../../src/core/providers';
import { scriptedBackend, startOllamaServer } from '../fixtures';
import type { FixtureServer } from '../fixtures';
import { PROVIDER_FETCHES, collectChat } from '../fixtures/providerAssert';
import { TIME_TOOL, WEATHER_TOOL, foldAnswer } from '../fixtures/toolCallAssert';

const secrets = { getApiKey: async () => undefined };
let fetchImpl: typeof fetch | undefined;

function provider(url: string): OllamaProvider {
  const config: ProviderConfig = { id: 'ollama', kind: 'ollama', baseUrl: url, local: true };
  return new OllamaProvider(config, { secrets, logger: silentLogger, fetch: fetchImpl });
}

const MODEL = 'qwen3:8b';
const THINKER = 'qwen3-thinking:8b';
const PLAIN = 'qwen2.5-coder:7b';
const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };

function chatBodies(server: FixtureServer): any[] {
  return server.requests.filter((r) => r.path === '/api/chat').map((r) => r.body);
}

for (const [fetchName, fetchFor] of PROVIDER_FETCHES) {
  describe(`Ollama tool calls through ${fetchName}`, () => {
    before(() => {
      fetchImpl = fetchFor;
    });
    let legacy: FixtureServer;
    let withIds: FixtureServer;
    const models = [
      { name: MODEL, contextLength: 32768, tools: true },
      { name: THINKER, contextLength: 32768, tools: true, thinking: true },
      { name: PLAIN, contextLength: 32768, vision: true },
    ];

    before(async () => {
      const backend = scriptedBackend({ tokens: ['It', ' is', ' 21', '°C', '.'], reasoning: [], toolCalls: [weather, time] });
      legacy = await startOllamaServer({ backend, models });
      withIds = await startOllamaServer({ backend, models, toolCallStyle: 'withIds' });
    });
    afterEach(() => {
      legacy.reset();
      withIds.reset();
    });
    after(async () => {
      await legacy.close();
      await withIds.close();
    });

    it('the wire (real ollama client): both calls in one chunk before done, object arguments, no id, done_reason "stop"', async () => {
      const client = new Ollama({ host: legacy.url });
      const chunks = [];
      for await (const part of await client.chat({
        model: MODEL,
        messages: user('weather?'),
        stream: true,
        tools: [{ type: 'function', function: WEATHER_TOOL }],
      })) {
        chunks.push(part);
      }
      const withCalls = chunks.filter((c) => c.message.tool_calls?.length);
      assert.equal(withCalls.length, 1);
      assert.equal(withCalls[0]!.done, false);
      assert.deepEqual(withCalls[0]!.message.tool_calls, [{ function: weather }, { function: time }]);
      assert.equal(chunks.at(-1)!.done, true);
      assert.equal(chunks.at(-1)!.done_reason, 'stop');
    });

    it('object arguments become JSON strings, missing ids are made (call_…), each call of the chunk its own index, finish tool_calls', async () => {
      const events = await collectChat(provider(legacy.url), {
        model: MODEL,
        messages: user('weather?'),
        tools: [WEATHER_TOOL, TIME_TOOL],
      });
      const answer = foldAnswer(events);
      assert.equal(answer.finish, 'tool_calls', 'the done chunk said "stop", but a call was made');
      assert.deepEqual(
        answer.calls.map((c) => [c.index, c.name, JSON.parse(c.arguments)]),
        [
          [0, 'get_weather', { city: 'Toronto', unit: 'celsius' }],
          [1, 'get_time', { city: 'Paris' }],
        ],
      );
      for (const c of answer.calls) assert.match(c.id, /^call_[A-Za-z0-9_-]{20,}$/);
      assert.notEqual(answer.calls[0]!.id, answer.calls[1]!.id);
      assert.equal(answer.text, '');
      assert.equal(events.at(-1)?.type, 'usage');
    });

    it("a newer Ollama's ids are kept", async () => {
      const events = await collectChat(provider(withIds.url), {
        model: MODEL,
        messages: user('weather?'),
        tools: [WEATHER_TOOL, TIME_TOOL],
      });
      const answer = foldAnswer(events);
      assert.equal(answer.calls.length, 2);
      for (const c of answer.calls) assert.match(c.id, /^call_[0-9a-f]{8}$/);
      assert.equal(answer.finish, 'tool_calls');
    });

    it("sends tools in Ollama's shape on /api/chat (never /api/generate)", async () => {
      await collectChat(provider(legacy.url), { model: MODEL, messages: user('weather?'), tools: [WEATHER_TOOL] });
      assert.equal(legacy.counts['POST /api/generate'], 0);
      const [body] = chatBodies(legacy);
      assert.deepEqual(body.tools, [{ type: 'function', function: WEATHER_TOOL }]);
      assert.equal(body.stream, true);
    });

    it('toolChoice: none sends no tools (Ollama has no tool_choice), a named function sends only that one', async () => {
      const none = foldAnswer(
        await collectChat(provider(legacy.url), {
          model: MODEL,
          messages: user('weather?'),
          tools: [WEATHER_TOOL, TIME_TOOL],
          toolChoice: 'none',
        }),
      );
      assert.equal(none.calls.length, 0);
      assert.equal(none.text, 'It is 21°C.');
      assert.equal(none.finish, 'stop');
      await collectChat(provider(legacy.url), {
        model: MODEL,
        messages: user('time?'),
        tools: [WEATHER_TOOL, TIME_TOOL],
        toolChoice: { name: 'get_time' },
      });
      const [first, second] = chatBodies(legacy);
      assert.equal(first.tools, undefined);
      assert.deepEqual(
        second.tools.map((t: any) => t.function.name),
        ['get_time'],
      );
    });

    it('the tool loop: assistant calls go back with object arguments, results as role "tool" with tool_name and tool_call_id', async () => {
      const p = provider(legacy.url);
      const first = foldAnswer(
        await collectChat(p, { model: MODEL, messages: user('weather and time?'), tools: [WEATHER_TOOL, TIME_TOOL] }),
      );
      const history: ChatMessage[] = [
        ...user('weather and time?'),
        { role: 'assistant', content: '', toolCalls: first.calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) },
        { role: 'tool', toolCallId: first.calls[0]!.id, content: '{"temp":21}' },
        { role: 'tool', toolCallId: first.calls[1]!.id, toolName: 'get_time', content: '14:05' },
      ];
      const second = foldAnswer(await collectChat(p, { model: MODEL, messages: history, tools: [WEATHER_TOOL, TIME_TOOL] }));
      assert.equal(second.text, 'It is 21°C.');
      assert.equal(second.finish, 'stop');
      const sent = chatBodies(legacy)[1].messages;
      assert.deepEqual(sent.slice(1), [
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: first.calls[0]!.id, function: { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius' } } },
            { id: first.calls[1]!.id, function: { name: 'get_time', arguments: { city: 'Paris' } } },
          ],
        },
        { role: 'tool', content: '{"temp":21}', tool_name: 'get_weather', tool_call_id: first.calls[0]!.id },
        { role: 'tool', content: '14:05', tool_name: 'get_time', tool_call_id: first.calls[1]!.id },
      ]);
    });

    it('a thinking model reasons, then calls: reasoning events first, the calls after, finish tool_calls', async () => {
      const server = await startOllamaServer({
        backend: scriptedBackend({ reasoning: ['The', ' user', ' wants', ' weather.'], toolCalls: [weather] }),
        models,
      });
      try {
        const answer = foldAnswer(
          await collectChat(provider(server.url), { model: THINKER, messages: user('weather?'), tools: [WEATHER_TOOL] }),
        );
        assert.equal(answer.reasoning, 'The user wants weather.');
        assert.deepEqual(answer.order, ['reasoning', 'toolCall', 'toolCallArgs', 'toolCallEnd', 'finish', 'usage']);
        assert.equal(answer.finish, 'tool_calls');
      } finally {
        await server.close();
      }
    });

    it('without tools nothing changes: text, then finish stop, then usage; no tools on the wire', async () => {
      const events = await collectChat(provider(legacy.url), { model: MODEL, messages: user('hi') });
      const answer = foldAnswer(events);
      assert.equal(answer.text, 'It is 21°C.');
      assert.deepEqual(answer.order, ['text', 'finish', 'usage']);
      assert.equal(answer.finish, 'stop');
      assert.equal(chatBodies(legacy)[0].tools, undefined);
      assert.equal(chatBodies(legacy)[0].format, undefined);
    });

    it('an answer cut by num_predict finishes with length', async () => {
      const answer = foldAnswer(await collectChat(provider(legacy.url), { model: MODEL, messages: user('hi'), maxTokens: 2 }));
      assert.equal(answer.finish, 'length');
    });

    it('structured output: json_object is format "json", json_schema is format <schema>', async () => {
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      await collectChat(provider(legacy.url), { model: MODEL, messages: user('hi'), responseFormat: { type: 'json_object' } });
      await collectChat(provider(legacy.url), {
        model: MODEL,
        messages: user('hi'),
        responseFormat: { type: 'json_schema', name: 'reply', schema, strict: true },
      });
      const [a, b] = chatBodies(legacy);
      assert.equal(a.format, 'json');
      assert.deepEqual(b.format, schema);
    });

    it('capabilities: tools and vision from /api/show', async () => {
      const list = await provider(legacy.url).listModels();
      const byId = new Map(list.map((m) => [m.id, m.capabilities]));
      assert.equal(byId.get(MODEL)?.tools, true);
      assert.equal(byId.get(MODEL)?.vision, false);
      assert.equal(byId.get(PLAIN)?.tools, false);
      assert.equal(byId.get(PLAIN)?.vision, true);
    });

    it("num_ctx leaves room for the tools' schemas", async () => {
      const many = Array.from({ length: 40 }, (_, i) => ({ ...WEATHER_TOOL, name: `tool_${i}`, description: 'x'.repeat(200) }));
      const request: ChatRequest = { model: MODEL, messages: user('hi'), maxTokens: 16, toolChoice: 'none' };
      await collectChat(provider(legacy.url), request);
      await collectChat(provider(legacy.url), { ...request, tools: many, toolChoice: 'auto' });
      const [without, withTools] = chatBodies(legacy);
      assert.ok(withTools.options.num_ctx > without.options.num_ctx, `${withTools.options.num_ctx} > ${without.options.num_ctx}`);
    });
  });
}
