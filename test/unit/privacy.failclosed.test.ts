/**
 * Privacy holes of issue 12, each against the real router, providers and clients: invalid privacy settings fail
 * closed (local-only for everything, one message naming the key), `*.localhost` is not taken for loopback, Ollama
 * cloud models (by name or by the `remote_host` discovery reports) are cloud everywhere, and requests that are not
 * routed tasks (pull, delete) obey the policy.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { RouteError, type RoutedChatEvent } from '../../src/core/routing/router';
import { isLocalUrl, privacyContext } from '../../src/core/routing/privacy';
import { ollamaCloudHost, runsLocally } from '../../src/core/providers/cloudModels';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const KEY = 'sk-test-0123456789abcdefFAILCLOSED';
let ollama: FixtureServer;
let cloud: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({
    backend: scriptedBackend(),
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'gpt-oss:120b-cloud', remote: { host: 'https://ollama.com:443', model: 'gpt-oss:120b' } },
      // A copy of a cloud model under a local-looking name: only discovery can tell.
      { name: 'team-coder:latest', remote: { host: 'https://ollama.com:443', model: 'qwen3-coder:480b' } },
    ],
  });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud'] }), apiKey: KEY });
});
after(async () => {
  await ollama.close();
  await cloud.close();
});
beforeEach(() => {
  ollama.reset();
  cloud.reset();
});

function build(raw: Record<string, unknown>, askCloud?: () => Promise<boolean>) {
  const parsed = parseConfig({
    'switchyard.providers': [
      { id: 'local', kind: 'ollama', baseUrl: ollama.url },
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
    ],
    ...raw,
  });
  const usage = new MemoryLedger();
  const sy = new Switchyard({
    config: parsed.config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_TEST_KEY' ? KEY : undefined) },
    privacy: (c) => privacyContext(c),
    askCloud,
    usage,
  });
  return { sy, usage, problems: parsed.problems, config: parsed.config };
}

async function answer(events: AsyncIterable<RoutedChatEvent>) {
  let text = '';
  let route: Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined;
  for await (const ev of events) {
    if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'route') route = ev.route;
  }
  return { text, route };
}

const chatModels = (s: FixtureServer) => s.requests.filter((r) => r.path === '/api/chat').map((r) => (r.body as { model?: string }).model);

test('an invalid privacy value means local-only (not the default "ask"), with one message naming the key', async () => {
  for (const bad of ['local_only', 'Allow', 3, null, { mode: 'allow' }]) {
    const yes = async () => true; // what --allow-cloud or a user clicking Allow would say
    const { sy, problems, config } = build(
      { 'switchyard.privacy': bad, 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini', 'local/qwen2.5-coder:7b'] } },
      yes,
    );
    assert.equal(config.privacy, 'local-only', JSON.stringify(bad));
    assert.ok(config.privacyLock);
    const locks = problems.filter((p) => /local-only until this is fixed/.test(p.message));
    assert.equal(locks.length, 1, JSON.stringify(problems));
    assert.equal(locks[0]!.key, 'switchyard.privacy');
    const { route } = await answer(sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(route?.providerId, 'local');
    assert.match(route!.attempts[0]!.reason!, /privacy setting is invalid/);
    assert.equal(cloud.counts.total, 0, `nothing reaches the cloud server for privacy ${JSON.stringify(bad)}`);
  }
});

test('an invalid "local" flag on a provider or a localHosts entry that is not a host name locks local-only', async () => {
  const cases: Record<string, unknown>[] = [
    {
      'switchyard.providers': [
        { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: 'no', apiKeyEnv: 'SY_TEST_KEY' },
      ],
    },
    { 'switchyard.localHosts': ['http://gpu-box:11434'] },
    { 'switchyard.localHosts': ['gpu box'] },
    { 'switchyard.localHosts': [42] },
    { 'switchyard.localHosts': 'gpu-box' },
    { 'switchyard.workspaceCloudOptOut': 'yes' },
  ];
  for (const raw of cases) {
    const { sy, config, problems } = build({
      'switchyard.privacy': 'allow',
      'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] },
      ...raw,
    });
    assert.equal(config.privacy, 'local-only', JSON.stringify(raw));
    assert.ok(
      problems.some(
        (p) =>
          /local-only until this is fixed/.test(p.message) && /switchyard\.(providers|localHosts|workspaceCloudOptOut)/.test(p.message),
      ),
      JSON.stringify(problems),
    );
    await assert.rejects(
      answer(sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] })),
      (e: unknown) => e instanceof RouteError && e.kind === 'policy',
    );
  }
  assert.equal(cloud.counts.total, 0);
  // Valid entries stay valid.
  const ok = build({ 'switchyard.privacy': 'allow', 'switchyard.localHosts': ['gpu-box.lan', '192.168.1.20', '[fe80::1]', 'GPU-BOX'] });
  assert.equal(ok.config.privacy, 'allow');
  assert.equal(ok.config.privacyLock, undefined);
  assert.deepEqual(ok.problems, []);
});

test('*.localhost names are not taken for loopback (their lookup may leave the machine); localHosts may still list them', () => {
  assert.ok(isLocalUrl('http://localhost:11434'));
  assert.ok(!isLocalUrl('http://ollama.localhost:11434'));
  assert.ok(!isLocalUrl('http://a.b.localhost'));
  assert.ok(isLocalUrl('http://ollama.localhost:11434', ['ollama.localhost']));
});

test('Ollama cloud models are recognised by their tag', () => {
  for (const m of ['gpt-oss:120b-cloud', 'qwen3-coder:480b-cloud', 'glm-4.6:cloud', 'x:CLOUD'])
    assert.equal(ollamaCloudHost(m), 'ollama.com', m);
  for (const m of ['qwen2.5-coder:7b', 'cloud', 'cloudy:latest', 'soundcloud:7b', 'model:cloudless'])
    assert.equal(ollamaCloudHost(m), undefined, m);
});

test('one rule says whether a model runs locally (router, settings panel badge, CLI): local provider and not a cloud model', () => {
  const ollamaLocal = { kind: 'ollama' as const, local: true };
  assert.equal(runsLocally(ollamaLocal, 'qwen2.5-coder:7b'), true);
  assert.equal(runsLocally(ollamaLocal, 'gpt-oss:120b-cloud'), false, 'by tag');
  assert.equal(runsLocally(ollamaLocal, 'team-coder:latest', { remoteHost: 'ollama.com' }), false, 'by discovery');
  assert.equal(runsLocally({ kind: 'ollama', local: false }, 'qwen2.5-coder:7b'), false);
  assert.equal(runsLocally({ kind: 'openai-compatible', local: true }, 'model:cloud'), true, "the tag rule is Ollama's");
});

test('auto never picks an Ollama cloud model, under any privacy mode', async () => {
  for (const privacy of ['local-only', 'allow']) {
    const { sy } = build({ 'switchyard.privacy': privacy, 'switchyard.tasks': { chat: ['auto'] } });
    const plan = await sy.router.plan('chat');
    assert.equal(plan.candidate?.model, 'qwen2.5-coder:7b');
    assert.ok(!plan.skipped.some((s) => /cloud|team-coder/.test(s.model)), JSON.stringify(plan.skipped));
    const { route } = await answer(sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(route?.model, 'qwen2.5-coder:7b');
    assert.equal(route?.local, true);
  }
  assert.deepEqual([...new Set(chatModels(ollama))], ['qwen2.5-coder:7b']);
});

test('an Ollama cloud model named explicitly is cloud: refused under local-only, asked for under ask, recorded as cloud', async () => {
  for (const model of ['gpt-oss:120b-cloud', 'team-coder']) {
    ollama.reset();
    const strict = build({
      'switchyard.privacy': 'local-only',
      'switchyard.tasks': { chat: [`local/${model}`, 'local/qwen2.5-coder:7b'] },
    });
    const plan = await strict.sy.router.plan('chat');
    assert.equal(plan.candidate?.model, 'qwen2.5-coder:7b', model);
    assert.deepEqual(
      plan.skipped.map((s) => [s.model, s.local, s.kind]),
      [[model, false, 'policy']],
    );
    const { route } = await answer(strict.sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(route?.model, 'qwen2.5-coder:7b');
    assert.deepEqual(chatModels(ollama), ['qwen2.5-coder:7b'], 'under local-only the cloud model never got the prompt');

    let asked = 0;
    const asking = build({ 'switchyard.privacy': 'ask', 'switchyard.tasks': { chat: [`local/${model}`] } }, async () => {
      asked++;
      return true;
    });
    const allowed = await answer(asking.sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(asked, 1, 'the consent question came first');
    assert.equal(allowed.route?.local, false);
    assert.equal(asking.usage.records.at(-1)?.local, false, 'the ledger counts it as cloud');
  }
});

test('pull and delete obey the policy: a provider marked cloud is refused under local-only and asked for under ask', async () => {
  const remote = { 'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url, local: false }] };
  const strict = build({ ...remote, 'switchyard.privacy': 'local-only' });
  const refused = await strict.sy.router.mayContact('box', 'pull');
  assert.equal(refused.ok, false);
  assert.match((refused as { reason: string }).reason, /box is a cloud provider and privacy is local-only/);
  let asked = 0;
  const ask = build({ ...remote, 'switchyard.privacy': 'ask' }, async () => {
    asked++;
    return false;
  });
  assert.equal((await ask.sy.router.mayContact('box', 'pull')).ok, false);
  assert.equal(asked, 1);
  assert.equal((await build({ ...remote, 'switchyard.privacy': 'allow' }).sy.router.mayContact('box', 'pull')).ok, true);
  assert.equal((await build({ 'switchyard.privacy': 'local-only' }).sy.router.mayContact('local', 'pull')).ok, true);
  assert.equal(ollama.counts.total, 0, 'deciding contacts nobody');
});
