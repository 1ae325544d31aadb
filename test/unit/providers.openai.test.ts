import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ProviderError } from '../../src/core/errors';
import type { ErrorKind } from '../../src/core/errors';
import { silentLogger } from '../../src/core/host';
import { OpenAICompatibleProvider, createProvider } from '../../src/core/providers';
import type { ChatEvent, ChatRequest, Provider, ProviderConfig } from '../../src/core/providers';
import { decodeEmbedding } from '../../src/core/providers/openaiCompatible';
import { closedPort, floatsToBase64, hashEmbedding, scriptedBackend, startOpenAIServer } from '../fixtures';
import type { FixtureServer } from '../fixtures';
import {
  CHAT_PATHS,
  PROVIDER_FETCHES,
  abortAfterFirstEvent,
  chatError as sharedChatError,
  rejectsWith as sharedRejectsWith,
} from '../fixtures/providerAssert';

/** Recognisable, so a leak anywhere is easy to spot. */
const KEY = 'sk-switchyard-FAKEKEY-0123456789abcdef';
const WRONG_KEY = 'sk-switchyard-WRONGKEY-fedcba9876543210';
const MODEL = 'gpt-4.1-mini';
const EMBED = 'text-embedding-3-small';

/** Set per run of the suite (see PROVIDER_FETCHES and CHAT_PATHS). */
let fetchImpl: typeof fetch | undefined;
let wrap: <P extends Provider>(p: P) => P = (p) => p;

function provider(
  url: string,
  opts: { key?: string; preset?: string; options?: ConstructorParameters<typeof OpenAICompatibleProvider>[2] } = {},
): OpenAICompatibleProvider {
  const config: ProviderConfig = {
    id: opts.preset ?? 'cloud',
    kind: 'openai-compatible',
    baseUrl: `${url}/v1`,
    local: false,
    preset: opts.preset ?? 'openai',
    apiKeyEnv: 'SWITCHYARD_TEST_KEY',
  };
  const key = 'key' in opts ? opts.key : KEY;
  return wrap(
    new OpenAICompatibleProvider(config, { secrets: { getApiKey: async () => key }, logger: silentLogger, fetch: fetchImpl }, opts.options),
  );
}

const user = (content: string): ChatRequest['messages'] => [{ role: 'user', content }];

/** Every error a test saw, checked for the key at the end. */
const seen: ProviderError[] = [];
const chatError = (p: Provider, request: ChatRequest) => sharedChatError(p, request, seen);
const rejectsWith = (promise: Promise<unknown>, kind: ErrorKind) => sharedRejectsWith(promise, kind, seen);

for (const [fetchName, fetchFor] of PROVIDER_FETCHES)
  for (const [pathName, wrapFor] of CHAT_PATHS) {
    describe(`OpenAICompatibleProvider through ${fetchName}, chat as ${pathName}`, () => {
      before(() => {
        fetchImpl = fetchFor;
        wrap = wrapFor;
      });
      let server: FixtureServer;

      before(async () => {
        server = await startOpenAIServer({
          apiKey: KEY,
          backend: scriptedBackend({ tokens: ['a', 'b', 'c', 'd'], dims: 8 }),
          models: [
            { name: MODEL, contextLength: 1047576 },
            { name: 'tiny-window', contextLength: 40 },
            { name: EMBED, embedding: true },
          ],
        });
      });
      afterEach(() => server.reset());
      after(() => server.close());

      it('streams tokens, then usage at the end, with the key from the SecretSource', async () => {
        const events: ChatEvent[] = [];
        for await (const e of provider(server.url).chat({ model: MODEL, messages: user('hi'), maxTokens: 50, temperature: 0 })) {
          events.push(e);
        }
        assert.deepEqual(
          events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text),
          ['a', 'b', 'c', 'd'],
        );
        assert.deepEqual(events.at(-1), { type: 'usage', inputTokens: 8, outputTokens: 4 });
        const req = server.requests.find((r) => r.path === '/v1/chat/completions');
        assert.equal(req?.headers.authorization, `Bearer ${KEY}`);
        assert.deepEqual(req?.body.stream_options, { include_usage: true });
        assert.equal(req?.body.max_completion_tokens, 50, 'OpenAI takes max_completion_tokens');
        assert.equal(req?.body.temperature, 0);
      });

      it("passes sampling options under OpenAI's names, and none it was not given", async () => {
        for await (const _ of provider(server.url).chat({
          model: MODEL,
          messages: user('hi'),
          sampling: { stop: ['END', '\n\n'], topP: 0.9, seed: 42, presencePenalty: 0.5, frequencyPenalty: -0.25 },
        })) {
          // drain
        }
        const body = server.requests.find((r) => r.path === '/v1/chat/completions')?.body;
        assert.deepEqual(body.stop, ['END', '\n\n']);
        assert.equal(body.top_p, 0.9);
        assert.equal(body.seed, 42);
        assert.equal(body.presence_penalty, 0.5);
        assert.equal(body.frequency_penalty, -0.25);
        server.reset();
        for await (const _ of provider(server.url).chat({ model: MODEL, messages: user('hi') })) {
          // drain
        }
        const plain = server.requests.find((r) => r.path === '/v1/chat/completions')?.body;
        for (const key of ['stop', 'top_p', 'seed', 'presence_penalty', 'frequency_penalty']) assert.ok(!(key in plain), key);
      });

      it('names the answer budget max_tokens for other presets', async () => {
        for await (const _ of provider(server.url, { preset: 'anthropic' }).chat({ model: MODEL, messages: user('hi'), maxTokens: 2 })) {
          // drain
        }
        const req = server.requests.find((r) => r.path === '/v1/chat/completions');
        assert.equal(req?.body.max_tokens, 2);
        assert.equal(req?.body.max_completion_tokens, undefined);
      });

      it('embeds in batches and decodes base64 vectors in input order', async () => {
        const p = provider(server.url, { options: { embedBatchSize: 2 } });
        const input = ['red apple', 'green pear', 'blue sky'];
        const result = await p.embed({ model: EMBED, input });
        assert.equal(server.counts['POST /v1/embeddings'], 2);
        assert.equal(server.requests[0]?.body.encoding_format, 'base64');
        assert.equal(result.vectors.length, 3);
        result.vectors.forEach((v, i) => {
          const expected = hashEmbedding(input[i]!, 8);
          v.forEach((x, j) => assert.ok(Math.abs(x - expected[j]!) < 1e-6));
        });
        assert.ok((result.inputTokens ?? 0) > 0);
      });

      it('decodes embeddings sent either as float arrays or as base64', () => {
        assert.deepEqual(decodeEmbedding([0.5, -1]), [0.5, -1]);
        assert.deepEqual(decodeEmbedding(floatsToBase64([0.5, -1, 2])), [0.5, -1, 2]);
      });

      it('discovers models and probes health through /v1/models', async () => {
        const p = provider(server.url);
        const models = await p.listModels();
        assert.deepEqual(models.map((m) => m.id).sort(), [EMBED, MODEL, 'tiny-window'].sort());
        const health = await p.health();
        assert.equal(health.ok, true);
        assert.equal(health.modelCount, 3);
      });

      it('unreachable: a refused connection', async () => {
        const p = provider(`http://127.0.0.1:${await closedPort()}`);
        const { error } = await chatError(p, { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'unreachable');
        await rejectsWith(p.health(), 'unreachable');
        await rejectsWith(p.embed({ model: EMBED, input: ['x'] }), 'unreachable');
      });

      it('timeout: no answer at all, and headers without a first token', async () => {
        const p = provider(server.url, { options: { probeTimeoutMs: 150, firstTokenTimeoutMs: 150, requestTimeoutMs: 150 } });
        server.setBehaviour({ mode: 'hang' });
        assert.equal((await chatError(p, { model: MODEL, messages: user('hi') })).error.kind, 'timeout');
        await rejectsWith(p.health(), 'timeout');
        await rejectsWith(p.embed({ model: EMBED, input: ['x'] }), 'timeout');
        server.setBehaviour({ mode: 'hangAfterHeaders' });
        const { error, events } = await chatError(p, { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'timeout');
        assert.equal(events.length, 0);
      });

      it('a caller signal that times out reads as timeout, not canceled', async () => {
        server.setBehaviour({ mode: 'hang' });
        const { error } = await chatError(provider(server.url), { model: MODEL, messages: user('hi'), signal: AbortSignal.timeout(100) });
        assert.equal(error.kind, 'timeout');
      });

      it('auth: a wrong key (401)', async () => {
        const { error } = await chatError(provider(server.url, { key: WRONG_KEY }), { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'auth');
        assert.equal(error.status, 401);
        assert.ok(!error.message.includes(WRONG_KEY));
        await rejectsWith(provider(server.url, { key: WRONG_KEY }).health(), 'auth');
      });

      it('auth: 403 permission denied', async () => {
        server.setBehaviour({ mode: 'error', status: 403 });
        assert.equal((await chatError(provider(server.url), { model: MODEL, messages: user('hi') })).error.kind, 'auth');
      });

      it('auth: no key for a preset that needs one fails before anything is sent', async () => {
        const p = provider(server.url, { key: undefined, preset: 'anthropic' });
        const { error } = await chatError(p, { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'auth');
        assert.equal(error.message, 'No API key for anthropic: run "Switchyard: Set API Key" or set SWITCHYARD_TEST_KEY');
        assert.equal(server.counts.total, 0);
      });

      it('modelMissing: 404', async () => {
        const { error } = await chatError(provider(server.url), { model: 'gpt-nonexistent', messages: user('hi') });
        assert.equal(error.kind, 'modelMissing');
        assert.equal(error.status, 404);
        assert.equal(error.model, 'gpt-nonexistent');
      });

      it('rateLimited: 429 with Retry-After', async () => {
        server.setBehaviour({ mode: 'error', status: 429, retryAfter: 3 });
        const { error } = await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'rateLimited');
        assert.equal(error.retryAfter, 3);
        assert.equal(server.counts['POST /v1/chat/completions'], 1, 'no silent retries');
      });

      it('contextOverflow: 400 context_length_exceeded', async () => {
        const { error } = await chatError(provider(server.url), {
          model: 'tiny-window',
          messages: user('many words '.repeat(40)),
        });
        assert.equal(error.kind, 'contextOverflow');
        assert.equal(error.status, 400);
      });

      it('server: 500, and a plain 400 that is not about the context', async () => {
        server.setBehaviour({ mode: 'error', status: 500 });
        const { error } = await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
        assert.equal(error.kind, 'server');
        assert.equal(error.status, 500);
        server.setBehaviour({ mode: 'error', status: 400 });
        assert.equal((await chatError(provider(server.url), { model: MODEL, messages: user('hi') })).error.kind, 'server');
      });

      it('canceled: an abort mid-stream throws (the client would end quietly) and reaches the server', async () => {
        server.setBehaviour({ mode: 'slow', delayMs: 100 });
        await abortAfterFirstEvent(provider(server.url), { model: MODEL, messages: user('hi') });
        await waitFor(() => server.aborted >= 1);
      });

      it('canceled: before the first token', async () => {
        server.setBehaviour({ mode: 'hang' });
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50);
        const { error, events } = await chatError(provider(server.url), { model: MODEL, messages: user('hi'), signal: controller.signal });
        assert.equal(error.kind, 'canceled');
        assert.equal(error.afterOutput, false);
        assert.equal(events.length, 0);
        await waitFor(() => server.aborted >= 1);
      });

      it('a consumer that stops reading aborts the request', async () => {
        server.setBehaviour({ mode: 'slow', delayMs: 100 });
        for await (const e of provider(server.url).chat({ model: MODEL, messages: user('hi') })) {
          assert.equal(e.type, 'text');
          break;
        }
        await waitFor(() => server.aborted >= 1);
      });

      it('a stream that dies mid-way throws with afterOutput', async () => {
        server.setBehaviour({ mode: 'failMidStream', afterTokens: 2 });
        const { error, events } = await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
        assert.equal(events.filter((e) => e.type === 'text').length, 2);
        assert.ok(['server', 'unreachable'].includes(error.kind), error.kind);
        assert.equal(error.afterOutput, true);
      });

      it('works through createProvider for every cloud preset shape', async () => {
        const p = wrap(
          createProvider(
            { id: 'gemini', kind: 'openai-compatible', baseUrl: `${server.url}/v1/`, local: false, preset: 'gemini' },
            { secrets: { getApiKey: async () => KEY }, logger: silentLogger },
          ),
        );
        let text = '';
        for await (const e of p.chat({ model: MODEL, messages: user('hi') })) if (e.type === 'text') text += e.text;
        assert.equal(text, 'abcd');
      });

      it('never puts the key in an error, even when the server echoes it', async () => {
        server.setBehaviour({ mode: 'error', status: 400, body: { error: { message: `bad request for key ${KEY}`, type: 'x' } } });
        const echoed = await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
        assert.ok(echoed.error.message.includes('bad request for key'));
        server.setBehaviour({ mode: 'error', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}` } } });
        await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
        await rejectsWith(provider(server.url).listModels(), 'auth');
        assert.ok(seen.length >= 15, `checked ${seen.length} errors`);
        for (const e of seen) {
          for (const key of [KEY, WRONG_KEY]) {
            assert.ok(!e.message.includes(key), `key in message: ${e.message}`);
            assert.ok(!JSON.stringify(e).includes(key), 'key in JSON');
            assert.ok(!String(e).includes(key), 'key in toString');
          }
        }
      });
    });
  }

async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
