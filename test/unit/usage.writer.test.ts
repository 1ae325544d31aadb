/**
 * The usage ledger writes off the thread that records (ledgerWriter.ts, ledgerWorker.ts): records are committed by
 * its worker thread while the recording thread is busy, in the order they were recorded; close() and flush() lose
 * nothing; a process killed outright (SIGKILL) keeps every batch that was committed and a readable file; a ledger
 * that is only read (the CLI's `switchyard usage`) starts no thread.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLedger } from '../../src/core/usage/sqliteLedger';
import type { EgressRecord, SuggestionRecord, UsageRecord } from '../../src/core/usage/ledger';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchyard-ledger-writer-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function rec(model: string): UsageRecord {
  return {
    at: new Date().toISOString(),
    task: 'chat',
    requested: 'switchyard/chat',
    providerId: 'box',
    model,
    local: true,
    outcome: 'ok',
    attempts: 1,
    ttftMs: 5,
    durationMs: 20,
    inputTokens: 10,
    outputTokens: 20,
  };
}
function egressRec(model: string): EgressRecord {
  return {
    at: new Date().toISOString(),
    task: 'chat',
    providerId: 'openai',
    model,
    host: 'api.openai.com',
    bytesSent: 100,
    redactions: {},
    sources: [],
  };
}
function suggestionRec(): SuggestionRecord {
  return {
    at: new Date().toISOString(),
    event: 'shown',
    providerId: 'box',
    model: 'fim',
    local: true,
    source: 'model',
    latencyMs: 40,
    chars: 12,
    lines: 1,
  };
}

/** Rows as another connection sees them (what is on disk), by table, in insertion order. */
function onDisk(file: string, table = 'usage'): string[] {
  const raw = new Database(file, { readonly: true });
  try {
    return (
      raw.prepare(`SELECT ${table === 'suggestions' ? 'event' : 'model'} AS v FROM ${table} ORDER BY id`).all() as { v: string }[]
    ).map((r) => r.v);
  } finally {
    raw.close();
  }
}

test('records are committed by the worker thread while the recording thread is busy (it runs no SQL for them)', async () => {
  const file = path.join(dir, 'busy.sqlite');
  const ledger = new SqliteLedger({ path: file });
  for (let i = 0; i < 50; i++) ledger.record(rec(`m${i}`));
  assert.equal(ledger.writtenBy, 'thread');
  // One turn of the event loop hands the turn's records to the worker...
  await new Promise((r) => setImmediate(r));
  // ...then this thread never yields again: on the old path (a timer on this thread) nothing could be written now.
  const deadline = Date.now() + 10_000;
  let seen = onDisk(file).length;
  while (seen < 50 && Date.now() < deadline) seen = onDisk(file).length;
  assert.equal(seen, 50, 'written while this thread was busy');
  ledger.close();
});

test('nothing is lost across close(), even with records not yet handed to the worker, and order is kept across batches', async () => {
  const file = path.join(dir, 'close.sqlite');
  const ledger = new SqliteLedger({ path: file });
  const models: string[] = [];
  for (let burst = 0; burst < 5; burst++) {
    for (let i = 0; i < 400; i++) {
      const m = `b${burst}-${i}`;
      models.push(m);
      ledger.record(rec(m));
      if (i % 100 === 0) ledger.egress(egressRec(m));
    }
    if (burst === 2) ledger.flush();
    // Separate turns: separate messages to the worker, separate transactions.
    await new Promise((r) => setImmediate(r));
  }
  for (let i = 0; i < 250; i++) {
    const m = `last-${i}`;
    models.push(m);
    ledger.record(rec(m));
  }
  ledger.suggestion(suggestionRec());
  ledger.close();
  assert.deepEqual(onDisk(file), models, 'every record, in the order recorded');
  assert.equal(onDisk(file, 'egress').length, 20);
  assert.deepEqual(onDisk(file, 'suggestions'), ['shown']);
  // The ledger reopens (a new writer thread) and goes on appending after them.
  const again = new SqliteLedger({ path: file });
  again.record(rec('after reopen'));
  assert.equal(again.recent(1)[0]!.model, 'after reopen', 'a read sees a record made just before it');
  again.close();
  assert.equal(onDisk(file).at(-1), 'after reopen');
});

test('close() right after the first record (the worker still starting) writes it', () => {
  const file = path.join(dir, 'first.sqlite');
  const ledger = new SqliteLedger({ path: file });
  ledger.record(rec('only'));
  ledger.close();
  assert.deepEqual(onDisk(file), ['only']);
});

test('a ledger that is only read starts no writer thread', () => {
  const file = path.join(dir, 'read-only.sqlite');
  const writer = new SqliteLedger({ path: file });
  writer.record(rec('x'));
  writer.close();
  const reader = new SqliteLedger({ path: file });
  assert.equal(reader.summary().total.requests, 1);
  assert.equal(reader.recent(5).length, 1);
  assert.equal(reader.writtenBy, 'none');
  reader.close();
  const memory = new SqliteLedger({ path: ':memory:' });
  memory.record(rec('m'));
  assert.equal(memory.writtenBy, 'caller', 'an in-memory ledger (one connection) writes on the calling thread');
  assert.equal(memory.recent(1)[0]!.model, 'm');
  memory.close();
});

/**
 * A process that records, makes sure some records are committed, records more, and is killed with SIGKILL (no
 * close, no exit handlers). `phase` "flush": committed by flush(); "idle": by the worker on its own, seen through
 * another connection, before the kill.
 */
function killedWriter(file: string, phase: 'flush' | 'idle'): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const script = `
    const Database = require('better-sqlite3');
    const { SqliteLedger } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/usage/sqliteLedger.ts'))});
    const file = ${JSON.stringify(file)};
    const ledger = new SqliteLedger({ path: file });
    const rec = (model) => ({ at: new Date().toISOString(), task: 'chat', requested: 'switchyard/chat', providerId: 'box', model, local: true, outcome: 'ok', attempts: 1, durationMs: 1 });
    for (let i = 0; i < 300; i++) ledger.record(rec('kept' + i));
    const committed = () => { const db = new Database(file, { readonly: true }); try { return db.prepare('SELECT count(*) AS n FROM usage').get().n; } finally { db.close(); } };
    const after = () => {
      for (let i = 0; i < 50; i++) ledger.record(rec('maybe' + i));
      process.kill(process.pid, 'SIGKILL');
    };
    if (${JSON.stringify(phase)} === 'flush') { ledger.flush(); after(); }
    else setImmediate(() => { const deadline = Date.now() + 10000; while (committed() < 300 && Date.now() < deadline) {} after(); });
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', cwd: path.resolve(__dirname, '../..') });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

for (const phase of ['flush', 'idle'] as const) {
  test(`killed with SIGKILL after its records were committed (${phase === 'flush' ? 'by flush()' : 'by the worker on its own'}): they are all there and the file is sound`, () => {
    const file = path.join(dir, `killed-${phase}.sqlite`);
    const r = killedWriter(file, phase);
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const rows = onDisk(file);
    const kept = rows.filter((m) => m.startsWith('kept'));
    assert.equal(kept.length, 300, 'every committed record survived');
    assert.deepEqual(
      kept,
      Array.from({ length: 300 }, (_, i) => `kept${i}`),
    );
    // What was recorded just before the kill may be lost, never more than that, and never half a batch out of order.
    const maybe = rows.filter((m) => m.startsWith('maybe'));
    assert.deepEqual(
      maybe,
      Array.from({ length: maybe.length }, (_, i) => `maybe${i}`),
    );
    const raw = new Database(file, { readonly: true });
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    raw.close();
    const ledger = new SqliteLedger({ path: file });
    assert.equal(ledger.summary().total.requests, rows.length, 'the ledger reads it as it was');
    ledger.close();
  });
}
