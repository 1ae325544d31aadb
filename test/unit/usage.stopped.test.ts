// A stopped answer is stopped, not failed (issue 18): the router records a user's Stop (the request's signal aborted,
// before or after the first token) with outcome "canceled", and the ledger's summaries count it under `stopped`,
// outside `failed` and outside "failures by kind". Real router, the Ollama test server, real SQLite.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { SqliteLedger } from '../../src/core/usage/sqliteLedger';
import type { UsageDataView, UsageGroupView } from '../../src/protocol/usage';
import { closedPort, scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

let ollama: FixtureServer;
let refused: number;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ tokens: Array.from({ length: 30 }, (_, i) => ` w${i}`) }) });
  refused = await closedPort();
});
after(async () => {
  await ollama.close();
});

test(
  'Stop mid-answer and Stop before the first token count as stopped; a refused server still counts as failed',
  { timeout: 20_000 },
  async () => {
    const ledger = new SqliteLedger({ path: ':memory:' });
    const { config, problems } = parseConfig({
      'switchyard.providers': [
        { id: 'box', kind: 'ollama', baseUrl: ollama.url },
        { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      ],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'], explain: ['gone/qwen2.5-coder:7b'] },
      'switchyard.privacy': 'local-only',
    });
    assert.deepEqual(problems, []);
    const sy = new Switchyard({
      config,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
      usage: ledger,
    });
    try {
      ollama.setBehaviour({ mode: 'slow', delayMs: 30 }, 'POST /api/chat');
      // Stopped after the first token (the chat view's Stop keeps the partial answer).
      const mid = new AbortController();
      let text = '';
      await assert.rejects(
        async () => {
          for await (const ev of sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'count' }], signal: mid.signal })) {
            if (ev.type === 'text') {
              text += ev.text;
              mid.abort();
            }
          }
        },
        (e: unknown) => (e as { kind?: string }).kind === 'canceled',
      );
      assert.ok(text.length > 0, 'some of the answer came first');

      // Stopped while waiting for the first token.
      const early = new AbortController();
      const waiting = (async () => {
        for await (const _ of sy.router.chat({ task: 'chat', messages: [{ role: 'user', content: 'count' }], signal: early.signal }))
          void _;
      })();
      const before = ollama.counts['POST /api/chat'] ?? 0;
      while ((ollama.counts['POST /api/chat'] ?? 0) === before) await new Promise((r) => setImmediate(r));
      early.abort();
      await assert.rejects(waiting, (e: unknown) => (e as { kind?: string }).kind === 'canceled');

      // A real failure.
      await assert.rejects(async () => {
        for await (const _ of sy.router.chat({ task: 'explain', messages: [{ role: 'user', content: 'hi' }] })) void _;
      });

      const outcomes = ledger
        .recent(3)
        .map((r) => r.outcome)
        .sort();
      assert.deepEqual(outcomes, ['canceled', 'canceled', 'unreachable'], 'what the router recorded');
      const s = ledger.summary();
      assert.equal(s.total.requests, 3);
      assert.equal(s.total.stopped, 2);
      assert.equal(s.total.failed, 1);
      assert.equal(s.total.ok, 0);
      assert.deepEqual(s.failuresByKind, [{ kind: 'unreachable', count: 1 }], 'a stop is not a kind of failure');
      const chat = s.byTask.find((g) => g.key === 'chat')!;
      assert.deepEqual([chat.requests, chat.stopped, chat.failed], [2, 2, 0]);
      assert.deepEqual(
        s.byDay.map((g) => [g.requests, g.stopped, g.failed]),
        [[3, 2, 1]],
      );
    } finally {
      ollama.setBehaviour({ mode: 'ok' });
      sy.dispose();
      ledger.close();
    }
  },
);

test(
  'Show Usage (jsdom): the summary says how many were stopped apart from the failures; the tables have a stopped column',
  { skip: !fs.existsSync(webviewBundle('usage')) && 'run esbuild first' },
  () => {
    const group = (key: string, over: Partial<UsageGroupView> = {}): UsageGroupView => ({
      key,
      requests: 0,
      ok: 0,
      failed: 0,
      stopped: 0,
      local: 0,
      cloud: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      ...over,
    });
    const data: UsageDataView = {
      rangeDays: 7,
      dbPath: '/tmp/usage.sqlite',
      total: group('all', { requests: 6, ok: 3, failed: 1, stopped: 2, local: 6 }),
      byTask: [group('chat', { requests: 6, ok: 3, failed: 1, stopped: 2, local: 6 })],
      byProvider: [],
      byModel: [],
      byDay: [],
      failuresByKind: [{ kind: 'unreachable', count: 1 }],
      audit: [],
    };
    const page = loadWebview<{ kind: string }>('usage', '<div id="app" data-view="usage"></div>');
    try {
      page.deliver({ kind: 'notify', name: 'usage/data', payload: data });
      const doc = page.window.document;
      assert.match(doc.querySelector('#content .summary')!.textContent ?? '', /^6 requests \(1 failed, 2 stopped\), 100% local/);
      const table = doc.querySelector('#content table')!;
      const head = [...table.querySelectorAll('th')].map((th) => th.textContent);
      const row = [...table.querySelectorAll('tr')][1]!;
      const cells = [...row.querySelectorAll('td')].map((td) => td.textContent);
      assert.equal(cells[head.indexOf('failed')], '1');
      assert.equal(cells[head.indexOf('stopped')], '2');
      // One legend for the day chart: its own, in the SVG (an HTML one above it said the same again).
      assert.equal(doc.querySelectorAll('#content .legend-swatch').length, 2);
      assert.equal(doc.querySelectorAll('#content div.legend').length, 0);
      // Nothing stopped: the summary reads as before.
      page.deliver({
        kind: 'notify',
        name: 'usage/data',
        payload: { ...data, total: group('all', { requests: 4, ok: 3, failed: 1, local: 4 }) },
      });
      assert.match(doc.querySelector('#content .summary')!.textContent ?? '', /^4 requests \(1 failed\), 100% local/);
    } finally {
      page.window.close();
    }
  },
);
