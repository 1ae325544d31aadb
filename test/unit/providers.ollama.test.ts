import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/host';
import { OllamaProvider, estimateMessagesTokens, sizeNumCtx } from '../../src/core/providers';
import type { ChatRequest, ProviderConfig } from '../../src/core/providers';
import { closedPort, scriptedBackend, startOllamaServer } from '../fixtures';
import type { FixtureServer } from '../fixtures';
import { PROVIDER_FETCHES, abortAfterFirstEvent, chatError, collectChat as collect, rejectsWith } from '../fixtures/providerAssert';

const secrets = { getApiKey: async () => undefined };

/** Set per run of the suite (see PROVIDER_FETCHES). */
let fetchImpl: typeof fetch | undefined;

function provider(url: string, options: ConstructorParameters<typeof OllamaProvider>[2] = {}): OllamaProvider {
  const config: ProviderConfig = { id: 'ollama', kind: 'ollama', baseUrl: url, local: true };
  return new OllamaProvider(config, { secrets, logger: silentLogger, fetch: fetchImpl }, options);
}

const user = (content: string): ChatRequest['messages'] => [{ role: 'user', content }];
const MODEL = 'qwen2.5-coder:7b';

for (const [fetchName, fetchFor] of PROVIDER_FETCHES) {
  describe(`OllamaProvider through ${fetchName}`, () => {
    before(() => {
      fetchImpl = fetchFor;
    });
    let server: FixtureServer;

    before(async () => {
      server = await startOllamaServer({
        backend: scriptedBackend({ tokens: ['one', ' two', ' three', ' four'], dims: 8 }),
        models: [
          { name: MODEL, contextLength: 32768 },
          { name: 'small:1b', contextLength: 3000 },
          { name: 'nomic-embed-text:latest', embedding: true, contextLength: 8192 },
        ],
      });
    });
    afterEach(() => server.reset());
    after(() => server.close());

    it('streams the answer and ends with usage', async () => {
      const events = await collect(provider(server.url), { model: MODEL, messages: user('hello') });
      const text = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
      assert.deepEqual(text, ['one', ' two', ' three', ' four']);
      const last = events.at(-1);
      assert.equal(last?.type, 'usage');
      assert.equal((last as { outputTokens?: number }).outputTokens, 4);
      assert.ok(((last as { inputTokens?: number }).inputTokens ?? 0) > 0);
    });

    it('passes sampling options (stop, top_p, seed, penalties) as Ollama options', async () => {
      await collect(provider(server.url), {
        model: MODEL,
        messages: user('hi'),
        sampling: { stop: ['END', '\n\n'], topP: 0.9, seed: 42, presencePenalty: 0.5, frequencyPenalty: -0.25 },
      });
      const options = server.requests.find((r) => r.path === '/api/chat')?.body.options;
      assert.deepEqual(options.stop, ['END', '\n\n']);
      assert.equal(options.top_p, 0.9);
      assert.equal(options.seed, 42);
      assert.equal(options.presence_penalty, 0.5);
      assert.equal(options.frequency_penalty, -0.25);
    });

    it('always sends num_ctx sized to prompt plus answer, in steps of 2048', async () => {
      const p = provider(server.url);
      await collect(p, { model: MODEL, messages: user('short') });
      let chat = server.requests.find((r) => r.path === '/api/chat');
      assert.equal(chat?.body.options.num_ctx, 2048, 'a short prompt plus the default 1024-token budget');
      assert.equal(chat?.body.options.num_predict, 1024);

      server.reset();
      const long = 'x'.repeat(9000); // ~3000 tokens by the conservative estimate
      const request: ChatRequest = { model: MODEL, messages: user(long), maxTokens: 500, temperature: 0.2 };
      await collect(p, request);
      chat = server.requests.find((r) => r.path === '/api/chat');
      const needed = estimateMessagesTokens(request.messages) + 500;
      assert.equal(chat?.body.options.num_ctx, 4096);
      assert.ok(chat?.body.options.num_ctx >= needed);
      assert.equal(chat?.body.options.num_predict, 500);
      assert.equal(chat?.body.options.temperature, 0.2);
    });

    it('caps num_ctx at the task context size and the model context length', async () => {
      const p = provider(server.url);
      // Needs ~3334 + 1024: rounds to 6144, but the task allows 5000.
      await collect(p, { model: MODEL, messages: user('y'.repeat(10000)), contextSize: 5000 });
      assert.equal(server.requests.find((r) => r.path === '/api/chat')?.body.options.num_ctx, 5000);

      server.reset();
      // Needs ~1500 + 1024: rounds to 4096, but the model only has 3000 (from /api/show); the task would allow more.
      await collect(p, { model: 'small:1b', messages: user('z'.repeat(4500)), contextSize: 65536 });
      assert.equal(server.requests.find((r) => r.path === '/api/chat')?.body.options.num_ctx, 3000);
    });

    it('fails with contextOverflow before sending a prompt that does not fit', async () => {
      const p = provider(server.url);
      const byTask = await chatError(p, { model: MODEL, messages: user('w'.repeat(12000)), contextSize: 4096 });
      assert.equal(byTask.error.kind, 'contextOverflow');
      assert.equal(byTask.error.afterOutput, false);
      const byModel = await chatError(p, { model: 'small:1b', messages: user('w'.repeat(12000)) });
      assert.equal(byModel.error.kind, 'contextOverflow');
      assert.match(byModel.error.message, /3000/);
      assert.equal(server.counts['POST /api/chat'], 0, 'nothing was sent to be cut silently');
    });

    it('sizes num_ctx with the pure helper as documented', () => {
      assert.equal(sizeNumCtx(10, 1024, Infinity), 2048);
      assert.equal(sizeNumCtx(1100, 1024, Infinity), 4096);
      assert.equal(sizeNumCtx(1100, 1024, 3000), 3000);
      assert.equal(sizeNumCtx(3000, 1024, 4000), undefined);
    });

    it('discovers models with context length and capabilities, asking /api/show once per model', async () => {
      const p = provider(server.url);
      const models = await p.listModels();
      const byId = new Map(models.map((m) => [m.id, m]));
      assert.equal(byId.get(MODEL)?.contextLength, 32768);
      assert.equal(byId.get('small:1b')?.contextLength, 3000);
      assert.deepEqual(byId.get(MODEL)?.capabilities, {
        chat: true,
        embeddings: false,
        tools: false,
        vision: false,
        thinking: false,
        fim: false,
      });
      assert.equal(byId.get('nomic-embed-text:latest')?.capabilities.embeddings, true);
      assert.equal(byId.get('nomic-embed-text:latest')?.contextLength, 8192);
      assert.ok((byId.get(MODEL)?.sizeBytes ?? 0) > 0);
      assert.equal(server.counts['POST /api/show'], 3);
      await p.listModels();
      await collect(p, { model: MODEL, messages: user('hi') });
      assert.equal(server.counts['POST /api/show'], 3, 'cached');
    });

    it('embeds in batches, in input order', async () => {
      const p = provider(server.url, { embedBatchSize: 2 });
      const input = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
      const result = await p.embed({ model: 'nomic-embed-text', input });
      assert.equal(result.vectors.length, 5);
      assert.ok(result.vectors.every((v) => v.length === 8));
      assert.equal(server.counts['POST /api/embed'], 3);
      const single = await p.embed({ model: 'nomic-embed-text', input: ['gamma'] });
      assert.deepEqual(single.vectors[0], result.vectors[2]);
      assert.ok((result.inputTokens ?? 0) > 0);
    });

    it('probes health with /api/version', async () => {
      const health = await provider(server.url).health();
      assert.equal(health.ok, true);
      assert.equal(typeof health.version, 'string');
      assert.equal(server.counts['GET /api/version'], 1);
    });

    it('unreachable: a refused connection', async () => {
      const p = provider(`http://127.0.0.1:${await closedPort()}`);
      await rejectsWith(p.health(), 'unreachable');
      await rejectsWith(p.listModels(), 'unreachable');
      const { error } = await chatError(p, { model: MODEL, messages: user('hi') });
      assert.equal(error.kind, 'unreachable');
      assert.equal(error.providerId, 'ollama');
    });

    it('timeout: a server that never answers', async () => {
      server.setBehaviour({ mode: 'hang' });
      const p = provider(server.url, { probeTimeoutMs: 150, firstTokenTimeoutMs: 150 });
      const started = Date.now();
      await rejectsWith(p.health(), 'timeout');
      assert.ok(Date.now() - started < 2000);
      const { error } = await chatError(p, { model: MODEL, messages: user('hi') });
      assert.equal(error.kind, 'timeout');
    });

    it('timeout: headers but no first token', async () => {
      const p = provider(server.url, { firstTokenTimeoutMs: 200 });
      await p.listModels(); // /api/show cached, so only the chat hangs
      server.setBehaviour({ mode: 'hangAfterHeaders' }, 'POST /api/chat');
      const { error, events } = await chatError(p, { model: MODEL, messages: user('hi') });
      assert.equal(error.kind, 'timeout');
      assert.equal(events.length, 0);
      assert.equal(error.afterOutput, false);
    });

    it('modelMissing: a model that is not pulled', async () => {
      const p = provider(server.url);
      const { error } = await chatError(p, { model: 'not-pulled:3b', messages: user('hi') });
      assert.equal(error.kind, 'modelMissing');
      assert.equal(error.status, 404);
      assert.equal(error.model, 'not-pulled:3b');
      await rejectsWith(p.embed({ model: 'missing-embed', input: ['a'] }), 'modelMissing');
    });

    it('rateLimited: 429 with Retry-After', async () => {
      server.setBehaviour({ mode: 'error', status: 429, retryAfter: 7 });
      const { error } = await chatError(provider(server.url), { model: MODEL, messages: user('hi') });
      assert.equal(error.kind, 'rateLimited');
      assert.equal(error.retryAfter, 7);
    });

    it('server: 500', async () => {
      const p = provider(server.url);
      await p.listModels();
      server.setBehaviour({ mode: 'error', status: 500 }, 'POST /api/chat');
      const { error } = await chatError(p, { model: MODEL, messages: user('hi') });
      assert.equal(error.kind, 'server');
      assert.equal(error.status, 500);
    });

    it('canceled: aborting mid-stream stops the request and the server sees it', async () => {
      server.setBehaviour({ mode: 'slow', delayMs: 100 }, 'POST /api/chat');
      await abortAfterFirstEvent(provider(server.url), { model: MODEL, messages: user('hi') });
      await waitFor(() => server.aborted >= 1);
    });

    it('canceled: an already aborted signal sends nothing', async () => {
      const { error } = await chatError(provider(server.url), {
        model: MODEL,
        messages: user('hi'),
        signal: AbortSignal.abort(),
      });
      assert.equal(error.kind, 'canceled');
      assert.equal(server.counts['POST /api/chat'], 0);
    });

    it('a stream that dies mid-way fails with afterOutput', async () => {
      const p = provider(server.url);
      await p.listModels();
      server.setBehaviour({ mode: 'failMidStream', afterTokens: 2 }, 'POST /api/chat');
      const { error, events } = await chatError(p, { model: MODEL, messages: user('hi') });
      assert.equal(events.filter((e) => e.type === 'text').length, 2);
      assert.ok(['server', 'unreachable'].includes(error.kind), error.kind);
      assert.equal(error.afterOutput, true);
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
