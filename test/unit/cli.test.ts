/**
 * The built `switchyard` command (dist/cli.js), run as a user would, against the test servers.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import { CLI, runCli, type CliResult } from '../fixtures/cli';

const KEY = 'sk-cli-test-abcdefghijklmnop';
let ollama: FixtureServer;
let cloud: FixtureServer;
let refused: number;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-'));

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['from', ' the', ' cloud'] }), apiKey: KEY });
  refused = await closedPort();
});
after(async () => {
  await ollama.close();
  await cloud.close();
});
beforeEach(() => {
  ollama.reset();
  cloud.reset();
});

function configFile(settings: Record<string, unknown>): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(settings));
  return file;
}

function providers() {
  return [
    { id: 'local', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
    { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_CLI_KEY' },
    { id: 'up', kind: 'ollama', baseUrl: ollama.url },
  ];
}

function run(args: string[], input?: string): Promise<CliResult> {
  return runCli(args, { env: { SY_CLI_KEY: KEY }, input });
}

test('ask falls back from a refused local port to the cloud test server and says so on stderr', async () => {
  const cfg = configFile({
    'switchyard.providers': providers(),
    'switchyard.tasks': { chat: ['local/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'] },
    'switchyard.privacy': 'ask',
  });
  const r = await run(['ask', '--config', cfg, '--allow-cloud', 'hello there']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'from the cloud\n');
  assert.match(r.stderr, /route: chat answered by cloud\/gpt-4\.1-mini \(cloud\) after fallback/);
  assert.match(r.stderr, /failed local\/qwen2\.5-coder:7b: unreachable/);
  assert.match(r.stderr, /usage: chat ok via cloud\/gpt-4\.1-mini/);
  assert.equal(cloud.counts['POST /v1/chat/completions'], 1);
  assert.ok(!r.stderr.includes(KEY) && !r.stdout.includes(KEY));
});

test('local-only refuses the cloud with exit 1 and one line naming what to fix; zero cloud requests', async () => {
  const cfg = configFile({
    'switchyard.providers': providers(),
    'switchyard.tasks': { chat: ['local/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'] },
    'switchyard.privacy': 'local-only',
  });
  const r = await run(['ask', '--config', cfg, '--allow-cloud', 'hello']);
  assert.equal(r.code, 1);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^switchyard: unreachable: No model could answer chat: .*privacy is local-only/);
  assert.equal(cloud.counts.total ?? 0, 0);
});

test('privacy "ask" without --allow-cloud refuses cloud candidates', async () => {
  const cfg = configFile({ 'switchyard.providers': providers(), 'switchyard.tasks': { chat: ['cloud/gpt-4.1-mini'] } });
  const r = await run(['ask', '--config', cfg, 'hello']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--allow-cloud/);
  assert.equal(cloud.counts.total ?? 0, 0);
});

test('ask reads the prompt from stdin and takes --task', async () => {
  const cfg = configFile({ 'switchyard.providers': providers(), 'switchyard.tasks': { summarize: ['up/qwen2.5-coder:7b'] } });
  const r = await run(['ask', '--task', 'summarize', '--config', cfg], 'summarize this please');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Hello from the test server.\n');
  const sent = ollama.requests.find((q) => q.path === '/api/chat')?.body as { messages: { content: string }[] };
  assert.equal(sent.messages.at(-1)?.content, 'summarize this please');
});

test('route --json prints the contract: candidate and skipped with reasons', async () => {
  const cfg = configFile({
    'switchyard.providers': providers(),
    'switchyard.tasks': { chat: ['local/qwen2.5-coder:7b', 'up/missing:1b', 'up/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'] },
    'switchyard.privacy': 'local-only',
  });
  const r = await run(['route', 'chat', '--config', cfg, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.candidate, { provider: 'up', model: 'qwen2.5-coder:7b', local: true });
  assert.equal(out.task, 'chat');
  const reasons = Object.fromEntries(
    out.skipped.map((s: { provider: string; model: string; reason: string }) => [`${s.provider}/${s.model}`, s.reason]),
  );
  assert.match(reasons['local/qwen2.5-coder:7b'], /ECONNREFUSED|cannot reach/);
  assert.match(reasons['up/missing:1b'], /not on up/);
  assert.match(reasons['cloud/gpt-4.1-mini'], /local-only/);
  assert.equal(cloud.counts.total ?? 0, 0);
});

test('models --json lists providers, health and discovered models', async () => {
  const cfg = configFile({ 'switchyard.providers': providers(), 'switchyard.privacy': 'allow' });
  const r = await run(['models', '--config', cfg, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { id: string; healthy: boolean; models: { id: string; contextLength?: number }[] }[];
  const up = rows.find((x) => x.id === 'up')!;
  assert.equal(up.healthy, true);
  assert.deepEqual(up.models.map((m) => m.id).sort(), ['nomic-embed-text:latest', 'qwen2.5-coder:7b']);
  assert.equal(up.models.find((m) => m.id === 'qwen2.5-coder:7b')?.contextLength, 32768);
  assert.equal(rows.find((x) => x.id === 'local')?.healthy, false);
});

test('usage and configuration errors exit 2 with a reason', async () => {
  const bad = await run(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
  const missing = await run(['ask', '--config', path.join(dir, 'nope.json'), 'x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read --config .*nope\.json: ENOENT/);
  const broken = path.join(dir, 'broken.json');
  writeFileSync(broken, '{ "switchyard.privacy": ');
  const notJson = await run(['route', 'chat', '--config', broken]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /not valid JSON/);
  const unknownTask = await run(['route', 'dance', '--config', configFile({})]);
  assert.equal(unknownTask.code, 2);
  assert.match(unknownTask.stderr, /Unknown task or model name "dance"/);
  const noPrompt = await run(['ask', '--config', configFile({})], '   ');
  assert.equal(noPrompt.code, 2);
});

test('an invalid setting is a configuration error naming the key (exit 2, one line); nothing runs', async () => {
  const cfg = configFile({
    'switchyard.providers': providers(),
    'switchyard.tasks': { chat: ['up/qwen2.5-coder:7b'] },
    'switchyard.privacy': 'maybe',
  });
  const r = await run(['ask', '--config', cfg, 'hi']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^switchyard: invalid setting in --config \S+: switchyard\.privacy: "maybe" is not one of/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(ollama.counts.total ?? 0, 0);
});
