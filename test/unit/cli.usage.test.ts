/**
 * `switchyard usage`: the built dist/cli.js run as a user would against a ledger file written by the real
 * SqliteLedger: the egress list (table and --json, newest first, filtered by day and provider), the request summary,
 * and the exit codes (2 with a one-line reason for a usage error, 1 for a ledger that cannot be read). And the whole
 * way on the terminal: `switchyard serve --db` sends a request to the cloud test server, `switchyard usage --egress`
 * lists it.
 */
import { after, before, test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { scriptedBackend, startOpenAIServer, type FixtureServer } from '../fixtures';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedger } from '../../src/core/usage/sqliteLedger';
import type { EgressRecord, UsageRecord } from '../../src/core/usage/ledger';
import { CLI, runCli } from '../fixtures/cli';

const skip = !fs.existsSync(CLI) && 'run esbuild first';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-usage-'));
const db = path.join(dir, 'usage.sqlite');

const records: EgressRecord[] = [
  {
    at: '2026-11-01T09:00:00.000Z',
    task: 'explain',
    providerId: 'openai',
    model: 'gpt-4.1-mini',
    host: 'api.openai.com',
    bytesSent: 900,
    redactions: {},
    sources: [{ path: 'README.md' }],
  },
  {
    at: '2026-11-02T08:00:00.000Z',
    task: 'chat',
    providerId: 'anthropic',
    model: 'claude-sonnet',
    host: 'api.anthropic.com',
    bytesSent: 4321,
    redactions: { 'openai-api-key': 1, 'aws-secret-access-key': 1 },
    sources: [
      { path: 'src/a.ts', startLine: 10, endLine: 24 },
      { path: 'src/b.ts', startLine: 3, endLine: 3 },
    ],
  },
  {
    at: '2026-11-02T11:30:00.000Z',
    task: 'chat',
    providerId: 'openai',
    model: 'gpt-4.1',
    host: 'api.openai.com',
    bytesSent: 120,
    redactions: {},
    sources: [{ path: 'evil\u001b[31m.ts', startLine: 1, endLine: 2 }],
  },
];

function request(over: Partial<UsageRecord>): UsageRecord {
  return {
    at: '2026-11-02T10:00:00.000Z',
    task: 'chat',
    requested: 'chat',
    providerId: 'box',
    model: 'qwen',
    local: true,
    outcome: 'ok',
    attempts: 1,
    durationMs: 100,
    ttftMs: 40,
    inputTokens: 10,
    outputTokens: 5,
    costUsd: 0,
    ...over,
  };
}

let cloud: FixtureServer;
after(async () => {
  await cloud?.close();
});

before(() => {
  const ledger = new SqliteLedger({ path: db });
  for (let i = 0; i < 3; i++) ledger.record(request({}));
  ledger.record(request({ providerId: 'openai', model: 'gpt-4.1', local: false, costUsd: 0.001 }));
  ledger.record(request({ outcome: 'unreachable', providerId: 'gone', ttftMs: undefined }));
  for (const r of records) ledger.egress(r);
  ledger.close();
});

test(
  'usage --egress: a table of what left the machine, newest first, with hosts, bytes, redactions and file ranges',
  { skip },
  async () => {
    const r = await runCli(['usage', '--egress', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^time \(UTC\)\s+task\s+provider\/model\s+host\s+bytes\s+redactions\s+files$/);
    assert.match(
      lines[1]!,
      /^2026-11-02 11:30:00\s+chat\s+openai\/gpt-4\.1\s+api\.openai\.com\s+120\s+none\s+evil\\x1b\[31m\.ts:1-2$/,
      'newest first; a control character in a name is shown escaped',
    );
    assert.match(
      lines[2]!,
      /^2026-11-02 08:00:00\s+chat\s+anthropic\/claude-sonnet\s+api\.anthropic\.com\s+4321\s+2 redacted: aws-secret-access-key ×1, openai-api-key ×1\s+src\/a\.ts:10-24, src\/b\.ts:3$/,
    );
    assert.match(lines[3]!, /^2026-11-01 09:00:00\s+explain\s+openai\/gpt-4\.1-mini\s+api\.openai\.com\s+900\s+none\s+README\.md$/);
    assert.equal(lines[4], '3 requests left this machine in the ledger.');
    assert.ok(!r.stdout.includes('\u001b'), 'no raw escape reaches the terminal');
  },
);

test('usage --egress --json: an array of the records, newest first; --since and --provider filter', { skip }, async () => {
  const all = await runCli(['usage', '--egress', '--json', '--db', db]);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(JSON.parse(all.stdout), [...records].reverse());

  const filtered = await runCli(['usage', '--egress', '--json', '--db', db, '--since', '2026-11-02', '--provider', 'openai']);
  assert.equal(filtered.code, 0, filtered.stderr);
  assert.deepEqual(JSON.parse(filtered.stdout), [records[2]]);
  const dayOne = await runCli(['usage', '--egress', '--json', '--db', db, '--until', '2026-11-01']);
  assert.deepEqual(JSON.parse(dayOne.stdout), [records[0]]);

  const none = await runCli(['usage', '--egress', '--db', db, '--since', '2026-11-03']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, 'Nothing has left this machine in this period.\n');
});

test(
  'usage without --egress: the request summary (the ledger summary, local/cloud from the records), as text and --json',
  { skip },
  async () => {
    const text = await runCli(['usage', '--db', db]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^5 requests \(1 failed\), 80% local, 50 tokens in \/ 25 out, estimated cost \$0\.00100, time to first token p50 40 ms \/ p95 40 ms\n3 requests left this machine in the ledger \(switchyard usage --egress lists them\)\n/,
    );
    assert.match(text.stdout, /^provider\s+requests\s+failed\s+local/m);
    assert.match(text.stdout, /^box\s+3\s+0\s+100%/m);
    assert.match(text.stdout, /^openai\/gpt-4\.1\s+1\s+0\s+0%\s+10\s+5\s+\$0\.00100\s+40 ms\s+40 ms$/m, 'cloud because the record says so');
    assert.match(text.stdout, /failures: unreachable 1/);
    const json = await runCli(['usage', '--db', db, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as { total: { requests: number; local: number; cloud: number }; egressRequests: number };
    assert.deepEqual([s.total.requests, s.total.local, s.total.cloud, s.egressRequests], [5, 4, 1, 3]);
    const later = JSON.parse((await runCli(['usage', '--db', db, '--json', '--since', '2026-11-02'])).stdout) as { egressRequests: number };
    assert.equal(later.egressRequests, 2);
  },
);

test(
  'usage: exit 2 with a one-line reason for a missing --db, a bad day, --provider without --egress; 1 for a ledger that is not there or not a ledger',
  { skip },
  async () => {
    const noDb = await runCli(['usage', '--egress']);
    assert.equal(noDb.code, 2);
    assert.match(noDb.stderr.split('\n')[0]!, /^switchyard: usage needs --db FILE: the usage ledger `switchyard serve --db FILE` writes/);
    const badDay = await runCli(['usage', '--egress', '--db', db, '--since', '2026-13-01']);
    assert.equal(badDay.code, 2);
    assert.match(badDay.stderr.split('\n')[0]!, /--since must be a day as YYYY-MM-DD \(UTC\), got "2026-13-01"/);
    const provider = await runCli(['usage', '--db', db, '--provider', 'openai']);
    assert.equal(provider.code, 2);
    assert.match(provider.stderr.split('\n')[0]!, /--provider filters the egress list: use it with --egress/);

    const missing = path.join(dir, 'nope.sqlite');
    const gone = await runCli(['usage', '--egress', '--db', missing]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `switchyard: no usage ledger at ${missing}\n`);
    assert.equal(fs.existsSync(missing), false, 'reading never creates a ledger');
    const junk = path.join(dir, 'junk.sqlite');
    fs.writeFileSync(junk, 'not a database, just text that is long enough to have a header page of its own '.repeat(20));
    const bad = await runCli(['usage', '--db', junk]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^switchyard: cannot read the usage ledger .*junk\.sqlite: file is not a database\n$/);
  },
);

test(
  'serve --db records what it sent to a cloud candidate; usage --egress lists it with the host, bytes and redaction counts, never the secret',
  { skip },
  async () => {
    cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['From', ' the cloud'] }) });
    const cfg = path.join(dir, 'serve.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        'switchyard.privacy': 'allow',
        'switchyard.providers': [{ id: 'oai', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false }],
        'switchyard.tasks': { chat: ['oai/gpt-4.1-mini'] },
      }),
    );
    const served = path.join(dir, 'served.sqlite');
    const token = 'usage-test-token-abcdef';
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--config', cfg, '--token', token, '--db', served], {
      env: { ...process.env, SWITCHYARD_GATEWAY_TOKEN: '' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    const secret = `sk-proj-${'Zq7xW2mP9kL4vB8nR3tY6uJ1hG5fD0sA'}Qe`;
    try {
      const client = new OpenAI({ baseURL: url, apiKey: token, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: 'switchyard/chat',
        messages: [{ role: 'user', content: `why does ${secret} fail?` }],
      });
      assert.ok(answer.choices[0]!.message.content);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    }
    const r = await runCli(['usage', '--egress', '--json', '--db', served]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as EgressRecord[];
    assert.equal(list.length, 1, r.stdout);
    assert.equal(list[0]!.providerId, 'oai');
    assert.equal(list[0]!.model, 'gpt-4.1-mini');
    assert.equal(list[0]!.host, new URL(cloud.url).hostname);
    assert.ok(list[0]!.bytesSent > 0);
    assert.deepEqual(list[0]!.redactions, { 'openai-api-key': 1 });
    assert.ok(!fs.readFileSync(served).includes(secret) && !r.stdout.includes(secret), 'the ledger never holds the secret');
    const table = await runCli(['usage', '--egress', '--db', served]);
    assert.match(table.stdout, /chat\s+oai\/gpt-4\.1-mini\s+127\.0\.0\.1\s+\d+\s+1 redacted: openai-api-key ×1/);
  },
);

const SYSTEM_NODE = '/usr/bin/node';
const systemNode = fs.existsSync(SYSTEM_NODE)
  ? spawnSync(SYSTEM_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
  : '';
const oldNodeSkip =
  skip ||
  (!systemNode ? `no ${SYSTEM_NODE} here` : Number(systemNode.split('.')[0]) >= 22 ? `${SYSTEM_NODE} is ${systemNode}, new enough` : false);

test(
  'on Node < 22, usage exits 2 with one line saying how to run it (better-sqlite3 would crash the process)',
  { skip: oldNodeSkip },
  () => {
    const r = spawnSync(SYSTEM_NODE, [CLI, 'usage', '--egress', '--db', db], { encoding: 'utf8' });
    assert.equal(r.status, 2, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^switchyard: usage needs Node\.js 22 or newer/);
  },
);
