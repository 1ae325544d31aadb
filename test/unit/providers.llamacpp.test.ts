import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ProviderError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/host';
import { LlamaCppProvider, createProvider } from '../../src/core/providers';
import type { ChatEvent, ChatRequest, ProviderConfig } from '../../src/core/providers';
import { closedPort, llamaBackend, scriptedBackend, startLlamaCppServer } from '../fixtures';
import type { FixtureServer, LlamaBackend } from '../fixtures';
import { chatError, rejectsWith, viaRelay } from '../fixtures/providerAssert';

type LlamaServer = FixtureServer & { setLoading(loading: boolean): void };

function provider(baseUrl: string, options: ConstructorParameters<typeof LlamaCppProvider>[2] = {}, key?: string): LlamaCppProvider {
  const config: ProviderConfig = { id: 'llamacpp', kind: 'llamacpp', baseUrl, local: true };
  return new LlamaCppProvider(config, { secrets: { getApiKey: async () => key }, logger: silentLogger }, options);
}

const user = (content: string): ChatRequest['messages'] => [{ role: 'user', content }];

describe('LlamaCppProvider (scripted backend)', () => {
  let server: LlamaServer;

  before(async () => {
    server = await startLlamaCppServer({ backend: scriptedBackend({ tokens: ['x', 'y', 'z'], dims: 8 }), contextSize: 64 });
  });
  afterEach(() => {
    server.reset();
    server.setLoading(false);
  });
  after(() => server.close());

  it('probes /health', async () => {
    const health = await provider(server.url).health();
    assert.equal(health.ok, true);
    assert.equal(server.counts['GET /health'], 1);
  });

  it('a server still loading its model is a server error that says so', async () => {
    server.setLoading(true);
    const error = await rejectsWith(provider(server.url).health(), 'server');
    assert.equal(error.status, 503);
    assert.match(error.message, /still loading its model/);
  });

  it('discovers the model with the context size the server runs (/props n_ctx)', async () => {
    const models = await provider(server.url).listModels();
    assert.equal(models.length, 1);
    assert.equal(models[0]?.contextLength, 64);
    assert.equal(models[0]?.capabilities.chat, true);
    assert.equal(server.counts['GET /props'], 1);
    assert.equal(server.counts['GET /v1/models'], 1);
  });

  it('chats through the OpenAI routes, whether the base URL has /v1 or not', async () => {
    for (const base of [server.url, `${server.url}/v1`, `${server.url}/`]) {
      let text = '';
      const events: ChatEvent[] = [];
      for await (const e of provider(base).chat({ model: 'any', messages: user('hi') })) {
        events.push(e);
        if (e.type === 'text') text += e.text;
      }
      assert.equal(text, 'xyz');
      assert.equal(events.at(-1)?.type, 'usage');
    }
    assert.equal(server.counts['POST /v1/chat/completions'], 3);
    assert.equal((await provider(`${server.url}/v1`).health()).ok, true);
  });

  it('contextOverflow: the server refuses a prompt larger than its window', async () => {
    const { error } = await chatError(provider(server.url), { model: 'any', messages: user('word '.repeat(100)) });
    assert.equal(error.kind, 'contextOverflow');
    assert.equal(error.status, 400);
  });

  it('embeds', async () => {
    const result = await provider(server.url).embed({ model: 'any', input: ['one', 'two'] });
    assert.equal(result.vectors.length, 2);
    assert.equal(result.vectors[0]?.length, 8);
  });

  it('unreachable and timeout', async () => {
    const down = provider(`http://127.0.0.1:${await closedPort()}`);
    await rejectsWith(down.health(), 'unreachable');
    await rejectsWith(down.listModels(), 'unreachable');
    server.setBehaviour({ mode: 'hang' });
    await rejectsWith(provider(server.url, { probeTimeoutMs: 150 }).health(), 'timeout');
  });

  it('server: 500 mid-request', async () => {
    server.setBehaviour({ mode: 'error', status: 500 }, 'POST /v1/chat/completions');
    const { error } = await chatError(provider(server.url), { model: 'any', messages: user('hi') });
    assert.equal(error.kind, 'server');
  });

  it('needs no key, but uses one when the server was started with --api-key', async () => {
    const guarded = await startLlamaCppServer({ backend: scriptedBackend(), apiKey: 'llama-secret-key-123' });
    try {
      const { error } = await chatError(provider(guarded.url), { model: 'any', messages: user('hi') });
      assert.equal(error.kind, 'auth');
      const keyed = provider(guarded.url, {}, 'llama-secret-key-123');
      const models = await keyed.listModels();
      assert.equal(models.length, 1);
      let n = 0;
      for await (const e of keyed.chat({ model: 'any', messages: user('hi') })) if (e.type === 'text') n++;
      assert.ok(n > 0);
      const denied = await rejectsWith(provider(guarded.url, {}, 'wrong-key-456789').listModels(), 'auth');
      assert.ok(!denied.message.includes('wrong-key-456789'));
    } finally {
      await guarded.close();
    }
  });

  it('createProvider builds it for kind llamacpp', () => {
    const p = createProvider(
      { id: 'l', kind: 'llamacpp', baseUrl: server.url, local: true },
      { secrets: { getApiKey: async () => undefined }, logger: silentLogger },
    );
    assert.ok(p instanceof LlamaCppProvider);
  });
});

describe('LlamaCppProvider (real llama.cpp inference, tiny model)', () => {
  let backend: LlamaBackend;
  let server: LlamaServer;

  before(async () => {
    backend = await llamaBackend({ contextSize: 512 });
    server = await startLlamaCppServer({ backend });
  });
  after(async () => {
    await server.close();
    await backend.dispose();
  });

  it('streams real tokens and reports usage', async () => {
    const events: ChatEvent[] = [];
    for await (const e of provider(server.url).chat({ model: 'tiny', messages: user('hello'), maxTokens: 12 })) events.push(e);
    const texts = events.filter((e) => e.type === 'text');
    assert.ok(texts.length > 0);
    const usage = events.at(-1);
    assert.equal(usage?.type, 'usage');
    assert.ok(((usage as { inputTokens?: number }).inputTokens ?? 0) > 0);
    assert.ok(((usage as { outputTokens?: number }).outputTokens ?? 0) <= 12);
  });

  it('the gateway relay carries the same real answer as the text events (greedy decoding is deterministic)', async () => {
    const text = async (p: LlamaCppProvider) => {
      let out = '';
      let usage: ChatEvent | undefined;
      for await (const e of p.chat({ model: 'tiny', messages: user('hello'), maxTokens: 12, temperature: 0 })) {
        if (e.type === 'text') out += e.text;
        else usage = e;
      }
      return { out, usage };
    };
    const direct = await text(provider(server.url));
    const relayed = await text(viaRelay(provider(server.url)));
    assert.ok(direct.out.length > 0);
    assert.equal(relayed.out, direct.out);
    assert.deepEqual(relayed.usage, direct.usage);
  });

  it('discovers the real context size and embeds with the model width', async () => {
    const [model] = await provider(server.url).listModels();
    assert.equal(model?.contextLength, 512);
    const { vectors } = await provider(server.url).embed({ model: 'tiny', input: ['hello world', 'hello'] });
    assert.equal(vectors.length, 2);
    assert.equal(vectors[0]?.length, backend.dims);
  });

  it('canceled: an abort mid-generation reaches the server', async (t) => {
    server.reset();
    server.setBehaviour({ mode: 'slow', delayMs: 30 });
    const controller = new AbortController();
    let error: unknown;
    let n = 0;
    try {
      for await (const e of provider(server.url).chat({
        model: 'tiny',
        messages: user('hello'),
        maxTokens: 200,
        signal: controller.signal,
      })) {
        if (e.type === 'text' && ++n === 2) controller.abort();
      }
    } catch (e) {
      error = e;
    }
    server.setBehaviour({ mode: 'ok' });
    if (n < 2) {
      t.skip('the tiny model ended its answer before the abort'); // greedy output is deterministic: not expected
      return;
    }
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, 'canceled');
    assert.equal(error.afterOutput, true);
    const end = Date.now() + 2000;
    while (server.aborted < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.ok(server.aborted >= 1);
  });
});
