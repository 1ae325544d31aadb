/**
 * Inline suggestions in the usage ledger (issue 15): the CompletionService's shown/accepted events reach the SQLite
 * ledger through the MemoryLedger it pipes to, are summarised per model (accept rate, p50 latency), are pruned by
 * the retention like requests, and never hold code (the table has no column that could).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CompletionService } from '../../src/core/complete/service';
import { parseConfig } from '../../src/core/config/config';
import { privacyContext } from '../../src/core/routing/privacy';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger, type SuggestionRecord } from '../../src/core/usage/ledger';
import { SqliteLedger } from '../../src/core/usage/sqliteLedger';
import { closedPort, scriptedBackend, startOllamaServer } from '../fixtures';

const suggestion = (over: Partial<SuggestionRecord>): SuggestionRecord => ({
  at: '2026-12-01T10:00:00.000Z',
  event: 'shown',
  providerId: 'ollama',
  model: 'qwen2.5-coder:7b',
  local: true,
  source: 'model',
  latencyMs: 100,
  chars: 10,
  lines: 1,
  ...over,
});

test('per model: shown, accepted (partial counted), accept rate, p50 latency of the shown ones; a range limits it', () => {
  const ledger = new SqliteLedger({ path: ':memory:' });
  for (const latencyMs of [100, 300, 200, 400]) ledger.suggestion(suggestion({ latencyMs }));
  ledger.suggestion(suggestion({ event: 'accepted', chars: 10 }));
  ledger.suggestion(suggestion({ event: 'accepted', chars: 4, partial: true }));
  ledger.suggestion(suggestion({ providerId: 'cloud', model: 'codestral', local: false, latencyMs: 900 }));
  ledger.suggestion(suggestion({ at: '2026-11-01T10:00:00.000Z', latencyMs: 5000 }));
  const s = ledger.suggestionSummary({ since: '2026-12-01T00:00:00.000Z' });
  assert.deepEqual(s.byModel[0], {
    key: 'ollama/qwen2.5-coder:7b',
    local: true,
    shown: 4,
    accepted: 2,
    partial: 1,
    acceptedChars: 14,
    acceptRate: 0.5,
    latencyP50Ms: 200,
  });
  assert.deepEqual(s.byModel[1], {
    key: 'cloud/codestral',
    local: false,
    shown: 1,
    accepted: 0,
    partial: 0,
    acceptedChars: 0,
    acceptRate: 0,
    latencyP50Ms: 900,
  });
  assert.equal(s.total.shown, 5);
  assert.equal(s.total.accepted, 2);
  assert.equal(s.total.local, false, 'some came from the cloud');
  assert.equal(ledger.suggestionSummary().total.shown, 6, 'no range: all of them');
  ledger.close();
});

test('retention prunes old suggestions with the requests', () => {
  const ledger = new SqliteLedger({ path: ':memory:', retentionDays: 30 });
  ledger.suggestion(suggestion({ at: new Date(Date.now() - 40 * 86_400_000).toISOString() }));
  ledger.suggestion(suggestion({ at: new Date().toISOString() }));
  ledger.prune();
  assert.equal(ledger.suggestionSummary().total.shown, 1);
  ledger.close();
});

test('the service records shown and accepted through the MemoryLedger into SQLite; the table holds no text column', async () => {
  const ollama = await startOllamaServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
    models: [{ name: 'qwen2.5-coder:7b', insert: true }],
  });
  const down = `http://127.0.0.1:${await closedPort()}`;
  const file = `/tmp/switchyard-suggestions-${process.pid}-${Date.now()}.sqlite`;
  const sqlite = new SqliteLedger({ path: file });
  const usage = new MemoryLedger();
  usage.pipe(sqlite);
  const { config } = parseConfig({
    'switchyard.providers': [
      { id: 'ollama', kind: 'ollama', baseUrl: ollama.url },
      { id: 'llamacpp', kind: 'llamacpp', baseUrl: down },
      { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
    ],
    'switchyard.tasks': { complete: ['ollama/qwen2.5-coder:7b'] },
    'switchyard.privacy': 'local-only',
  });
  const sy = new Switchyard({ config, secrets: { getApiKey: async () => undefined }, privacy: (c) => privacyContext(c), usage });
  const service = new CompletionService(sy, { usage, debounceMs: 0 });
  try {
    const c = await service.complete({ filePath: 'a.ts', languageId: 'typescript', prefix: 'const secretCode = ', suffix: ';\n' });
    assert.ok(c);
    service.shown(c);
    service.accepted(c);
    const s = sqlite.suggestionSummary();
    assert.deepEqual(
      s.byModel.map((g) => [g.key, g.shown, g.accepted, g.acceptRate]),
      [['ollama/qwen2.5-coder:7b', 1, 1, 1]],
    );
    assert.equal(
      sqlite.summary().byTask.find((t) => t.key === 'complete')?.requests,
      1,
      'the request itself is a usage record of task complete',
    );
  } finally {
    service.dispose();
    sy.dispose();
    sqlite.close();
    await ollama.close();
  }
  const raw = new Database(file, { readonly: true });
  const columns = (raw.prepare('PRAGMA table_info(suggestions)').all() as { name: string; type: string }[]).map(
    (c) => `${c.name}:${c.type}`,
  );
  raw.close();
  assert.deepEqual(columns, [
    'id:INTEGER',
    'at:TEXT',
    'event:TEXT',
    'provider:TEXT',
    'model:TEXT',
    'local:INTEGER',
    'source:TEXT',
    'latency_ms:REAL',
    'chars:INTEGER',
    'lines:INTEGER',
    'partial:INTEGER',
  ]);
});
