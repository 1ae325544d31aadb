/**
 * `switchyard serve` as a user runs it: the built dist/cli.js with --port 0, driven by the openai client and curl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-serve-'));
let ollama: FixtureServer;
let oai: FixtureServer;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  oai = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['From', ' oai'] }) });
});
after(async () => {
  await ollama.close();
  await oai.close();
});

function settings(fastTask: string): string {
  return JSON.stringify({
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
      { id: 'oai', kind: 'openai-compatible', baseUrl: `${oai.url}/v1` },
    ],
    'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'], explain: ['oai/gpt-4.1-mini'], embed: ['box/nomic-embed-text:latest'] },
    'switchyard.aliases': { fast: fastTask },
  });
}

interface Served {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `switchyard serve` and waits for its first stdout lines. */
async function startServe(args: string[], env: Record<string, string> = {}, wantLines = 1): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, SWITCHYARD_GATEWAY_TOKEN: '', ...env } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const lines = await new Promise<string[]>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const ls = out.split('\n');
      if (ls.length > wantLines) resolve(ls.slice(0, wantLines));
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { child, lines, stderr: () => err, exited };
}

test('serve --port 0 prints its URL first, serves chat and embeddings, and follows an edited --config without a restart', async () => {
  const cfg = path.join(dir, 'settings.json');
  writeFileSync(cfg, settings('chat'));
  const db = path.join(dir, 'usage.sqlite');
  const token = 'serve-test-token-abcdef';
  const s = await startServe(['--port', '0', '--config', cfg, '--token', token, '--db', db]);
  try {
    const url = s.lines[0]!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.notEqual(Number(new URL(url).port), 0);
    const client = new OpenAI({ baseURL: url, apiKey: token, maxRetries: 0 });
    const a = await client.chat.completions.create({ model: 'switchyard/fast', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(a.choices[0]!.message.content, 'Hello from the test server.');
    const e = await client.embeddings.create({ model: 'switchyard/embed', input: 'x' });
    assert.equal(e.data[0]!.embedding.length, 8);

    writeFileSync(cfg, settings('explain'));
    // The watcher re-reads the file; poll until the alias follows.
    let model = '';
    for (let i = 0; i < 100 && model !== 'oai/gpt-4.1-mini'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      model = (await client.chat.completions.create({ model: 'switchyard/fast', messages: [{ role: 'user', content: 'hi' }] })).model;
    }
    assert.equal(model, 'oai/gpt-4.1-mini');

    const curl = spawnSync('curl', ['-sS', '-w', '\n%{http_code}', `${url}/models`], { encoding: 'utf8' });
    assert.match(curl.stdout, /\n401$/, 'no token, no answer');
    const ok = spawnSync('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, `${url}/models`], { encoding: 'utf8' });
    assert.ok(JSON.parse(ok.stdout).data.some((m: { id: string }) => m.id === 'switchyard/fast'));
  } finally {
    s.child.kill('SIGTERM');
  }
  assert.equal(await s.exited, 0, s.stderr());
  const log = s.stderr();
  assert.match(log, /gateway chat: switchyard\/fast → box\/qwen2\.5-coder:7b/);
  assert.match(log, /gateway chat: switchyard\/fast → oai\/gpt-4\.1-mini/);
  assert.ok(!log.includes(token), 'the token never reaches the log');
  assert.ok(!log.includes('"hi"'));
  // --db: every request is in the ledger after shutdown.
  const raw = new Database(db, { readonly: true });
  const n = (raw.prepare("SELECT count(*) AS n FROM usage WHERE outcome = 'ok'").get() as { n: number }).n;
  raw.close();
  assert.ok(n >= 3, `ledger rows: ${n}`);
});

test('serve takes the token from SWITCHYARD_GATEWAY_TOKEN, or generates one and prints it on the second line', async () => {
  const fromEnv = await startServe(['--port', '0'], { SWITCHYARD_GATEWAY_TOKEN: 'env-token-12345678' });
  try {
    const list = await new OpenAI({ baseURL: fromEnv.lines[0]!, apiKey: 'env-token-12345678', maxRetries: 0 }).models.list();
    assert.ok(list.data.length >= 6);
  } finally {
    fromEnv.child.kill('SIGTERM');
    await fromEnv.exited;
  }
  const generated = await startServe(['--port', '0'], {}, 2);
  try {
    const m = /^token: (\S{16,})$/.exec(generated.lines[1]!);
    assert.ok(m, generated.lines.join('\n'));
    await new OpenAI({ baseURL: generated.lines[0]!, apiKey: m[1]!, maxRetries: 0 }).models.list();
  } finally {
    generated.child.kill('SIGTERM');
    await generated.exited;
  }
});

test('serve: a bad --port is a usage error (exit 2); a port in use says so (exit 1)', async () => {
  const bad = spawnSync(process.execPath, [CLI, 'serve', '--port', 'abc'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--port must be 0\.\.65535/);
  const busy = spawnSync(process.execPath, [CLI, 'serve', '--port', String(ollama.port), '--token', 'abcdefgh12345'], { encoding: 'utf8' });
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /Port \d+ on 127\.0\.0\.1 is in use/);
});
