// Fill-in-the-middle through each provider kind (issue 15): Ollama /api/generate (suffix and raw), llama.cpp /infill,
// OpenAI-compatible /v1/completions. Each fixture records what it received; the prompt comes from the real templates
// and context of src/core/complete; cancellation must reach the server; a model without FIM support fails typed.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { buildContext, buildFimPrompt, chooseFimTemplate, FIM_TEMPLATES } from '../../src/core/complete';
import type { CompletionContext, FimPrompt } from '../../src/core/complete';
import { FALLBACK_KINDS, ProviderError, marksUnhealthy } from '../../src/core/errors';
import { silentLogger } from '../../src/core/host';
import { LlamaCppProvider, OllamaProvider, OpenAICompatibleProvider } from '../../src/core/providers';
import type { CompletionRequest, Provider, ProviderConfig } from '../../src/core/providers';
import { MAX_COMPLETION_TEMPERATURE } from '../../src/core/providers/base';
import { EmbeddedProvider } from '../../src/core/providers/embedded/provider';
import { EmbeddedRuntime } from '../../src/core/providers/embedded/runtime';
import { stopsFor } from '../../src/core/providers/openaiCompatible';
import { scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, tinyModelPath } from '../fixtures';
import type { FixtureServer } from '../fixtures';
import { rejectsWith } from '../fixtures/providerAssert';

const secrets = { getApiKey: async () => undefined };
const deps = { secrets, logger: silentLogger };

const FILE = [
  'export function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  '',
  'export function mul(a: number, b: number): number {',
  '  return ',
  '}',
  '',
].join('\n');
const CURSOR = FILE.indexOf('return ', FILE.indexOf('mul')) + 'return '.length;
const EXTRA = [{ filename: 'src/math/sub.ts', text: 'export const sub = (a: number, b: number) => a - b;\n' }];

function context(extra = EXTRA): CompletionContext {
  return buildContext({ text: FILE, offset: CURSOR, extra, filename: 'src/math/ops.ts' });
}

/** The FIM prompt the completer would send for this model (throws when the model is not usable). */
function fimFor(input: Parameters<typeof chooseFimTemplate>[0], ctx = context()): FimPrompt {
  const choice = chooseFimTemplate(input);
  assert.ok(choice.usable, `usable: ${JSON.stringify(choice)}`);
  return buildFimPrompt(choice, ctx);
}

const request = (model: string, prompt: FimPrompt, signal?: AbortSignal): CompletionRequest => ({ model, ...prompt, signal });

function lastBody(server: FixtureServer, key: string): any {
  const seen = server.requests.filter((r) => `${r.method} ${r.path}` === key);
  assert.ok(seen.length > 0, `the server saw ${key}`);
  return seen.at(-1)!.body;
}

/** Polls a condition the server's own state sets (a disconnect it saw); generous for a busy machine. */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not reached`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a completion against a route that never answers, waits until the server has it, aborts: `canceled`. */
async function cancelReachesServer(p: Provider, req: CompletionRequest, server: FixtureServer, key: string): Promise<void> {
  server.setBehaviour({ mode: 'hang' }, key);
  const before = server.counts[key] ?? 0;
  const abortedBefore = server.aborted;
  const controller = new AbortController();
  const pending = p.complete!({ ...req, signal: controller.signal });
  await until(() => (server.counts[key] ?? 0) > before, `the server received ${key}`);
  controller.abort();
  const error = await rejectsWith(pending, 'canceled');
  assert.equal(error.afterOutput, false);
  await until(() => server.aborted > abortedBefore, 'the server saw the client go away');
  server.setBehaviour({ mode: 'ok' }, key);
}

describe('Ollama: /api/generate fill-in-the-middle', () => {
  let server: FixtureServer;
  let p: OllamaProvider;
  const FIM_MODEL = 'qwen2.5-coder:7b';
  const RAW_MODEL = 'codellama:7b-code';
  const CHAT_MODEL = 'llama3.2:3b';

  before(async () => {
    server = await startOllamaServer({
      backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
      models: [
        { name: FIM_MODEL, contextLength: 32768, insert: true },
        { name: RAW_MODEL, contextLength: 16384 },
        { name: CHAT_MODEL, contextLength: 8192 },
      ],
    });
    const config: ProviderConfig = { id: 'ollama', kind: 'ollama', baseUrl: server.url, local: true };
    p = new OllamaProvider(config, deps);
  });
  after(() => server.close());

  it('discovery carries the insert capability and the template, so chooseFimTemplate picks suffix mode', async () => {
    const models = await p.listModels();
    const fim = models.find((m) => m.id === FIM_MODEL)!;
    assert.equal(fim.capabilities.fim, true);
    assert.match(fim.template ?? '', /\.Suffix/);
    const chat = models.find((m) => m.id === CHAT_MODEL)!;
    assert.equal(chat.capabilities.fim, false);
    const choice = chooseFimTemplate({
      model: fim.id,
      ollamaTemplate: fim.template,
      ollamaCapabilities: fim.capabilities.fim ? ['insert'] : [],
    });
    assert.equal(choice.usable && choice.mode, 'suffix');
    const refused = chooseFimTemplate({ model: chat.id, ollamaTemplate: chat.template });
    assert.equal(refused.usable, false);
  });

  it('suffix mode: prompt and suffix, no raw flag, the stops, num_predict and a low temperature', async () => {
    const prompt = fimFor({ model: FIM_MODEL, ollamaCapabilities: ['insert'] });
    assert.equal(prompt.mode, 'suffix');
    const result = await p.complete(request(FIM_MODEL, prompt));
    assert.equal(result.text, 'a * b;');
    assert.equal(result.finishReason, 'stop');
    assert.ok(result.outputTokens! > 0);
    const body = lastBody(server, 'POST /api/generate');
    assert.equal(body.model, FIM_MODEL);
    assert.equal(body.prompt, context().prefix);
    assert.ok(body.prompt.endsWith('  return '));
    assert.equal(body.suffix, context().suffix);
    assert.equal(body.suffix, '\n}\n');
    assert.equal(body.raw, undefined);
    assert.equal(body.stream, false);
    assert.deepEqual(body.options.stop, [...FIM_TEMPLATES['qwen-coder'].stop, '\n']);
    assert.equal(body.options.num_predict, prompt.maxTokens);
    assert.ok(body.options.temperature >= 0 && body.options.temperature <= MAX_COMPLETION_TEMPERATURE);
    assert.ok(body.options.num_ctx >= 2048);
  });

  it('raw mode: the family template built here, sent with raw: true and no suffix', async () => {
    const prompt = fimFor({ model: RAW_MODEL });
    assert.equal(prompt.mode, 'raw');
    const ctx = context();
    await p.complete({ ...request(RAW_MODEL, prompt), temperature: 0.9 });
    const body = lastBody(server, 'POST /api/generate');
    assert.equal(body.raw, true);
    assert.equal(body.prompt, `<PRE> ${ctx.prefix} <SUF>${ctx.suffix} <MID>`);
    assert.equal('suffix' in body, false);
    assert.deepEqual(body.options.stop, [...FIM_TEMPLATES.codellama.stop, '\n']);
    assert.equal(body.options.temperature, MAX_COMPLETION_TEMPERATURE, 'a chat-sized temperature is clamped');
  });

  it('a suffix for a model without insert: the fixture refuses it as Ollama does, and the provider never sends it', async () => {
    // What Ollama answers (the real client against the fixture).
    const client = new Ollama({ host: server.url });
    await assert.rejects(client.generate({ model: CHAT_MODEL, prompt: 'a', suffix: 'b', stream: false }), (e: unknown) => {
      const err = e as { status_code?: number; error?: string };
      return err.status_code === 400 && /does not support insert/.test(String(err.error));
    });
    const before = server.counts['POST /api/generate'] ?? 0;
    const error = await rejectsWith(
      p.complete({ model: CHAT_MODEL, mode: 'suffix', prompt: 'x', suffix: 'y', stop: [], maxTokens: 8 }),
      'unsupported',
    );
    assert.equal(error.model, CHAT_MODEL);
    assert.equal(error.providerId, 'ollama');
    assert.equal(server.counts['POST /api/generate'] ?? 0, before, 'nothing was sent');
  });

  it('a model that is not pulled: modelMissing', async () => {
    await rejectsWith(p.complete({ model: 'nope:1b', mode: 'raw', prompt: 'x' }), 'modelMissing');
  });

  it('cancel: aborting reaches the server', async () => {
    await p.listModels(); // /api/show cached: only /api/generate hangs
    await cancelReachesServer(
      p,
      request(FIM_MODEL, fimFor({ model: FIM_MODEL, ollamaCapabilities: ['insert'] })),
      server,
      'POST /api/generate',
    );
  });
});

describe('llama.cpp: /infill', () => {
  let server: Awaited<ReturnType<typeof startLlamaCppServer>>;
  let noFim: Awaited<ReturnType<typeof startLlamaCppServer>>;
  let p: LlamaCppProvider;
  const MODEL = 'qwen2.5-coder-1.5b-q8_0.gguf';

  before(async () => {
    server = await startLlamaCppServer({ backend: scriptedBackend({ tokens: ['a', ' *', ' b;', '\n', 'junk'] }) });
    noFim = await startLlamaCppServer({ infill: false });
    p = new LlamaCppProvider({ id: 'llamacpp', kind: 'llamacpp', baseUrl: server.url, local: true }, deps);
  });
  after(async () => {
    await server.close();
    await noFim.close();
  });

  it('suffix mode: input_prefix, input_suffix, input_extra, n_predict and stop; the server stops at "\\n"', async () => {
    const prompt = fimFor({ model: MODEL, serverInfill: true });
    assert.equal(prompt.mode, 'suffix');
    const result = await p.complete(request(MODEL, prompt));
    assert.equal(result.text, 'a * b;', 'cut by the server at the newline stop');
    assert.equal(result.finishReason, 'stop');
    const body = lastBody(server, 'POST /infill');
    const ctx = context();
    assert.equal(body.input_prefix, ctx.prefix);
    assert.equal(body.input_suffix, ctx.suffix);
    assert.deepEqual(body.input_extra, EXTRA);
    assert.equal(body.n_predict, prompt.maxTokens);
    assert.deepEqual(body.stop, [...FIM_TEMPLATES['qwen-coder'].stop, '\n']);
    assert.equal(body.stream, false);
    assert.ok(body.temperature <= MAX_COMPLETION_TEMPERATURE);
  });

  it('the answer budget: n_predict reached is finish "length"', async () => {
    const result = await p.complete({ model: MODEL, mode: 'suffix', prompt: 'x', suffix: '', maxTokens: 2 });
    assert.equal(result.text, 'a *');
    assert.equal(result.finishReason, 'length');
    assert.equal(result.outputTokens, 2);
  });

  it('raw mode goes to /v1/completions with the FIM string as prompt', async () => {
    const prompt = fimFor({ model: MODEL });
    assert.equal(prompt.mode, 'raw');
    const before = server.counts['POST /infill'] ?? 0;
    const result = await p.complete(request(MODEL, prompt));
    assert.equal(result.text, 'a * b;');
    const body = lastBody(server, 'POST /v1/completions');
    assert.ok(body.prompt.startsWith('<|file_sep|>src/math/sub.ts\n'), 'repository-level form with the other file');
    assert.ok(body.prompt.endsWith('<|fim_middle|>'));
    assert.equal('suffix' in body, false);
    assert.equal(server.counts['POST /infill'] ?? 0, before);
  });

  it('a model without FIM tokens: 501 from the server becomes unsupported, and discovery then says fim: false', async () => {
    const q = new LlamaCppProvider({ id: 'nofim', kind: 'llamacpp', baseUrl: noFim.url, local: true }, deps);
    assert.equal((await q.listModels())[0]!.capabilities.fim, undefined, '/props does not tell');
    const error = await rejectsWith(q.complete({ model: MODEL, mode: 'suffix', prompt: 'x', suffix: 'y' }), 'unsupported');
    assert.equal(error.status, 501);
    assert.match(error.message, /Infill is not supported by this model: prefix token is missing/);
    assert.equal((await q.listModels())[0]!.capabilities.fim, false);
    // Not a sick server: the router tries the next candidate without cooling this provider down.
    assert.ok(error instanceof ProviderError);
    assert.equal(marksUnhealthy(error), false);
    assert.ok(FALLBACK_KINDS.has(error.kind));
  });

  it('the fixture checks the body as llama-server does', async () => {
    const answer = await fetch(`${server.url}/infill`, { method: 'POST', body: JSON.stringify({ input_suffix: '' }) });
    assert.equal(answer.status, 400);
    assert.match(JSON.stringify(await answer.json()), /"input_prefix\\" is required/);
    const bad = await fetch(`${server.url}/infill`, {
      method: 'POST',
      body: JSON.stringify({ input_prefix: '', input_suffix: '', input_extra: [{ filename: 'a' }] }),
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  it('cancel: aborting reaches the server', async () => {
    await cancelReachesServer(p, request(MODEL, fimFor({ model: MODEL, serverInfill: true })), server, 'POST /infill');
  });
});

describe('OpenAI-compatible: /v1/completions', () => {
  let server: FixtureServer;
  const INSTRUCT = 'gpt-3.5-turbo-instruct';
  const KEY = 'sk-test-completions-0123456789';

  before(async () => {
    server = await startOpenAIServer({
      apiKey: KEY,
      backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
      models: [{ name: INSTRUCT, completions: true }, { name: 'gpt-4.1-mini' }],
    });
  });
  after(() => server.close());

  const provider = (local: boolean): OpenAICompatibleProvider =>
    new OpenAICompatibleProvider(
      { id: local ? 'lmstudio' : 'openai', kind: 'openai-compatible', baseUrl: `${server.url}/v1`, local },
      { secrets: { getApiKey: async () => KEY }, logger: silentLogger },
    );

  it('suffix mode: prompt, suffix, max_tokens and stop (a cloud server gets at most 4, the newline first)', async () => {
    const prompt = fimFor({ model: INSTRUCT, serverInfill: true, family: 'qwen-coder' });
    const result = await provider(false).complete(request(INSTRUCT, prompt));
    assert.equal(result.text, 'a * b;');
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.outputTokens, 3);
    const body = lastBody(server, 'POST /v1/completions');
    const ctx = context();
    assert.equal(body.model, INSTRUCT);
    assert.equal(body.prompt, ctx.prefix);
    assert.equal(body.suffix, ctx.suffix);
    assert.equal(body.max_tokens, prompt.maxTokens);
    assert.equal(body.stream, false);
    assert.deepEqual(body.stop, ['\n', ...FIM_TEMPLATES['qwen-coder'].stop.slice(0, 3)]);
  });

  it('a server on this machine gets every stop; raw mode sends no suffix', async () => {
    const prompt = fimFor({ model: 'deepseek-coder-1.3b-base' });
    assert.equal(prompt.mode, 'raw');
    await provider(true).complete(request(INSTRUCT, prompt));
    const body = lastBody(server, 'POST /v1/completions');
    assert.deepEqual(body.stop, prompt.stop);
    assert.equal('suffix' in body, false);
    assert.ok(body.prompt.includes(context().prefix));
    assert.deepEqual(stopsFor(undefined, false), undefined);
  });

  it('a chat-only model: OpenAI answers 404, which maps like chat does (modelMissing)', async () => {
    const error = await rejectsWith(provider(false).complete({ model: 'gpt-4.1-mini', mode: 'raw', prompt: 'x' }), 'modelMissing');
    assert.equal(error.status, 404);
    assert.doesNotMatch(error.message, new RegExp(KEY));
  });

  it('a wrong key: auth', async () => {
    const p = new OpenAICompatibleProvider(
      { id: 'openai', kind: 'openai-compatible', baseUrl: `${server.url}/v1`, local: false },
      { secrets: { getApiKey: async () => 'sk-wrong-key-0000000000' }, logger: silentLogger },
    );
    await rejectsWith(p.complete({ model: INSTRUCT, mode: 'raw', prompt: 'x' }), 'auth');
  });

  it('the fixture streams text_completion chunks to the real client', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const stream = await client.completions.create({ model: INSTRUCT, prompt: 'x', suffix: 'y', stream: true, stop: [' b'] });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, 'a *');
    assert.equal(finish, 'stop');
  });

  it('cancel: aborting reaches the server', async () => {
    await cancelReachesServer(
      provider(false),
      request(INSTRUCT, fimFor({ model: INSTRUCT, serverInfill: true })),
      server,
      'POST /v1/completions',
    );
  });
});

describe('embedded: node-llama-cpp infill on the tiny test models (real inference: structure, not text)', () => {
  let runtime: EmbeddedRuntime;
  let p: EmbeddedProvider;

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-infill-'));
    copyFileSync(await tinyModelPath({ fim: true }), path.join(dir, 'tiny-fim.gguf'));
    copyFileSync(await tinyModelPath(), path.join(dir, 'tiny.gguf'));
    runtime = new EmbeddedRuntime({ gpu: false, maxThreads: 1, idleTimeoutMs: 0, modelsDir: dir });
    p = new EmbeddedProvider({ id: 'emb', kind: 'embedded', baseUrl: 'embedded:', local: true }, { ...deps, embedded: runtime });
  });
  after(() => runtime.dispose());

  it('suffix mode on a model with FIM tokens: generateInfillCompletion answers within the budget', async () => {
    const result = await p.complete({ model: 'tiny-fim', mode: 'suffix', prompt: 'hello ', suffix: ' world', maxTokens: 8, stop: [] });
    assert.equal(typeof result.text, 'string');
    assert.ok(result.inputTokens! > 0, 'prefix and suffix were evaluated');
    assert.ok(result.outputTokens! >= 1 && result.outputTokens! <= 9, `outputTokens ${result.outputTokens}`);
    assert.ok(result.finishReason === 'stop' || result.finishReason === 'length');
  });

  it('suffix mode on a model without FIM tokens: unsupported (not a crash, not garbage)', async () => {
    const error = await rejectsWith(
      p.complete({ model: 'tiny', mode: 'suffix', prompt: 'hello ', suffix: ' world', maxTokens: 4 }),
      'unsupported',
    );
    assert.match(error.message, /fill-in-the-middle tokens/);
    assert.equal(error.providerId, 'emb');
  });

  it('raw mode: the caller-built FIM string is evaluated as is, on any model', async () => {
    const result = await p.complete({
      model: 'tiny-fim',
      mode: 'raw',
      prompt: '<|fim_prefix|>hello <|fim_suffix|> world<|fim_middle|>',
      maxTokens: 4,
    });
    assert.equal(typeof result.text, 'string');
    // The control tokens are single special tokens, not spelled out (that would be ~15 tokens each way).
    assert.ok(result.inputTokens! <= 10, `inputTokens ${result.inputTokens}`);
    // Within the budget: node-llama-cpp's token meter counts up to one more token than generated in plain generation.
    assert.ok(result.outputTokens! <= 5, `outputTokens ${result.outputTokens}`);
    await rejectsWith(p.complete({ model: 'missing-model', mode: 'raw', prompt: 'x' }), 'modelMissing');
  });

  it('cancel: an aborted completion fails canceled and the child serves the next one', async () => {
    const controller = new AbortController();
    const pending = p.complete({
      model: 'tiny-fim',
      mode: 'suffix',
      prompt: 'hello ',
      suffix: ' world',
      maxTokens: 400,
      signal: controller.signal,
    });
    controller.abort();
    await rejectsWith(pending, 'canceled');
    const next = await p.complete({ model: 'tiny-fim', mode: 'suffix', prompt: 'code ', suffix: '', maxTokens: 2 });
    assert.ok(next.outputTokens! <= 3, `outputTokens ${next.outputTokens}`);
  });
});
