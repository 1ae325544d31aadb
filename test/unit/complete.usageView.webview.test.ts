// Show Usage's inline completions table (issue 15) in jsdom: per model, suggestions shown and accepted, the accept
// rate and the p50 latency, from the ledger's suggestion summary; an empty period says so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { SuggestionGroupView, UsageDataView, UsageGroupView } from '../../src/protocol/usage';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('usage')) && 'run esbuild first';
const group = (key: string): UsageGroupView => ({
  key,
  requests: 0,
  ok: 0,
  failed: 0,
  local: 0,
  cloud: 0,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
});
const sugg = (key: string, over: Partial<SuggestionGroupView>): SuggestionGroupView => ({
  key,
  local: true,
  shown: 0,
  accepted: 0,
  partial: 0,
  acceptedChars: 0,
  ...over,
});

function data(completions: UsageDataView['completions']): UsageDataView {
  return {
    rangeDays: 7,
    dbPath: '/tmp/u.sqlite',
    total: group('all'),
    byTask: [],
    byProvider: [],
    byModel: [],
    byDay: [],
    failuresByKind: [],
    audit: [],
    completions,
  };
}

test('usage view (jsdom): inline completions per model with accept rate and p50 latency', { skip }, () => {
  const page = loadWebview<{ kind: string }>('usage', '<div id="app" data-view="usage"></div>');
  try {
    page.deliver({ kind: 'notify', name: 'usage/data', payload: data(undefined) });
    assert.match(page.byId('completions').textContent ?? '', /No inline suggestions shown in this period/);
    page.deliver({
      kind: 'notify',
      name: 'usage/data',
      payload: data({
        total: sugg('all', { local: false, shown: 8, accepted: 3, partial: 1, acceptRate: 3 / 8, latencyP50Ms: 140, acceptedChars: 61 }),
        byModel: [
          sugg('box/qwen2.5-coder:7b', { shown: 6, accepted: 3, partial: 1, acceptRate: 0.5, latencyP50Ms: 120.4, acceptedChars: 61 }),
          sugg('cloud/codestral', { local: false, shown: 2, acceptRate: 0, latencyP50Ms: 410 }),
        ],
      }),
    });
    const rows = [...page.byId('completions').querySelectorAll('tr')]
      .slice(1)
      .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    assert.deepEqual(rows, [
      ['box/qwen2.5-coder:7b (local)', '6', '3 (1 in part)', '50%', '120 ms', '61'],
      ['cloud/codestral (cloud)', '2', '0', '0%', '410 ms', '0'],
      ['all models', '8', '3 (1 in part)', '38%', '140 ms', '61'],
    ]);
  } finally {
    page.window.close();
  }
});
