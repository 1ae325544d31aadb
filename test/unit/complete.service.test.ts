/**
 * Completions end to end in core (issue 15): CompletionService → Router.complete → the real providers → fixture
 * servers that record what they received. Per endpoint (Ollama generate with suffix, raw FIM with raw: true, llama.cpp
 * /infill with input_extra, /v1/completions), the route (FIM-capable first under auto, instruct-only models skipped
 * with the reason, fallback, an abort never falls back), cancellation reaching the server, cache hits, privacy
 * (cloud only when the privacy policy AND switchyard.completion.allowCloud allow, redacted), usage without code, status.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CompletionService, type EditorContext } from '../../src/core/complete/service';
import { FIM_TEMPLATES } from '../../src/core/complete/templates';
import { parseConfig, type PrivacyMode } from '../../src/core/config/config';
import { privacyContext, type AskCloud } from '../../src/core/routing/privacy';
import { RouteError } from '../../src/core/routing/router';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const KEY = 'sk-test-0123456789abcdefCOMPLETE';
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

function at(text: string, offset: number, extra?: EditorContext['extra']): EditorContext {
  return {
    filePath: 'src/math/ops.ts',
    languageId: 'typescript',
    prefix: text.slice(0, offset),
    suffix: text.slice(offset),
    ...(extra ? { extra } : {}),
  };
}
const CTX = at(FILE, CURSOR);

let ollama: FixtureServer;
let llama: Awaited<ReturnType<typeof startLlamaCppServer>>;
let noFimLlama: Awaited<ReturnType<typeof startLlamaCppServer>>;
let compat: FixtureServer;
let cloud: FixtureServer;
let refused: number;
const disposers: (() => void)[] = [];

before(async () => {
  ollama = await startOllamaServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
    models: [
      { name: 'llama3.2:3b', contextLength: 8192 },
      { name: 'qwen2.5-coder:7b', contextLength: 32768, insert: true },
      { name: 'codellama:7b-code', contextLength: 16384 },
      { name: 'nomic-embed-text:latest', embedding: true },
    ],
  });
  llama = await startLlamaCppServer({ backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }), modelAlias: 'fixture-model.gguf' });
  noFimLlama = await startLlamaCppServer({ infill: false, modelAlias: 'plain-model.gguf' });
  compat = await startOpenAIServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
    models: [{ name: 'starcoder2-3b', completions: true }],
  });
  cloud = await startOpenAIServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
    apiKey: KEY,
    models: [{ name: 'codestral-2501', completions: true }],
  });
  refused = await closedPort();
});
after(async () => {
  for (const d of disposers) d();
  await Promise.all([ollama.close(), llama.close(), noFimLlama.close(), compat.close(), cloud.close()]);
});
beforeEach(() => {
  for (const s of [ollama, llama, noFimLlama, compat, cloud]) {
    s.reset();
    s.setBehaviour({ mode: 'ok' });
  }
});

interface Setup {
  complete: unknown[];
  privacy?: PrivacyMode;
  allowCloud?: boolean;
  askCloud?: AskCloud;
  settings?: Record<string, unknown>;
}

/** A core whose zero-config provider ids point at our fixtures or a closed port (never another test's server). */
function setup(s: Setup) {
  const down = `http://127.0.0.1:${refused}`;
  const usage = new MemoryLedger();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'ollama', kind: 'ollama', baseUrl: ollama.url },
      { id: 'llamacpp', kind: 'llamacpp', baseUrl: llama.url },
      { id: 'nofim', kind: 'llamacpp', baseUrl: noFimLlama.url },
      { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${compat.url}/v1` },
      { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      { id: 'down', kind: 'ollama', baseUrl: down },
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_COMPLETE_KEY' },
    ],
    'switchyard.tasks': { complete: s.complete },
    'switchyard.privacy': s.privacy ?? 'local-only',
    'switchyard.completion.allowCloud': s.allowCloud ?? false,
    ...s.settings,
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_COMPLETE_KEY' ? KEY : undefined) },
    privacy: (c) => privacyContext(c),
    askCloud: s.askCloud,
    usage,
  });
  const service = new CompletionService(sy, { usage, debounceMs: 0 });
  disposers.push(() => {
    service.dispose();
    sy.dispose();
  });
  return { sy, usage, service };
}

const generated = (server: FixtureServer, key: string) => server.requests.filter((r) => `${r.method} ${r.path}` === key);

/** Polls state the fixture server sets itself (a request arrived, a client went away). */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not reached`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('per endpoint, through the router', () => {
  it('Ollama with insert: /api/generate with prompt + suffix; then an exact cache hit and a typed-ahead hit send nothing', async () => {
    const { service, usage } = setup({ complete: ['ollama/qwen2.5-coder:7b'] });
    const first = await service.complete(CTX);
    assert.ok(first);
    assert.equal(first.text, 'a * b;');
    assert.equal(first.source, 'model');
    assert.deepEqual(first.route, { providerId: 'ollama', model: 'qwen2.5-coder:7b', local: true });
    const sent = generated(ollama, 'POST /api/generate');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.body.prompt, CTX.prefix);
    assert.equal(sent[0]!.body.suffix, '\n}\n');
    assert.equal(sent[0]!.body.raw, undefined);
    assert.deepEqual(sent[0]!.body.options.stop, [...FIM_TEMPLATES['qwen-coder'].stop, '\n']);

    const again = await service.complete(CTX);
    assert.equal(again?.source, 'cache');
    assert.equal(again?.text, 'a * b;');
    const typed = await service.complete(at(FILE.slice(0, CURSOR) + 'a *' + FILE.slice(CURSOR), CURSOR + 3));
    assert.equal(typed?.source, 'typedAhead');
    assert.equal(typed?.text, ' b;');
    assert.equal(generated(ollama, 'POST /api/generate').length, 1, 'the cache answered both');

    // The ledger: one request record for the task, and the shown/accepted events; never the code.
    service.shown(first);
    service.accepted(first, 'a *');
    const records = usage.records.filter((r) => r.task === 'complete');
    assert.equal(records.length, 1);
    assert.equal(records[0]!.outcome, 'ok');
    assert.equal(records[0]!.model, 'qwen2.5-coder:7b');
    assert.ok(records[0]!.ttftMs! >= 0);
    assert.deepEqual(
      usage.suggestionRecords.map((r) => [r.event, r.model, r.chars, r.lines, r.partial ?? false]),
      [
        ['shown', 'qwen2.5-coder:7b', 6, 1, false],
        ['accepted', 'qwen2.5-coder:7b', 3, 1, true],
      ],
    );
    const stored = JSON.stringify([usage.records, usage.suggestionRecords]);
    assert.ok(!stored.includes('a * b') && !stored.includes('number'), 'no code in the ledger');
  });

  it('Ollama without insert but a known family: the raw FIM string with raw: true', async () => {
    const { service } = setup({ complete: ['ollama/codellama:7b-code'] });
    const c = await service.complete(CTX);
    assert.equal(c?.text, 'a * b;');
    const body = generated(ollama, 'POST /api/generate').at(-1)!.body;
    assert.equal(body.raw, true);
    assert.equal(body.prompt, `<PRE> ${CTX.prefix} <SUF>\n}\n <MID>`);
    assert.equal('suffix' in body, false);
  });

  it('llama.cpp: /infill with input_prefix, input_suffix and the snippets as input_extra', async () => {
    const { service } = setup({ complete: ['llamacpp/fixture-model.gguf'] });
    const extra = [{ filename: 'src/math/sub.ts', text: 'export const sub = (a: number, b: number) => a - b;\n' }];
    const c = await service.complete(at(FILE, CURSOR, extra));
    assert.equal(c?.text, 'a * b;');
    assert.equal(c?.route.providerId, 'llamacpp');
    const body = generated(llama, 'POST /infill').at(-1)!.body;
    assert.equal(body.input_prefix, CTX.prefix);
    assert.equal(body.input_suffix, '\n}\n');
    assert.deepEqual(body.input_extra, extra);
    assert.ok(body.n_predict > 0);
    assert.ok(body.stop.includes('\n'));
  });

  it('OpenAI-compatible: /v1/completions with the family FIM string as the prompt', async () => {
    const { service } = setup({ complete: ['lmstudio/starcoder2-3b'] });
    const c = await service.complete(CTX);
    assert.equal(c?.text, 'a * b;');
    const body = generated(compat, 'POST /v1/completions').at(-1)!.body;
    assert.equal(body.model, 'starcoder2-3b');
    assert.equal(body.prompt, `<fim_prefix>${CTX.prefix}<fim_suffix>\n}\n<fim_middle>`);
    assert.equal(body.suffix, undefined);
    assert.ok(body.stop.includes('\n'));
  });
});

describe('the complete route', () => {
  it('auto: fill-in-the-middle models first; an instruct-only model is skipped with "no fill-in-the-middle", embeddings not listed', async () => {
    const { sy } = setup({ complete: ['auto'] });
    const plan = await sy.router.plan('complete');
    assert.equal(
      `${plan.candidate?.providerId}/${plan.candidate?.model}`,
      'ollama/qwen2.5-coder:7b',
      'the insert model before the one listed first',
    );
    const instruct = plan.skipped.find((s) => s.model === 'llama3.2:3b');
    assert.ok(instruct, JSON.stringify(plan.skipped));
    assert.match(instruct.reason, /^no fill-in-the-middle: /);
    assert.ok(!plan.skipped.some((s) => s.model.includes('embed')) && plan.candidate?.model !== 'nomic-embed-text:latest');
  });

  it('an instruct-only model named first is skipped with its reason and never asked; the next answers', async () => {
    const { sy, service } = setup({ complete: ['ollama/llama3.2:3b', 'ollama/qwen2.5-coder:7b'] });
    const result = await sy.router.complete({ prompt: (choice) => ({ mode: choice.mode, prompt: 'x', suffix: 'y' }) });
    assert.equal(result.model, 'qwen2.5-coder:7b');
    const skipped = result.route.attempts[0]!;
    assert.equal(skipped.model, 'llama3.2:3b');
    assert.equal(skipped.outcome, 'skipped');
    assert.equal(skipped.missing, 'fim');
    assert.match(skipped.reason!, /^no fill-in-the-middle: .*instruct or chat model/);
    assert.ok(!generated(ollama, 'POST /api/generate').some((r) => r.body.model === 'llama3.2:3b'));
    const c = await service.complete(CTX);
    assert.equal(c?.route.model, 'qwen2.5-coder:7b');
  });

  it('only instruct models: status says noModel with the reason, and complete rejects with it', async () => {
    const { service } = setup({ complete: ['ollama/llama3.2:3b'] });
    const status = await service.status();
    assert.equal(status.state, 'noModel');
    assert.match((status as { reason: string }).reason, /llama3\.2:3b: no fill-in-the-middle/);
    await assert.rejects(
      service.complete(CTX),
      (e: unknown) => e instanceof RouteError && e.kind === 'unsupported' && /no fill-in-the-middle/.test(e.message),
    );
    assert.equal(generated(ollama, 'POST /api/generate').length, 0);
  });

  it('fallback: a refused server, then a llama.cpp model without FIM tokens (501: unsupported, remembered), then the next answers', async () => {
    const { sy, service } = setup({ complete: ['down/qwen2.5-coder:7b', 'nofim/plain-model.gguf', 'ollama/qwen2.5-coder:7b'] });
    const c = await service.complete(CTX);
    assert.equal(c?.route.model, 'qwen2.5-coder:7b');
    assert.equal(c?.route.providerId, 'ollama');
    assert.equal(generated(noFimLlama, 'POST /infill').length, 1);
    const record = sy.config && (await sy.router.plan('complete'));
    const remembered = record.skipped.find((s) => s.providerId === 'nofim');
    assert.match(remembered?.reason ?? '', /no fill-in-the-middle: .*cannot fill in the middle/);
    assert.equal(remembered?.kind, 'unsupported');
    // The server that refused is not cooled down (another model there may fill in the middle), but not asked again.
    assert.equal(sy.router.health.coolingFor('nofim'), 0);
    await service.complete(at(FILE, CURSOR - 1));
    assert.equal(generated(noFimLlama, 'POST /infill').length, 1);
  });

  it('a 500 to one completion falls back without cooling the server down (the server answered: its other tasks and the next keystroke may use it); a 503 does cool it', async () => {
    const { sy, service } = setup({ complete: ['llamacpp/fixture-model.gguf', 'ollama/qwen2.5-coder:7b'] });
    llama.setBehaviour({ mode: 'error', status: 500 }, 'POST /infill');
    const first = await service.complete(CTX);
    assert.equal(first?.route.providerId, 'ollama');
    assert.equal(sy.router.health.coolingFor('llamacpp'), 0);
    llama.setBehaviour({ mode: 'ok' }, 'POST /infill');
    const next = await service.complete(at(FILE, CURSOR - 1));
    assert.equal(next?.route.providerId, 'llamacpp', 'the next request asks llama.cpp again');
    llama.setBehaviour({ mode: 'error', status: 503 }, 'POST /infill');
    const busy = await service.complete(at(FILE, CURSOR - 2));
    assert.equal(busy?.route.providerId, 'ollama');
    assert.ok(sy.router.health.coolingFor('llamacpp') > 0, 'a 503 (busy or loading) cools it down as for every task');
  });

  it('an abort never falls back: the hanging first candidate is disconnected and the second is never asked', async () => {
    const { sy } = setup({ complete: ['ollama/qwen2.5-coder:7b', 'llamacpp/fixture-model.gguf'] });
    await sy.router.plan('complete'); // discovery done: only /api/generate hangs
    ollama.setBehaviour({ mode: 'hang' }, 'POST /api/generate');
    const controller = new AbortController();
    const pending = sy.router.complete({
      prompt: (choice) => ({ mode: choice.mode, prompt: 'x', suffix: 'y' }),
      signal: controller.signal,
    });
    await until(() => (ollama.counts['POST /api/generate'] ?? 0) > 0, 'the request reached Ollama');
    controller.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof RouteError && e.kind === 'canceled');
    await until(() => ollama.aborted > 0, 'Ollama saw the client go away');
    assert.equal(llama.counts['POST /infill'] ?? 0, 0);
  });
});

describe('cancellation and the scheduler', () => {
  it('a superseded request is aborted at the server and resolves undefined; the newer one answers', async () => {
    const { service, sy } = setup({ complete: ['ollama/qwen2.5-coder:7b'] });
    await sy.router.plan('complete');
    ollama.setBehaviour({ mode: 'hang' }, 'POST /api/generate');
    const first = service.complete(CTX);
    await until(() => (ollama.counts['POST /api/generate'] ?? 0) === 1, 'the first request reached Ollama');
    ollama.setBehaviour({ mode: 'ok' }, 'POST /api/generate');
    const second = service.complete(at(FILE, CURSOR - 1));
    assert.equal(await first, undefined);
    await until(() => ollama.aborted === 1, 'Ollama saw the superseded request go away');
    const answer = await second;
    assert.equal(answer?.source, 'model');
    assert.equal(ollama.counts['POST /api/generate'], 2);
  });

  it('disabled, snoozed or an excluded language: nothing is asked; status says which', async () => {
    const { service, sy } = setup({
      complete: ['ollama/qwen2.5-coder:7b'],
      settings: { 'switchyard.completion.excludeLanguages': ['markdown'] },
    });
    const seen: string[] = [];
    service.onDidChangeStatus((s) => seen.push(s.state));
    const on = await service.status();
    assert.deepEqual(on.state === 'enabled' && on.route, { providerId: 'ollama', model: 'qwen2.5-coder:7b', local: true });
    assert.equal(await service.complete({ ...CTX, languageId: 'markdown' }), undefined);
    assert.ok(service.isExcluded('Markdown'));
    service.snooze(60_000);
    assert.equal((await service.status()).state, 'snoozed');
    assert.equal(await service.complete(CTX), undefined);
    service.resume();
    sy.setConfig(parseConfig({ ...rawOf(sy), 'switchyard.completion.enabled': false }).config);
    assert.deepEqual(await service.status(), { state: 'disabled' });
    assert.equal(await service.complete(CTX), undefined);
    assert.equal(ollama.counts['POST /api/generate'] ?? 0, 0);
    assert.deepEqual(seen.slice(0, 2), ['enabled', 'snoozed']);
    assert.equal(seen.at(-1), 'disabled');
  });
});

/** The raw settings of a setup again (for setConfig with one key changed). */
function rawOf(sy: Switchyard): Record<string, unknown> {
  return {
    'switchyard.providers': sy.config.providers,
    'switchyard.tasks': { complete: sy.config.tasks.complete.map((c) => c.ref) },
    'switchyard.privacy': sy.config.privacy,
  };
}

describe('privacy: a cloud candidate serves completions only when the policy and completion.allowCloud both allow', () => {
  const GH = `gh${'p_'}${'aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xYaB3d'}`;
  const secretFile = `const token = "${GH}";\n${FILE}`;
  const cases: { privacy: PrivacyMode; allowCloud: boolean; used: boolean }[] = [
    { privacy: 'allow', allowCloud: true, used: true },
    { privacy: 'allow', allowCloud: false, used: false },
    { privacy: 'local-only', allowCloud: true, used: false },
    { privacy: 'local-only', allowCloud: false, used: false },
  ];
  for (const c of cases) {
    it(`privacy ${c.privacy}, allowCloud ${c.allowCloud}: cloud ${c.used ? 'answers after the refused local server (redacted, recorded)' : 'is never contacted'}`, async () => {
      const { service, usage } = setup({
        complete: ['down/qwen2.5-coder:7b', 'cloud/codestral-2501'],
        privacy: c.privacy,
        allowCloud: c.allowCloud,
      });
      const ctx = at(secretFile, secretFile.indexOf('return ', secretFile.indexOf('mul')) + 'return '.length);
      if (c.used) {
        const answer = await service.complete(ctx);
        assert.deepEqual(answer?.route, { providerId: 'cloud', model: 'codestral-2501', local: false });
        const body = generated(cloud, 'POST /v1/completions').at(-1)!.body;
        assert.ok(body.prompt.startsWith('[SUFFIX]'), 'codestral raw FIM');
        assert.ok(!body.prompt.includes(GH), 'the secret was redacted');
        const egress = usage.egressRecords.filter((e) => e.task === 'complete');
        assert.equal(egress.length, 1);
        assert.equal(egress[0]!.redactions['github-token'], 1);
        assert.deepEqual(
          egress[0]!.sources[0],
          { path: 'src/math/ops.ts', startLine: 1, endLine: 8 },
          'the file from its first line to the closing brace after the cursor',
        );
      } else {
        await assert.rejects(service.complete(ctx), RouteError);
        assert.equal(cloud.counts.total ?? 0, 0, 'nothing was sent to the cloud server');
        const plan = await service.status();
        assert.equal(plan.state, 'noModel');
        if (!c.allowCloud && c.privacy === 'allow') assert.match((plan as { reason: string }).reason, /switchyard\.completion\.allowCloud/);
      }
    });
  }

  it('privacy "ask": asked only when allowCloud is on; a yes uses the cloud, with allowCloud off nobody is asked', async () => {
    const asked: string[] = [];
    const askCloud: AskCloud = async (r) => {
      asked.push(`${r.task}:${r.providerId}`);
      return true;
    };
    const off = setup({ complete: ['cloud/codestral-2501'], privacy: 'ask', allowCloud: false, askCloud });
    await assert.rejects(off.service.complete(CTX), RouteError);
    assert.deepEqual(asked, []);
    const on = setup({ complete: ['cloud/codestral-2501'], privacy: 'ask', allowCloud: true, askCloud });
    assert.equal((await on.service.complete(CTX))?.route.providerId, 'cloud');
    assert.deepEqual(asked, ['complete:cloud']);
  });
});
