/**
 * Issue 12's proof on the terminal: every `switchyard` command and the gateway, run as a user runs them (the built
 * dist/cli.js), under privacy `local-only`, with a local Ollama test server whose /api/tags lists cloud models (a
 * `-cloud` tag with `remote_host`, and a copy under a local-looking name), a cloud OpenAI-compatible test server and
 * a remote Ollama marked `"local": false`. Zero requests may reach the cloud servers, and no cloud model is ever chosen.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';
import { CLI, runCli } from '../fixtures/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-privacy-'));
const KEY = 'sk-test-0123456789abcdefCLIPRIVACY';
let ollama: FixtureServer;
let remoteOllama: FixtureServer;
let cloud: FixtureServer;
const CLOUD_MODELS = ['gpt-oss:120b-cloud', 'team-coder:latest'];

before(async () => {
  ollama = await startOllamaServer({
    backend: scriptedBackend({ dims: 16 }),
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'nomic-embed-text:latest', embedding: true, contextLength: 8192 },
      { name: 'gpt-oss:120b-cloud', remote: { host: 'https://ollama.com:443', model: 'gpt-oss:120b' } },
      { name: 'team-coder:latest', remote: { host: 'https://ollama.com:443', model: 'qwen3-coder:480b' } },
    ],
  });
  remoteOllama = await startOllamaServer({ backend: scriptedBackend({ dims: 16 }) });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ dims: 16, tokens: ['Cloud'] }), apiKey: KEY });
});
after(async () => {
  await ollama.close();
  await remoteOllama.close();
  await cloud.close();
});

const config = path.join(dir, 'config.json');
const env = { OPENAI_API_KEY: KEY, XDG_CACHE_HOME: path.join(dir, 'cache'), SWITCHYARD_GATEWAY_TOKEN: '' };
fs.writeFileSync(
  config,
  JSON.stringify({
    'switchyard.privacy': 'local-only',
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: 'http://127.0.0.1:1' },
      // The cloud test server runs on loopback: marked as the cloud it stands for.
      { id: 'openai', kind: 'openai-compatible', preset: 'openai', baseUrl: 'http://127.0.0.1:1/v1', local: false },
      { id: 'far', kind: 'ollama', baseUrl: 'http://127.0.0.1:1', local: false },
    ],
    'switchyard.tasks': {
      chat: ['box/gpt-oss:120b-cloud', 'openai/gpt-4.1-mini', 'box/team-coder', 'auto'],
      explain: ['far/qwen2.5-coder:7b', 'box/qwen2.5-coder:7b'],
      embed: ['openai/text-embedding-3-small', 'auto'],
    },
  }),
);

/** The config's URLs are placeholders until the servers are up. */
function writeConfig(): void {
  const c = JSON.parse(fs.readFileSync(config, 'utf8'));
  c['switchyard.providers'][0].baseUrl = ollama.url;
  c['switchyard.providers'][1].baseUrl = `${cloud.url}/v1`;
  c['switchyard.providers'][2].baseUrl = remoteOllama.url;
  fs.writeFileSync(config, JSON.stringify(c));
}

const run = (args: string[], input?: string) => runCli([...args], { env, input });
const modelsSent = () =>
  ollama.requests
    .filter((r) => ['/api/chat', '/api/generate', '/api/embed', '/api/embeddings'].includes(r.path))
    .map((r) => String((r.body as { model?: string }).model));

function assertNothingLeft(what: string): void {
  assert.equal(cloud.counts.total, 0, `${what}: the cloud server got ${JSON.stringify(cloud.requests.map((r) => r.path))}`);
  assert.equal(remoteOllama.counts.total, 0, `${what}: the remote Ollama got ${JSON.stringify(remoteOllama.requests.map((r) => r.path))}`);
  const cloudModel = modelsSent().find((m) => CLOUD_MODELS.includes(m) || m === 'team-coder');
  assert.equal(cloudModel, undefined, `${what}: the cloud model ${cloudModel} got a prompt`);
}

test(
  'under local-only every CLI command and the gateway leave the cloud servers untouched and never choose a cloud model',
  { timeout: 120_000 },
  async () => {
    writeConfig();
    const cfg = ['--config', config];

    const models = await run(['models', ...cfg, '--json']);
    assert.equal(models.code, 0, models.stderr);
    const rows = JSON.parse(models.stdout) as { id: string; models: { id: string; remoteHost?: string }[] }[];
    const box = rows.find((r) => r.id === 'box')!;
    assert.equal(box.models.find((m) => m.id === 'gpt-oss:120b-cloud')?.remoteHost, 'ollama.com', 'models marks the cloud model');
    assertNothingLeft('models');

    for (const task of ['chat', 'explain', 'embed']) {
      const route = await run(['route', task, ...cfg, '--json']);
      assert.equal(route.code, 0, route.stderr);
      const plan = JSON.parse(route.stdout) as { candidate: { provider: string; model: string; local: boolean } | null };
      assert.equal(plan.candidate?.local, true, `${task}: ${route.stdout}`);
      assert.ok(!CLOUD_MODELS.includes(plan.candidate!.model));
    }
    assertNothingLeft('route');

    const ask = await run(['ask', 'hello', ...cfg, '--allow-cloud']);
    assert.equal(ask.code, 0, ask.stderr);
    assert.match(ask.stderr, /answered by box\/qwen2\.5-coder:7b \(local\)/);
    const explain = await run(['ask', '--task', 'explain', 'why', ...cfg, '--allow-cloud']);
    assert.equal(explain.code, 0, explain.stderr);
    assertNothingLeft('ask');

    const root = fs.mkdtempSync(path.join(dir, 'proj-'));
    fs.writeFileSync(path.join(root, 'a.ts'), 'export function parseHeader(line: string) {\n  return line.split(":");\n}\n');
    const db = path.join(dir, 'index.sqlite');
    const index = await run(['index', root, '--db', db, ...cfg]);
    assert.equal(index.code, 0, index.stderr);
    assert.match(index.stdout, /box\/nomic-embed-text:latest/);
    const search = await run(['search', root, 'parse header', '--db', db, ...cfg, '--json']);
    assert.equal(search.code, 0, search.stderr);
    assertNothingLeft('index and search');

    for (const cmd of [
      ['pull', 'qwen2.5-coder:1.5b', '--provider', 'far'],
      ['rm', 'qwen2.5-coder:7b', '--provider', 'far'],
    ]) {
      const r = await run([...cmd, ...cfg]);
      assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /far is a cloud provider and privacy is local-only: nothing was sent to it/);
    }
    assertNothingLeft('pull and rm');

    // The gateway: chat, embeddings and the model list, with the real openai client.
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--token', 'tok-privacy-test', ...cfg], {
      env: { ...process.env, ...env },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const line = out.split('\n')[0];
          if (out.includes('\n') && line) resolve(line.trim());
        });
        child.on('close', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const client = new OpenAI({ baseURL: url, apiKey: 'tok-privacy-test', maxRetries: 0 });
      const listed = (await client.models.list()).data.map((m) => m.id);
      assert.ok(
        !listed.some(
          (id) =>
            CLOUD_MODELS.some((c) => id.endsWith(c)) || id.endsWith('team-coder') || id.startsWith('openai/') || id.startsWith('far/'),
        ),
        `the gateway lists ${listed.join(', ')}`,
      );
      const chat = await client.chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(chat.model, 'box/qwen2.5-coder:7b');
      const stream = await client.chat.completions.create({
        model: 'switchyard/explain',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      for await (const _ of stream) void _;
      const emb = await client.embeddings.create({ model: 'switchyard/embed', input: ['a', 'b'] });
      assert.equal(emb.data.length, 2);
      await assert.rejects(
        client.chat.completions.create({ model: 'box/gpt-oss:120b-cloud', messages: [{ role: 'user', content: 'hi' }] }),
      );
    } finally {
      child.kill('SIGTERM');
    }
    assertNothingLeft('the gateway');
    assert.ok(modelsSent().includes('qwen2.5-coder:7b'), 'the local model did answer');
  },
);
