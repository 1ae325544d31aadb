/**
 * Secrets never reach a cloud request, and every request that left the machine is recorded (issue 12), against the
 * real router, providers and clients: the cloud test server records the bodies it received, the local one shows the
 * text arrives unchanged, `block` refuses, and the ledger counts redactions by kind without ever holding a value.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { SqliteLedger } from '../../src/core/usage/sqliteLedger';
import { RouteError, type RoutedChatEvent } from '../../src/core/routing/router';
import { privacyContext } from '../../src/core/routing/privacy';
import { dotEnvValues } from '../../src/core/routing/dotenv';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const KEY = 'sk-test-0123456789abcdefEGRESS';
let ollama: FixtureServer;
let cloud: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
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

// Built from pieces: nothing secret-shaped is committed verbatim.
const r = (n: number, alphabet = 'aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY') =>
  Array.from({ length: n }, (_, i) => alphabet[(i * 7 + 3) % alphabet.length]).join('');
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const PEM = ['-----BEGIN', 'RSA PRIVATE KEY-----'].join(' ');
const PEM_END = ['-----END', 'RSA PRIVATE KEY-----'].join(' ');

/** One sample per kind: the text a prompt would carry, and the secret value inside it. */
const SAMPLES: { kind: string; text: (v: string) => string; value: string }[] = [
  { kind: 'openai-api-key', value: `sk-${'proj-'}${r(48)}`, text: (v) => `const client = new OpenAI({ apiKey: "${v}" });` },
  { kind: 'anthropic-api-key', value: `sk-${'ant-'}api03-${r(60)}`, text: (v) => `ANTHROPIC_API_KEY=${v}` },
  { kind: 'google-api-key', value: `AI${'za'}Sy${r(33)}`, text: (v) => `fetch("https://x.googleapis.com/v1?key=${v}")` },
  { kind: 'xai-api-key', value: `xa${'i-'}${r(70)}`, text: (v) => `XAI = '${v}'` },
  { kind: 'github-token', value: `gh${'p_'}${r(36)}`, text: (v) => `git clone https://github.com/o/r # token ${v}` },
  { kind: 'gitlab-token', value: `gl${'pat-'}${r(20)}`, text: (v) => `export CI_TOKEN_VALUE=${v}` },
  { kind: 'slack-token', value: `xo${'xb-'}1234567890-${r(24)}`, text: (v) => `slack.post({ token: '${v}' })` },
  { kind: 'stripe-key', value: `sk${'_live_'}${r(24)}`, text: (v) => `stripe(${JSON.stringify(v)})` },
  { kind: 'aws-access-key-id', value: `AK${'IA'}${r(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`, text: (v) => `aws_access_key_id = ${v}` },
  { kind: 'aws-secret-access-key', value: `${r(30)}/${r(9)}`, text: (v) => `aws_secret_access_key = ${v}` },
  {
    kind: 'jwt',
    value: `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: '1234567890', name: 'x', iat: 1516239022 })}.${r(43)}`,
    text: (v) => `curl -H "x-session: ${v}" http://api`,
  },
  { kind: 'private-key', value: `${PEM}\n${r(64)}\n${r(64)}\n${PEM_END}`, text: (v) => `// deploy key\n${v}\n` },
];

function build(raw: Record<string, unknown>, options: { secretValues?: string[] } = {}) {
  const parsed = parseConfig({
    'switchyard.providers': [
      { id: 'local', kind: 'ollama', baseUrl: ollama.url },
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_TEST_KEY' },
    ],
    'switchyard.privacy': 'allow',
    ...raw,
  });
  assert.deepEqual(parsed.problems, []);
  const usage = new MemoryLedger();
  const sy = new Switchyard({
    config: parsed.config,
    secrets: { getApiKey: async (_id, env) => (env === 'SY_TEST_KEY' ? KEY : undefined) },
    privacy: (c) => privacyContext(c),
    usage,
    secretValues: () => options.secretValues ?? [],
  });
  return { sy, usage };
}

async function ask(sy: Switchyard, content: string, sources?: { path: string; startLine?: number; endLine?: number }[]) {
  let text = '';
  let route: Extract<RoutedChatEvent, { type: 'route' }>['route'] | undefined;
  for await (const ev of sy.router.chat({
    task: 'chat',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content },
    ],
    sources,
  })) {
    if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'route') route = ev.route;
  }
  return { text, route };
}

const sentTo = (s: FixtureServer, p: string) => JSON.stringify(s.requests.filter((q) => q.path === p).map((q) => q.body));

test('each secret kind is redacted in what the cloud receives, named by kind, and untouched in a local request', async () => {
  const toCloud = build({ 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } });
  const toLocal = build({ 'switchyard.tasks': { chat: ['local/qwen2.5-coder:7b'] } });
  for (const s of SAMPLES) {
    cloud.reset();
    ollama.reset();
    const prompt = `Why does this fail?\n${s.text(s.value)}\nThanks.`;
    await ask(toCloud.sy, prompt);
    const body = sentTo(cloud, '/v1/chat/completions');
    assert.ok(!body.includes(JSON.stringify(s.value).slice(1, -1)), `${s.kind}: the value reached the cloud`);
    assert.ok(body.includes(`[redacted: ${s.kind}]`), `${s.kind}: no placeholder in ${body.slice(0, 400)}`);
    assert.ok(body.includes('Why does this fail?'), 'the rest of the prompt is sent');
    await ask(toLocal.sy, prompt);
    assert.ok(
      sentTo(ollama, '/api/chat').includes(JSON.stringify(s.value).slice(1, -1)),
      `${s.kind}: a local candidate gets the text unchanged`,
    );
  }
  const records = toCloud.usage.egressRecords;
  assert.equal(records.length, SAMPLES.length);
  for (const [i, s] of SAMPLES.entries()) assert.deepEqual(records[i]!.redactions, { [s.kind]: 1 }, s.kind);
  assert.equal(toLocal.usage.egressRecords.length, 0, 'nothing local is recorded as egress');
  const all = JSON.stringify(records);
  for (const s of SAMPLES) assert.ok(!all.includes(JSON.stringify(s.value).slice(1, -1)), `${s.kind}: the ledger holds the value`);
});

test('the values of the workspace .env files are redacted as env-value; templates are not read', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-dotenv-'));
  fs.writeFileSync(path.join(root, '.env'), `DB_URL=postgres://app:${'Hunter2-'}${r(12)}@db/app\nPLAIN=hello-${r(10)}\n`);
  fs.mkdirSync(path.join(root, 'svc'));
  fs.writeFileSync(path.join(root, 'svc', '.env.local'), `export SESSION_SALT="${r(24)}"\n`);
  fs.writeFileSync(path.join(root, '.env.example'), `TEMPLATE_VALUE=example-${r(12)}\n`);
  const values = dotEnvValues([root]);
  assert.ok(values.some((v) => v.startsWith('postgres://')));
  assert.ok(values.includes(r(24)));
  assert.ok(!values.some((v) => v.startsWith('example-')), 'a .env.example holds placeholders, not secrets');
  const { sy, usage } = build({ 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } }, { secretValues: values });
  await ask(sy, `the salt is ${r(24)} and the greeting hello-${r(10)}`);
  const body = sentTo(cloud, '/v1/chat/completions');
  assert.ok(!body.includes(r(24)) && !body.includes(`hello-${r(10)}`), body);
  assert.ok(body.includes('[redacted: env-value]'));
  assert.equal(usage.egressRecords[0]!.redactions['env-value'], 2);
});

test('block refuses a cloud request that carries a secret: the next local candidate answers, or a policy error says why', async () => {
  const secret = SAMPLES[0]!;
  const prompt = secret.text(secret.value);
  const withLocal = build({
    'switchyard.redactSecrets': 'block',
    'switchyard.tasks': { chat: ['openai/gpt-4.1-mini', 'local/qwen2.5-coder:7b'] },
  });
  const { route } = await ask(withLocal.sy, prompt);
  assert.equal(route?.providerId, 'local');
  assert.match(route!.attempts[0]!.reason!, /carries secrets \(openai-api-key ×1\) and switchyard\.redactSecrets is "block"/);
  assert.equal(cloud.counts.total, 0, 'nothing reached the cloud');
  assert.equal(withLocal.usage.egressRecords.length, 0);

  const cloudOnly = build({ 'switchyard.redactSecrets': 'block', 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } });
  await assert.rejects(
    ask(cloudOnly.sy, prompt),
    (e: unknown) =>
      e instanceof RouteError && e.kind === 'policy' && /redactSecrets is "block"/.test(e.message) && !e.message.includes(secret.value),
  );
  assert.equal(cloud.counts.total, 0);
  // Without a secret the same request goes out.
  assert.equal((await ask(cloudOnly.sy, 'no secrets here')).route?.providerId, 'openai');

  const off = build({ 'switchyard.redactSecrets': 'off', 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } });
  cloud.reset();
  await ask(off.sy, prompt);
  assert.ok(sentTo(cloud, '/v1/chat/completions').includes(secret.value), '"off" sends the text as it is');
});

test('the egress record names the task, provider, model, host, bytes and files; embeddings through the router too', async () => {
  const { sy, usage } = build({ 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'], embed: ['openai/text-embedding-3-small'] } });
  await ask(sy, 'explain', [
    { path: 'src/a.ts', startLine: 3, endLine: 9 },
    { path: 'src/a.ts', startLine: 3, endLine: 9 },
    { path: 'README.md' },
  ]);
  const [rec] = usage.egressRecords;
  assert.equal(rec!.task, 'chat');
  assert.equal(rec!.providerId, 'openai');
  assert.equal(rec!.model, 'gpt-4.1-mini');
  assert.equal(rec!.host, '127.0.0.1');
  assert.equal(rec!.bytesSent, Buffer.byteLength('Be brief.') + Buffer.byteLength('explain'));
  assert.deepEqual(rec!.sources, [{ path: 'src/a.ts', startLine: 3, endLine: 9 }, { path: 'README.md' }]);

  const secret = SAMPLES[4]!;
  await sy.router.embed({ input: ['plain', secret.text(secret.value)], sources: [{ path: 'lib/x.ts', startLine: 1, endLine: 20 }] });
  const embedBody = sentTo(cloud, '/v1/embeddings');
  assert.ok(!embedBody.includes(secret.value) && embedBody.includes('[redacted: github-token]'));
  const e = usage.egressRecords.at(-1)!;
  assert.equal(e.task, 'embed');
  assert.deepEqual(e.redactions, { 'github-token': 1 });
});

test('the SQLite ledger keeps egress records with counts by kind, never a value', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-egress-'));
  const file = path.join(dir, 'usage.sqlite');
  const ledger = new SqliteLedger({ path: file });
  const { sy, usage } = build({ 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } });
  usage.pipe(ledger);
  for (const s of SAMPLES.slice(0, 4)) await ask(sy, s.text(s.value), [{ path: 'src/keys.ts', startLine: 1, endLine: 2 }]);
  ledger.close();
  const bytes =
    fs.readFileSync(file).toString('latin1') + (fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`).toString('latin1') : '');
  for (const s of SAMPLES.slice(0, 4)) {
    assert.ok(!bytes.includes(s.value), `${s.kind}: the value is in the ledger file`);
    assert.ok(bytes.includes(s.kind), `${s.kind}: the kind is recorded`);
  }
  assert.ok(bytes.includes('src/keys.ts'));
  const reopened = new SqliteLedger({ path: file });
  const list = reopened.egressList();
  reopened.close();
  assert.equal(list.length, 4);
  assert.deepEqual(
    list
      .map((e) => Object.keys(e.redactions))
      .flat()
      .sort(),
    SAMPLES.slice(0, 4)
      .map((s) => s.kind)
      .sort(),
  );
  assert.deepEqual(list[0]!.sources, [{ path: 'src/keys.ts', startLine: 1, endLine: 2 }]);
});

test('tool-call arguments in the history are scanned too: a cloud candidate gets them redacted, a local one unchanged', async () => {
  const s = SAMPLES[0]!;
  const messages = [
    { role: 'user' as const, content: 'deploy it' },
    {
      role: 'assistant' as const,
      content: '',
      toolCalls: [{ id: 'call_1', name: 'deploy', arguments: JSON.stringify({ apiKey: s.value, region: 'eu' }) }],
    },
    { role: 'tool' as const, content: 'ok', toolCallId: 'call_1' },
  ];
  const { sy, usage } = build({ 'switchyard.tasks': { chat: ['openai/gpt-4.1-mini'] } });
  for await (const _ of sy.router.chat({ task: 'chat', messages })) void _;
  const body = sentTo(cloud, '/v1/chat/completions');
  assert.ok(!body.includes(s.value), 'the key in the tool call reached the cloud');
  assert.ok(body.includes('[redacted: openai-api-key]') && body.includes('region'), body.slice(0, 600));
  assert.deepEqual(usage.egressRecords[0]!.redactions, { 'openai-api-key': 1 });
  assert.ok(JSON.stringify(messages).includes(s.value), "the caller's messages are not changed");
});
