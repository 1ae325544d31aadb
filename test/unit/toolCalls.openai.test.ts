/**
 * Tool calls and structured output through OpenAICompatibleProvider and LlamaCppProvider (issue 14), against the
 * test servers' reproduction of what the servers send: OpenAI's `delta.tool_calls` fragments (id and name on a
 * call's first piece only, arguments in pieces), llama.cpp's interleaved parallel calls, and llama.cpp builds that
 * send arguments as an object (llama.cpp#20198). Each quirk is first shown on the wire with the real `openai`
 * client, then through the provider, as events and relayed (the gateway's path: normalised by the relay).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { silentLogger } from '../../src/core/host';
import { LlamaCppProvider, OpenAICompatibleProvider } from '../../src/core/providers';
import type { ChatEvent, ChatMessage, ProviderConfig } from '../../src/core/providers';
import { ToolCallAssembler, toolCallsFrom } from '../../src/core/providers/toolCalls';
import { scriptedBackend, startLlamaCppServer, startOpenAIServer } from '../fixtures';
import type { FixtureServer } from '../fixtures';
import { PROVIDER_FETCHES, collectChat } from '../fixtures/providerAssert';
import { TIME_TOOL, WEATHER_TOOL, foldAnswer } from '../fixtures/toolCallAssert';

const KEY = 'sk-switchyard-FAKEKEY-0123456789abcdef';
const MODEL = 'gpt-4.1-mini';
let fetchImpl: typeof fetch | undefined;

function openai(url: string): OpenAICompatibleProvider {
  const config: ProviderConfig = { id: 'openai', kind: 'openai-compatible', baseUrl: `${url}/v1`, local: false, preset: 'openai' };
  return new OpenAICompatibleProvider(config, { secrets: { getApiKey: async () => KEY }, logger: silentLogger, fetch: fetchImpl });
}

function llamacpp(url: string): LlamaCppProvider {
  const config: ProviderConfig = { id: 'llamacpp', kind: 'llamacpp', baseUrl: url, local: true };
  return new LlamaCppProvider(config, { secrets: { getApiKey: async () => undefined }, logger: silentLogger, fetch: fetchImpl });
}

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const weather = { name: 'get_weather', arguments: { city: 'Toronto', unit: 'celsius', note: 'a "quoted" ünïcode ☀ value' } };
const time = { name: 'get_time', arguments: { city: 'Paris' } };
const TOOLS = [WEATHER_TOOL, TIME_TOOL];
const RELAY = { model: 'gateway/renamed', includeUsage: true };

function chatBodies(server: FixtureServer): any[] {
  return server.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.body);
}

/** The raw `delta.tool_calls` pieces and finish reason of a stream, read with the real `openai` client. */
async function wirePieces(baseURL: string, apiKey: string): Promise<{ pieces: any[]; finish: string | null | undefined }> {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'weather and time?' }],
    stream: true,
    tools: TOOLS.map((t) => ({ type: 'function' as const, function: t })),
  });
  const pieces: any[] = [];
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      pieces.push(...(c.delta.tool_calls ?? []));
      finish ??= c.finish_reason;
    }
  }
  return { pieces, finish };
}

for (const [fetchName, fetchFor] of PROVIDER_FETCHES) {
  describe(`OpenAI-compatible tool calls through ${fetchName}`, () => {
    before(() => {
      fetchImpl = fetchFor;
    });
    let cloud: FixtureServer;
    let llama: FixtureServer;
    let llamaObjects: FixtureServer;

    before(async () => {
      const backend = scriptedBackend({ tokens: ['It', ' is', ' 21', '°C', '.'], toolCalls: [weather, time] });
      cloud = await startOpenAIServer({ apiKey: KEY, backend });
      llama = await startLlamaCppServer({ backend, toolCapable: true });
      llamaObjects = await startLlamaCppServer({ backend, toolCapable: true, toolCalls: { arguments: 'object' } });
    });
    afterEach(() => {
      cloud.reset();
      llama.reset();
      llamaObjects.reset();
    });
    after(async () => {
      await cloud.close();
      await llama.close();
      await llamaObjects.close();
    });

    it("the wire (real openai client): id and name on each call's first piece only, arguments in fragments, finish tool_calls", async () => {
      const { pieces, finish } = await wirePieces(`${cloud.url}/v1`, KEY);
      assert.equal(finish, 'tool_calls');
      const firsts = pieces.filter((p) => p.id !== undefined);
      assert.deepEqual(
        firsts.map((p) => [p.index, p.function.name, p.function.arguments]),
        [
          [0, 'get_weather', ''],
          [1, 'get_time', ''],
        ],
      );
      assert.ok(
        pieces.filter((p) => p.id === undefined).every((p) => p.function.name === undefined && typeof p.function.arguments === 'string'),
      );
      assert.ok(pieces.length > 6, 'arguments come in several fragments');
    });

    it('OpenAI: fragments reassembled per call, server ids and names kept, finish tool_calls', async () => {
      const events = await collectChat(openai(cloud.url), { model: MODEL, messages: user('weather and time?'), tools: TOOLS });
      const answer = foldAnswer(events);
      assert.equal(answer.finish, 'tool_calls');
      assert.deepEqual(
        answer.calls.map((c) => [c.index, c.name, JSON.parse(c.arguments)]),
        [
          [0, 'get_weather', weather.arguments],
          [1, 'get_time', time.arguments],
        ],
      );
      for (const c of answer.calls) assert.match(c.id, /^call_[A-Za-z0-9_-]{24}$/);
      assert.ok(answer.calls[0]!.pieces > 3, 'the arguments streamed as they came, in pieces');
      assert.equal(events.at(-1)?.type, 'usage');
    });

    it('the wire (real openai client): llama.cpp starts both calls, then interleaves their fragments', async () => {
      const { pieces, finish } = await wirePieces(`${llama.url}/v1`, 'none');
      assert.equal(finish, 'tool_calls');
      const indexes = pieces.map((p) => p.index);
      assert.deepEqual(indexes.slice(0, 4), [0, 1, 0, 1]);
    });

    it('llama.cpp: interleaved parallel calls each get their own arguments back, in order', async () => {
      const events = await collectChat(llamacpp(llama.url), { model: 'any', messages: user('weather and time?'), tools: TOOLS });
      const answer = foldAnswer(events);
      assert.equal(answer.finish, 'tool_calls');
      assert.deepEqual(
        answer.calls.map((c) => [c.index, c.name, JSON.parse(c.arguments)]),
        [
          [0, 'get_weather', weather.arguments],
          [1, 'get_time', time.arguments],
        ],
      );
      assert.match(answer.calls[0]!.id, /^[A-Za-z0-9]{32}$/);
      const streamed = events
        .filter((e) => e.type === 'toolCall' || e.type === 'toolCallArgs')
        .map((e) => `${e.type}:${(e as { index: number }).index}`);
      assert.deepEqual(
        streamed.slice(0, 4),
        ['toolCall:0', 'toolCall:1', 'toolCallArgs:0', 'toolCallArgs:1'],
        'pieces passed on as they came',
      );
    });

    it('the wire (real openai client): a llama.cpp build that sends arguments as an object (llama.cpp#20198)', async () => {
      const { pieces } = await wirePieces(`${llamaObjects.url}/v1`, 'none');
      assert.deepEqual(
        pieces.map((p) => p.function.arguments),
        [weather.arguments, time.arguments],
      );
      const client = new OpenAI({ baseURL: `${llamaObjects.url}/v1`, apiKey: 'none', maxRetries: 0 });
      const whole = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'weather?' }],
        tools: TOOLS.map((t) => ({ type: 'function' as const, function: t })),
      });
      assert.deepEqual(
        whole.choices[0]!.message.tool_calls!.map((c) => (c as any).function.arguments),
        [weather.arguments, time.arguments],
      );
      // Non-streamed messages are normalised by the same helper: arguments always a JSON string.
      const normalised = toolCallsFrom(whole.choices[0]!.message.tool_calls);
      assert.deepEqual(
        normalised.map((c) => [c.name, JSON.parse(c.arguments)]),
        [
          ['get_weather', weather.arguments],
          ['get_time', time.arguments],
        ],
      );
      assert.ok(normalised.every((c) => typeof c.arguments === 'string' && c.id.length > 0));
    });

    it('llama.cpp object arguments become JSON strings', async () => {
      const answer = foldAnswer(
        await collectChat(llamacpp(llamaObjects.url), { model: 'any', messages: user('weather and time?'), tools: TOOLS }),
      );
      assert.deepEqual(
        answer.calls.map((c) => [c.name, typeof c.arguments, JSON.parse(c.arguments)]),
        [
          ['get_weather', 'string', weather.arguments],
          ['get_time', 'string', time.arguments],
        ],
      );
      assert.equal(answer.finish, 'tool_calls');
    });

    it('asked to relay (the gateway), a request with tools relays too: the relayed pieces are the calls the events give, object arguments as JSON text', async () => {
      /** A relayed answer piped (as the gateway does) and read back: event types, and the calls its pieces fold into. */
      const relayedCalls = async (
        p: OpenAICompatibleProvider,
        model: string,
      ): Promise<{ types: string[]; calls: [string, string, unknown][] }> => {
        let sse = '';
        const types: string[] = [];
        for await (const e of p.chat({ model, messages: user('weather?'), tools: TOOLS, relay: RELAY })) {
          types.push(e.type);
          if (e.type === 'relay')
            e.answer.pipe({ write: (bytes) => ((sse += Buffer.from(bytes, 'latin1').toString('utf8')), true), onDrain: () => undefined });
        }
        const calls: [string, string, string][] = [];
        for (const event of sse.split('\n\n').filter(Boolean)) {
          for (const piece of JSON.parse(event.slice('data: '.length)).choices[0]?.delta?.tool_calls ?? []) {
            assert.equal(typeof piece.function.arguments, 'string', JSON.stringify(piece));
            if (piece.id) calls[piece.index] = [piece.id, piece.function.name, piece.function.arguments];
            else calls[piece.index]![2] += piece.function.arguments;
          }
        }
        return { types, calls: calls.map(([id, name, args]) => [typeof id, name, JSON.parse(args)]) };
      };
      const expected = [
        ['string', 'get_weather', weather.arguments],
        ['string', 'get_time', time.arguments],
      ];
      for (const [p, model] of [
        [openai(cloud.url), MODEL],
        [llamacpp(llama.url), 'any'],
        [llamacpp(llamaObjects.url), 'any'],
      ] as const) {
        const relayed = await relayedCalls(p, model);
        assert.deepEqual(relayed.types, ['relay', 'usage']);
        assert.deepEqual(relayed.calls, expected);
        const framed = foldAnswer(await collectChat(p, { model, messages: user('weather?'), tools: TOOLS }));
        assert.deepEqual(
          framed.calls.map((c) => [typeof c.id, c.name, JSON.parse(c.arguments)]),
          expected,
        );
      }
    });

    it("sends tools, tool_choice, parallel_tool_calls and response_format in OpenAI's shape", async () => {
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      const p = openai(cloud.url);
      await collectChat(p, {
        model: MODEL,
        messages: user('a'),
        tools: [WEATHER_TOOL],
        toolChoice: { name: 'get_weather' },
        parallelToolCalls: false,
      });
      await collectChat(p, { model: MODEL, messages: user('b'), tools: [WEATHER_TOOL], toolChoice: 'required' });
      await collectChat(p, {
        model: MODEL,
        messages: user('c'),
        responseFormat: { type: 'json_schema', name: 'reply', schema, strict: true },
      });
      await collectChat(p, { model: MODEL, messages: user('d'), responseFormat: { type: 'json_object' }, toolChoice: 'required' });
      const [a, b, c, d] = chatBodies(cloud);
      assert.deepEqual(a.tools, [{ type: 'function', function: WEATHER_TOOL }]);
      assert.deepEqual(a.tool_choice, { type: 'function', function: { name: 'get_weather' } });
      assert.equal(a.parallel_tool_calls, false);
      assert.equal(b.tool_choice, 'required');
      assert.equal(b.parallel_tool_calls, undefined);
      assert.deepEqual(c.response_format, { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } });
      assert.equal(c.tools, undefined);
      assert.deepEqual(d.response_format, { type: 'json_object' });
      assert.equal(d.tool_choice, undefined, 'no tool_choice without tools');
    });

    it('the tool loop: assistant tool_calls (arguments a string, content null) and role "tool" results by tool_call_id', async () => {
      const p = openai(cloud.url);
      const first = foldAnswer(await collectChat(p, { model: MODEL, messages: user('weather and time?'), tools: TOOLS }));
      const history: ChatMessage[] = [
        ...user('weather and time?'),
        { role: 'assistant', content: '', toolCalls: first.calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) },
        { role: 'tool', toolCallId: first.calls[0]!.id, content: '{"temp":21}' },
        { role: 'tool', toolCallId: first.calls[1]!.id, content: '14:05' },
      ];
      const second = foldAnswer(await collectChat(p, { model: MODEL, messages: history, tools: TOOLS }));
      assert.equal(second.text, 'It is 21°C.');
      assert.equal(second.finish, 'stop');
      assert.deepEqual(chatBodies(cloud)[1].messages.slice(1), [
        {
          role: 'assistant',
          content: null,
          tool_calls: first.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        },
        { role: 'tool', tool_call_id: first.calls[0]!.id, content: '{"temp":21}' },
        { role: 'tool', tool_call_id: first.calls[1]!.id, content: '14:05' },
      ]);
    });

    it('a thinking model (llama.cpp reasoning_content) reasons, then calls', async () => {
      const server = await startLlamaCppServer({
        backend: scriptedBackend({ reasoning: ['Weather', ' wanted.'], toolCalls: [time] }),
        toolCapable: true,
      });
      try {
        const answer = foldAnswer(await collectChat(llamacpp(server.url), { model: 'any', messages: user('time?'), tools: [TIME_TOOL] }));
        assert.equal(answer.reasoning, 'Weather wanted.');
        assert.deepEqual(answer.order.slice(0, 2), ['reasoning', 'toolCall']);
        assert.deepEqual(
          answer.calls.map((c) => c.name),
          ['get_time'],
        );
        assert.equal(answer.finish, 'tool_calls');
      } finally {
        await server.close();
      }
    });

    it('without tools: text, finish stop, usage', async () => {
      const answer = foldAnswer(await collectChat(openai(cloud.url), { model: MODEL, messages: user('hi') }));
      assert.deepEqual(answer.order, ['text', 'finish', 'usage']);
      assert.equal(answer.finish, 'stop');
    });

    it('llama.cpp capabilities: tools from /props chat_template_caps (a template without tools says false)', async () => {
      const [model] = await llamacpp(llama.url).listModels();
      assert.equal(model?.capabilities.tools, true);
      const plain = await startLlamaCppServer({ toolCapable: false });
      const unknown = await startLlamaCppServer();
      try {
        assert.equal((await llamacpp(plain.url).listModels())[0]?.capabilities.tools, false);
        assert.equal((await llamacpp(unknown.url).listModels())[0]?.capabilities.tools, undefined, 'an older server that does not say');
      } finally {
        await plain.close();
        await unknown.close();
      }
    });
  });
}

describe('ToolCallAssembler: the shapes servers send', () => {
  const fold = (deltas: unknown[][]): ReturnType<typeof foldAnswer> => {
    const a = new ToolCallAssembler();
    const events: ChatEvent[] = [];
    for (const d of deltas) events.push(...a.push(d));
    events.push(...a.end());
    return foldAnswer(events);
  };

  it('pieces without index (each call whole) are calls of their own when they bring a new id', () => {
    const answer = fold([
      [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }],
      [{ id: 'b', type: 'function', function: { name: 'g', arguments: '{"y":2}' } }],
    ]);
    assert.deepEqual(
      answer.calls.map((c) => [c.id, c.name, c.arguments]),
      [
        ['a', 'f', '{"x":1}'],
        ['b', 'g', '{"y":2}'],
      ],
    );
  });

  it('server indexes that do not start at 0 are renumbered; a call with no arguments gets {}', () => {
    const answer = fold([
      [{ index: 3, id: 'a', function: { name: 'f', arguments: '' } }],
      [{ index: 5, id: 'b', function: { name: 'g' } }],
      [{ index: 3, function: { arguments: '{}' } }],
    ]);
    assert.deepEqual(
      answer.calls.map((c) => [c.index, c.id, c.arguments]),
      [
        [0, 'a', '{}'],
        [1, 'b', '{}'],
      ],
    );
  });

  it('arguments before the name are held until it comes; a missing id is made', () => {
    const answer = fold([[{ index: 0, function: { arguments: '{"x":' } }], [{ index: 0, function: { name: 'f', arguments: '1}' } }]]);
    assert.equal(answer.calls[0]!.name, 'f');
    assert.equal(answer.calls[0]!.arguments, '{"x":1}');
    assert.match(answer.calls[0]!.id, /^call_/);
  });

  it('a call that never names its function fails the answer', () => {
    const a = new ToolCallAssembler();
    a.push([{ index: 0, function: { arguments: '{}' } }]);
    assert.throws(() => a.end(), { name: 'MalformedToolCallError' });
  });
});
