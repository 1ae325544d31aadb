/**
 * The persistent usage ledger on real SQLite (better-sqlite3): records from the real router, summaries per task,
 * provider, model and day, p50/p95 time to first token, failures by kind, CSV export, the settings audit list,
 * lazy opening, and that records survive closing and reopening the file. Egress records (requests that left the
 * machine): stored with counts and file ranges only, filtered by day and provider, batched, pruned, exported, and a
 * ledger of the first schema migrated in place.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { LEDGER_FLUSH_MS, SqliteLedger, csvCell, quantile, redactionCounts, settingsChanges } from '../../src/core/usage/sqliteLedger';
import {
  MemoryLedger,
  formatEgressSource,
  formatRedactions,
  type EgressRecord,
  type UsageRecord,
  type UsageSink,
} from '../../src/core/usage/ledger';
import { closedPort, scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-usage-'));
let ollama: FixtureServer;
let refused: number;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  refused = await closedPort();
});
after(async () => {
  await ollama.close();
});

function rec(over: Partial<UsageRecord>): UsageRecord {
  return {
    at: '2026-11-02T10:00:00.000Z',
    task: 'chat',
    requested: 'chat',
    providerId: 'box',
    model: 'm',
    local: true,
    outcome: 'ok',
    attempts: 1,
    durationMs: 100,
    ...over,
  };
}

test('opens lazily: no file (nor folder) until the first record', () => {
  const file = path.join(dir, 'fresh', 'lazy.sqlite');
  const ledger = new SqliteLedger({ path: file });
  assert.equal(ledger.isOpen, false);
  assert.equal(existsSync(file), false);
  ledger.record(rec({}));
  assert.equal(ledger.isOpen, true);
  assert.ok(existsSync(file));
  ledger.close();
});

test('summaries per task, provider, model and day with local/cloud share, tokens, cost, p50/p95 TTFT and failures by kind', () => {
  const ledger = new SqliteLedger({ path: path.join(dir, 'summary.sqlite') });
  // 20 local chat answers on day 1 with TTFT 10..200 ms, 4 cloud explain answers on day 2, 3 failures.
  for (let i = 1; i <= 20; i++) ledger.record(rec({ ttftMs: i * 10, inputTokens: 10, outputTokens: 5, costUsd: 0 }));
  for (let i = 0; i < 4; i++)
    ledger.record(
      rec({
        at: '2026-11-03T09:00:00.000Z',
        task: 'explain',
        requested: 'switchyard/explain',
        providerId: 'openai',
        model: 'gpt-4.1-mini',
        local: false,
        ttftMs: 300,
        inputTokens: 1000,
        outputTokens: 100,
        costUsd: 0.0006,
      }),
    );
  ledger.record(rec({ at: '2026-11-03T09:01:00.000Z', outcome: 'unreachable', providerId: 'gone', attempts: 2 }));
  ledger.record(rec({ at: '2026-11-03T09:02:00.000Z', outcome: 'unreachable', providerId: 'gone', attempts: 1 }));
  ledger.record(rec({ at: '2026-11-03T09:03:00.000Z', outcome: 'policy', providerId: '', model: '', attempts: 0 }));

  const s = ledger.summary();
  assert.equal(s.total.requests, 27);
  assert.equal(s.total.ok, 24);
  assert.equal(s.total.failed, 3);
  assert.equal(s.total.local, 22, 'the provider-less policy refusal counts for neither side');
  assert.equal(s.total.cloud, 4);
  assert.equal(s.total.inputTokens, 20 * 10 + 4 * 1000);
  assert.ok(Math.abs(s.total.costUsd - 0.0024) < 1e-9);

  const chat = s.byTask.find((g) => g.key === 'chat')!;
  assert.equal(chat.requests, 23);
  assert.equal(chat.ttftP50Ms, 100, 'nearest-rank median of 10..200');
  assert.equal(chat.ttftP95Ms, 190);
  assert.equal(s.byTask.find((g) => g.key === 'explain')!.ttftP50Ms, 300);
  assert.deepEqual(
    s.byProvider.map((g) => g.key),
    ['box', 'openai', 'gone', '(none)'],
  );
  assert.ok(s.byModel.some((g) => g.key === 'openai/gpt-4.1-mini' && g.cloud === 4));
  assert.deepEqual(
    s.byDay.map((g) => [g.key, g.requests, g.local, g.cloud]),
    [
      ['2026-11-02', 20, 20, 0],
      ['2026-11-03', 7, 2, 4],
    ],
  );
  assert.deepEqual(s.failuresByKind, [
    { kind: 'unreachable', count: 2 },
    { kind: 'policy', count: 1 },
  ]);

  const day2 = ledger.summary({ since: '2026-11-03T00:00:00.000Z' });
  assert.equal(day2.total.requests, 7);
  ledger.close();
});

test('records survive closing and reopening (and another connection reads them)', () => {
  const file = path.join(dir, 'persist.sqlite');
  const a = new SqliteLedger({ path: file });
  a.record(rec({ model: 'first' }));
  a.record(rec({ model: 'second' }));
  a.close();
  const raw = new Database(file, { readonly: true });
  assert.equal((raw.prepare('SELECT count(*) AS n FROM usage').get() as { n: number }).n, 2);
  raw.close();
  const b = new SqliteLedger({ path: file });
  assert.deepEqual(
    b.recent(5).map((r) => r.model),
    ['second', 'first'],
  );
  b.close();
});

test('request records are written in batches: after LEDGER_FLUSH_MS, at once for any query, and on close', async () => {
  const file = path.join(dir, 'batched.sqlite');
  const ledger = new SqliteLedger({ path: file });
  const count = () => {
    const raw = new Database(file, { readonly: true });
    try {
      return (raw.prepare('SELECT count(*) AS n FROM usage').get() as { n: number }).n;
    } finally {
      raw.close();
    }
  };
  const seen: string[] = [];
  ledger.onRecord((r) => seen.push(r.model));
  for (const model of ['a', 'b', 'c']) ledger.record(rec({ model }));
  assert.deepEqual(seen, ['a', 'b', 'c'], 'listeners hear of each record at once');
  assert.equal(count(), 0, 'not written per request');
  // Written together once the batch is due (LEDGER_FLUSH_MS): waited for as an event, not a fixed time, so a busy
  // machine does not fail it; the first write holds all three (never one per request).
  const due = Date.now() + 30_000;
  let n = 0;
  while ((n = count()) === 0 && Date.now() < due) await new Promise((r) => setTimeout(r, LEDGER_FLUSH_MS));
  if (n !== 3) ledger.close();
  assert.equal(n, 3, 'written together once the batch is due');
  ledger.record(rec({ model: 'd' }));
  assert.equal(ledger.summary().total.requests, 4, 'a query sees records not written yet');
  assert.equal(count(), 4);
  ledger.record(rec({ model: 'e' }));
  assert.deepEqual(
    ledger.recent(1).map((r) => r.model),
    ['e'],
  );
  ledger.record(rec({ model: 'f' }));
  ledger.close();
  assert.equal(count(), 6, 'close writes what is left');
});

test('CSV export: header, one line per record, quoting and no spreadsheet formulas', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  ledger.record(rec({ model: 'a,b "quoted"', inputTokens: 3, outputTokens: 4, costUsd: 0.5 }));
  ledger.record(rec({ model: '=HYPERLINK("x")', requested: 'switchyard/chat' }));
  const lines = ledger.csv().trimEnd().split('\n');
  assert.equal(
    lines[0],
    'at,task,requested,provider,model,local,outcome,attempts,ttft_ms,duration_ms,input_tokens,output_tokens,tokens_estimated,cost_usd',
  );
  assert.equal(lines.length, 3);
  assert.equal(lines[1], '2026-11-02T10:00:00.000Z,chat,chat,box,"a,b ""quoted""",1,ok,1,,100,3,4,0,0.5');
  assert.ok(lines[2]!.includes(`"'=HYPERLINK(""x"")"`));
  assert.equal(csvCell(-1), '-1', 'numbers stay numbers');
  ledger.close();
});

test('settings audit: what changed and when, never a key value', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  const before = {
    'switchyard.privacy': 'ask',
    'switchyard.providers': [{ id: 'x', kind: 'openai-compatible', baseUrl: 'https://api.example/v1?key=sk-abcdefghijklmnop123' }],
  };
  const after = {
    'switchyard.privacy': 'local-only',
    'switchyard.providers': [],
    'switchyard.aliases': { fast: 'chat' },
    'switchyard.someApiKey': 'sk-should-never-show-1234',
  };
  const changes = settingsChanges(before, after, '2026-11-02T10:00:00.000Z');
  assert.deepEqual(
    changes.map((c) => c.key),
    ['switchyard.aliases', 'switchyard.privacy', 'switchyard.providers', 'switchyard.someApiKey'],
  );
  assert.equal(changes.find((c) => c.key === 'switchyard.privacy')!.change, '"ask" → "local-only"');
  assert.equal(changes.find((c) => c.key === 'switchyard.aliases')!.change, '(default) → {"fast":"chat"}');
  ledger.audit(changes);
  const list = ledger.auditList();
  assert.equal(list.length, 4);
  const text = JSON.stringify(list);
  assert.ok(!text.includes('sk-abcdefghijklmnop123') && !text.includes('sk-should-never-show-1234'), text);
  assert.match(text, /\(hidden\)/);
  assert.deepEqual(settingsChanges(after, after), []);
  ledger.close();
});

test('the router writes every request, fallbacks and failures included, into the ledger', async () => {
  const ledger = new SqliteLedger({ path: path.join(dir, 'router.sqlite') });
  const { config } = parseConfig({
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'box', kind: 'ollama', baseUrl: ollama.url },
    ],
    'switchyard.tasks': { chat: ['gone/qwen2.5-coder:7b', 'box/qwen2.5-coder:7b'], explain: ['gone/qwen2.5-coder:7b'] },
  });
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    usage: ledger,
  });
  for await (const _ of sy.router.chat({ task: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] })) void _;
  await assert.rejects(async () => {
    for await (const _ of sy.router.chat({ task: 'explain', messages: [{ role: 'user', content: 'hi' }] })) void _;
  });
  const s = ledger.summary();
  assert.equal(s.total.requests, 2);
  const ok = ledger.recent(2).find((r) => r.outcome === 'ok')!;
  assert.equal(ok.providerId, 'box');
  assert.equal(ok.attempts, 2);
  assert.ok(ok.ttftMs! >= 0 && ok.outputTokens! > 0);
  assert.equal(s.failuresByKind[0]!.kind, 'unreachable');
  ledger.close();
});

test('an unopenable path fails with a message naming it and what to check', () => {
  // Its folder cannot be made: a regular file stands where the folder would be.
  writeFileSync(path.join(dir, 'blocker'), '');
  const ledger = new SqliteLedger({ path: path.join(dir, 'blocker', 'sub', 'x.sqlite') });
  assert.throws(() => ledger.record(rec({})), /could not open .*x\.sqlite.*check that the folder is writable/);
  assert.throws(() => ledger.summary(), /could not open/);
});

test('a MemoryLedger pipes each record to the SQLite ledger until disposed', () => {
  const memory = new MemoryLedger();
  const ledger = new SqliteLedger({ path: ':memory:' });
  const pipe = memory.pipe(ledger);
  memory.record(rec({ model: 'piped' }));
  pipe.dispose();
  memory.record(rec({ model: 'not piped' }));
  assert.deepEqual(
    ledger.recent(5).map((r) => r.model),
    ['piped'],
  );
  assert.equal(memory.records.length, 2);
  ledger.close();
});

test('quantile is nearest-rank', () => {
  assert.equal(quantile([], 0.5), undefined);
  assert.equal(quantile([7], 0.95), 7);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.95), 4);
});

test('retention: records older than switchyard.usage.retentionDays go on open and when the setting changes; 0 keeps all; the audit list stays', () => {
  const file = path.join(dir, 'retention.sqlite');
  const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
  const keepAll = new SqliteLedger({ path: file, retentionDays: 0 });
  for (const d of [800, 400, 100, 1]) keepAll.record(rec({ at: daysAgo(d), model: `m${d}` }));
  keepAll.audit(settingsChanges({}, { 'switchyard.privacy': 'ask' }, daysAgo(900)));
  assert.equal(keepAll.recent(10).length, 4, 'retention 0 removed nothing');
  keepAll.close();

  const logs: string[] = [];
  const year = new SqliteLedger({
    path: file,
    retentionDays: 365,
    logger: { trace() {}, debug() {}, info: (m) => logs.push(m), warn() {}, error() {} },
  });
  assert.deepEqual(
    year
      .recent(10)
      .map((r) => r.model)
      .sort(),
    ['m1', 'm100'],
    'opening pruned what is older than a year',
  );
  assert.ok(
    logs.some((l) => /removed 2 records older than 365 days/.test(l)),
    logs.join('\n'),
  );
  year.setRetention(30);
  assert.deepEqual(
    year.recent(10).map((r) => r.model),
    ['m1'],
  );
  assert.equal(year.auditList().length, 1, 'the audit list is kept');
  year.close();
});

test('switchyard.usage.retentionDays is read from settings (default 365) and out-of-range values are reported', () => {
  assert.equal(parseConfig({}).config.usage.retentionDays, 365);
  assert.equal(parseConfig({ 'switchyard.usage.retentionDays': 30 }).config.usage.retentionDays, 30);
  const bad = parseConfig({ 'switchyard.usage.retentionDays': -5 });
  assert.equal(bad.config.usage.retentionDays, 365);
  assert.ok(
    bad.problems.some((p) => p.key === 'switchyard.usage.retentionDays'),
    JSON.stringify(bad.problems),
  );
});

function egress(over: Partial<EgressRecord>): EgressRecord {
  return {
    at: '2026-11-02T10:00:00.000Z',
    task: 'chat',
    providerId: 'openai',
    model: 'gpt-4.1-mini',
    host: 'api.openai.com',
    bytesSent: 1200,
    redactions: {},
    sources: [],
    ...over,
  };
}

test('egress: every record is kept with host, bytes, redaction counts and file ranges; listed newest first, filtered by range, day and provider; survives reopening', () => {
  const file = path.join(dir, 'egress.sqlite');
  const a = new SqliteLedger({ path: file });
  const heard: string[] = [];
  a.onEgress((r) => heard.push(r.model));
  a.egress(
    egress({
      at: '2026-11-01T09:00:00.000Z',
      model: 'old',
      sources: [{ path: 'src/a.ts', startLine: 10, endLine: 24 }, { path: 'README.md' }],
    }),
  );
  a.egress(
    egress({
      at: '2026-11-02T08:00:00.000Z',
      providerId: 'anthropic',
      model: 'claude',
      host: 'api.anthropic.com',
      redactions: { 'openai-api-key': 1, 'aws-secret-access-key': 1 },
    }),
  );
  a.egress(egress({ at: '2026-11-02T11:00:00.000Z', model: 'new', bytesSent: 5 }));
  assert.deepEqual(heard, ['old', 'claude', 'new'], 'listeners hear of each at once');
  a.close();

  const b = new SqliteLedger({ path: file });
  const all = b.egressList();
  assert.deepEqual(
    all.map((e) => e.model),
    ['new', 'claude', 'old'],
    'newest first',
  );
  assert.deepEqual(all[2], {
    at: '2026-11-01T09:00:00.000Z',
    task: 'chat',
    providerId: 'openai',
    model: 'old',
    host: 'api.openai.com',
    bytesSent: 1200,
    redactions: {},
    sources: [{ path: 'src/a.ts', startLine: 10, endLine: 24 }, { path: 'README.md' }],
  });
  assert.deepEqual(all[1]!.redactions, { 'aws-secret-access-key': 1, 'openai-api-key': 1 });
  assert.deepEqual(
    b.egressList({ day: '2026-11-02' }).map((e) => e.model),
    ['new', 'claude'],
  );
  assert.deepEqual(
    b.egressList({ provider: 'openai' }).map((e) => e.model),
    ['new', 'old'],
  );
  assert.deepEqual(
    b.egressList({ provider: 'openai', day: '2026-11-02' }).map((e) => e.model),
    ['new'],
  );
  assert.deepEqual(
    b.egressList({ since: '2026-11-02T00:00:00.000Z', until: '2026-11-02T09:00:00.000Z' }).map((e) => e.model),
    ['claude'],
  );
  assert.deepEqual(
    b.egressList({ limit: 1 }).map((e) => e.model),
    ['new'],
  );
  assert.equal(b.egressCount({ provider: 'openai' }), 2);
  assert.deepEqual(b.egressFacets(), {
    days: [
      { day: '2026-11-02', count: 2 },
      { day: '2026-11-01', count: 1 },
    ],
    providers: [
      { provider: 'anthropic', count: 1 },
      { provider: 'openai', count: 2 },
    ],
  });
  assert.deepEqual(b.egressFacets({ since: '2026-11-02T09:00:00.000Z' }).providers, [{ provider: 'openai', count: 1 }]);
  assert.equal(b.summary().total.requests, 0, 'egress records are not request records');
  b.close();
});

test('egress: only counts by kind and well-formed line ranges are stored (no text, no odd keys)', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  ledger.egress(
    egress({
      bytesSent: -3,
      redactions: { 'github-token': 2, '<b>not a kind</b>': 1, jwt: 0, 'pem-private-key': 1.5 },
      sources: [
        { path: 'a.ts', startLine: 5, endLine: 2 },
        { path: '' },
        { path: 'b.ts', startLine: 0, endLine: 3 },
        { path: 'c.ts', startLine: 7 },
      ],
    }),
  );
  const [e] = ledger.egressList();
  assert.deepEqual(e!.redactions, { 'github-token': 2, other: 1 });
  assert.equal(e!.bytesSent, 0);
  assert.deepEqual(e!.sources, [{ path: 'a.ts', startLine: 5, endLine: 5 }, { path: 'b.ts' }, { path: 'c.ts', startLine: 7, endLine: 7 }]);
  assert.deepEqual(redactionCounts(undefined), {});
  ledger.close();
});

test('egress records are written in the same batches as request records, and a query sees them at once', () => {
  const file = path.join(dir, 'egress-batched.sqlite');
  const ledger = new SqliteLedger({ path: file });
  const count = (table: string) => {
    const raw = new Database(file, { readonly: true });
    try {
      return (raw.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      raw.close();
    }
  };
  ledger.record(rec({ local: false, providerId: 'openai' }));
  ledger.egress(egress({}));
  assert.equal(count('egress'), 0, 'not written per request');
  // The timer's flush (LEDGER_FLUSH_MS, tested above for request records) writes both kinds in one transaction.
  ledger.flush();
  assert.equal(count('egress'), 1);
  assert.equal(count('usage'), 1);
  ledger.egress(egress({ model: 'pending' }));
  assert.deepEqual(
    ledger.egressList({ limit: 1 }).map((e) => e.model),
    ['pending'],
  );
  ledger.egress(egress({ model: 'at close' }));
  ledger.close();
  assert.equal(count('egress'), 3, 'close writes what is left');
});

test('egress retention: records older than retentionDays go with the request records', () => {
  const file = path.join(dir, 'egress-retention.sqlite');
  const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
  const all = new SqliteLedger({ path: file });
  for (const d of [400, 100, 1]) all.egress(egress({ at: daysAgo(d), model: `m${d}` }));
  all.close();
  const logs: string[] = [];
  const year = new SqliteLedger({
    path: file,
    retentionDays: 365,
    logger: { trace() {}, debug() {}, info: (m) => logs.push(m), warn() {}, error() {} },
  });
  assert.deepEqual(
    year.egressList().map((e) => e.model),
    ['m1', 'm100'],
  );
  assert.ok(
    logs.some((l) => /1 egress records older than 365 days/.test(l)),
    logs.join('\n'),
  );
  year.setRetention(30);
  assert.deepEqual(
    year.egressList().map((e) => e.model),
    ['m1'],
  );
  year.close();
});

test('a ledger of schema 1 (before egress) opens, keeps its records and gains the egress table; a newer schema is refused', () => {
  const file = path.join(dir, 'schema1.sqlite');
  // The tables exactly as the schema-1 ledger wrote them.
  const old = new Database(file);
  old.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE usage (id INTEGER PRIMARY KEY, at TEXT NOT NULL, day TEXT NOT NULL, task TEXT NOT NULL, requested TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, local INTEGER NOT NULL, outcome TEXT NOT NULL, attempts INTEGER NOT NULL, ttft_ms REAL, duration_ms REAL NOT NULL, input_tokens INTEGER, output_tokens INTEGER, tokens_estimated INTEGER NOT NULL DEFAULT 0, cost_usd REAL);
    CREATE INDEX usage_at ON usage(at);
    CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, key TEXT NOT NULL, change TEXT NOT NULL);
    INSERT INTO meta VALUES ('schema', '1');
    INSERT INTO usage (at, day, task, requested, provider, model, local, outcome, attempts, duration_ms) VALUES ('2026-11-01T10:00:00.000Z', '2026-11-01', 'chat', 'chat', 'box', 'kept', 1, 'ok', 1, 50);
  `);
  old.close();
  const logs: string[] = [];
  const ledger = new SqliteLedger({ path: file, logger: { trace() {}, debug() {}, info: (m) => logs.push(m), warn() {}, error() {} } });
  assert.deepEqual(
    ledger.recent(5).map((r) => r.model),
    ['kept'],
  );
  ledger.egress(egress({ model: 'after migration' }));
  assert.deepEqual(
    ledger.egressList().map((e) => e.model),
    ['after migration'],
  );
  ledger.close();
  assert.ok(
    logs.some((l) => /migrated from schema 1 to 3/.test(l)),
    logs.join('\n'),
  );
  const raw = new Database(file);
  assert.equal(raw.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get(), '3');
  raw.prepare("UPDATE meta SET value = '99' WHERE key = 'schema'").run();
  raw.close();
  const newer = new SqliteLedger({ path: file });
  assert.throws(() => newer.egressList(), /has schema 99; this Switchyard writes 3/);
});

test('egress CSV: header, one line per record, oldest first, counts and file ranges, no spreadsheet formulas', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  ledger.egress(
    egress({
      redactions: { 'openai-api-key': 1, 'aws-secret-access-key': 2 },
      sources: [{ path: 'src/a.ts', startLine: 3, endLine: 9 }, { path: 'b, "c".md' }],
    }),
  );
  ledger.egress(egress({ at: '2026-11-03T10:00:00.000Z', model: '=HYPERLINK("x")', sources: [{ path: '@evil.ts' }] }));
  const lines = ledger.egressCsv().trimEnd().split('\n');
  assert.equal(lines[0], 'at,task,provider,model,host,bytes_sent,redaction_count,redactions,files');
  assert.equal(lines.length, 3);
  assert.equal(
    lines[1],
    '2026-11-02T10:00:00.000Z,chat,openai,gpt-4.1-mini,api.openai.com,1200,3,"{""aws-secret-access-key"":2,""openai-api-key"":1}","src/a.ts:3-9; b, ""c"".md"',
  );
  assert.ok(lines[2]!.includes(`"'=HYPERLINK(""x"")"`), lines[2]);
  assert.ok(lines[2]!.endsWith(`,'@evil.ts`), lines[2]);
  assert.equal(ledger.egressCsv({ day: '2026-11-03' }).trimEnd().split('\n').length, 2);
  ledger.close();
});

test('a MemoryLedger keeps egress records and hands them to piped sinks (sinks without egress are fine)', () => {
  const memory = new MemoryLedger(2);
  const ledger = new SqliteLedger({ path: ':memory:' });
  const plain: UsageSink = { record() {} };
  const pipe = memory.pipe(ledger);
  memory.pipe(plain);
  memory.egress(egress({ model: 'piped' }));
  pipe.dispose();
  memory.egress(egress({ model: 'not piped' }));
  memory.egress(egress({ model: 'third' }));
  assert.deepEqual(
    ledger.egressList().map((e) => e.model),
    ['piped'],
  );
  assert.deepEqual(
    memory.egressRecords.map((e) => e.model),
    ['not piped', 'third'],
    'the most recent, up to the limit',
  );
  const failing: UsageSink = {
    record() {},
    egress: () => {
      throw new Error('disk full');
    },
  };
  memory.pipe(failing);
  assert.throws(() => memory.egress(egress({ model: 'kept anyway' })), /disk full/);
  assert.equal(memory.egressRecords.at(-1)!.model, 'kept anyway');
  ledger.close();
});

test('egress formatting: files with line ranges, redactions by kind', () => {
  assert.equal(formatEgressSource({ path: 'src/a.ts', startLine: 10, endLine: 24 }), 'src/a.ts:10-24');
  assert.equal(formatEgressSource({ path: 'src/a.ts', startLine: 7, endLine: 7 }), 'src/a.ts:7');
  assert.equal(formatEgressSource({ path: 'README.md' }), 'README.md');
  assert.equal(
    formatRedactions({ 'openai-api-key': 1, 'aws-secret-access-key': 1 }),
    '2 redacted: aws-secret-access-key ×1, openai-api-key ×1',
  );
  assert.equal(formatRedactions({}), 'none');
});

test('egress page for a view: facets of the range, the newest records up to a limit, the matching total; filters with nothing left are dropped', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  for (let i = 0; i < 5; i++) ledger.egress(egress({ at: `2026-11-02T10:0${i}:00.000Z`, model: `o${i}` }));
  ledger.egress(egress({ at: '2026-11-01T10:00:00.000Z', providerId: 'xai', model: 'grok' }));
  const page = ledger.egressPage({ since: '2026-11-01T00:00:00.000Z' }, { provider: 'openai' }, 3);
  assert.equal(page.provider, 'openai');
  assert.equal(page.day, '');
  assert.deepEqual(
    page.records.map((e) => e.model),
    ['o4', 'o3', 'o2'],
  );
  assert.equal(page.total, 5);
  assert.deepEqual(
    page.providers.map((p) => p.provider),
    ['openai', 'xai'],
  );
  const later = ledger.egressPage({ since: '2026-11-02T00:00:00.000Z' }, { provider: 'xai', day: '2026-11-01' }, 10);
  assert.equal(later.provider, '', 'xai has nothing in the shorter period: the filter goes');
  assert.equal(later.day, '');
  assert.equal(later.total, 5);
  ledger.close();
});
