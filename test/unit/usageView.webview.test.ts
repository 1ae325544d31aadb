// The "Show Usage" webview's script in jsdom against a scripted host (test/fixtures/webviewDom.ts): what it draws
// from the host's data, what it posts back, and that names from the ledger are text, never markup.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { UsageDataView, UsageGroupView } from '../../src/protocol/usage';
import { loadWebview, webviewBundle } from '../fixtures/webviewDom';

const skip = !fs.existsSync(webviewBundle('usage')) && 'run esbuild first';
const DAY = 86_400_000;
const day = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString().slice(0, 10);

function group(key: string, over: Partial<UsageGroupView> = {}): UsageGroupView {
  return { key, requests: 0, ok: 0, failed: 0, local: 0, cloud: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, ...over };
}

function data(over: Partial<UsageDataView> = {}): UsageDataView {
  const evil = group('<img src=x onerror=alert(1)>', { requests: 2, ok: 2, cloud: 2, costUsd: 0.25 });
  return {
    rangeDays: 7,
    dbPath: '/tmp/usage.sqlite',
    total: group('all', { requests: 5, ok: 4, failed: 1, local: 3, cloud: 2, inputTokens: 100, outputTokens: 50, costUsd: 0.25, ttftP50Ms: 120, ttftP95Ms: 300 }),
    byTask: [group('chat', { requests: 5, local: 3, cloud: 2 })],
    byProvider: [group('box', { requests: 3, local: 3 }), evil],
    byModel: [],
    // Requests 6 days ago and today; nothing in between.
    byDay: [group(day(6), { requests: 3, local: 3 }), group(day(0), { requests: 2, cloud: 2 })],
    failuresByKind: [{ kind: 'unreachable', count: 1 }],
    audit: [{ at: '2026-11-25T10:00:00.000Z', key: 'switchyard.privacy', change: 'allow → ask' }],
    ...over,
  };
}

type Sent = { type: string; days?: number };

test('usage view (jsdom): the day chart has a bar for every day of the range, quiet days included, oldest first', { skip }, () => {
  const page = loadWebview<Sent>('usage', '<div id="root"></div>');
  try {
    assert.deepEqual(page.sent, [{ type: 'ready' }]);
    page.deliver({ type: 'usage/data', data: data() });
    const bars = [...page.window.document.querySelectorAll('rect.bar-local')];
    const days = bars.map((b) => b.getAttribute('data-day'));
    assert.ok(days.length >= 7 && days.length <= 8, `7 days back to today: ${days.join(' ')}`);
    assert.deepEqual(days, [...days].sort(), 'oldest first');
    assert.equal(days[days.length - 1], day(0));
    assert.ok(days.includes(day(6)) && days.includes(day(3)), 'a day without requests still has its place');
    const height = (d: string, cls: string) => Number(page.window.document.querySelector(`rect.${cls}[data-day="${d}"]`)!.getAttribute('height'));
    assert.equal(height(day(3), 'bar-local') + height(day(3), 'bar-cloud'), 0);
    assert.ok(height(day(6), 'bar-local') > 0 && height(day(0), 'bar-cloud') > 0);

    // A year fits: 366 bars no wider than the view's drawing budget.
    page.deliver({ type: 'usage/data', data: data({ rangeDays: 365 }) });
    const year = page.window.document.querySelectorAll('rect.bar-local');
    assert.ok(year.length >= 365 && year.length <= 366, String(year.length));
    assert.ok(Number(page.window.document.querySelector('svg[aria-label="Local and cloud requests per day"]')!.getAttribute('width')) <= 1200);
  } finally {
    page.window.close();
  }
});

test('usage view (jsdom): ledger names render as text; range and export post to the host; the range control survives new data', { skip }, () => {
  const page = loadWebview<Sent>('usage', '<div id="root"></div>');
  try {
    page.deliver({ type: 'usage/data', data: data() });
    const doc = page.window.document;
    assert.equal(doc.querySelectorAll('img').length, 0, 'a provider key with markup is not markup');
    assert.ok([...doc.querySelectorAll('td')].some((td) => td.textContent === '<img src=x onerror=alert(1)>'));
    assert.match(doc.getElementById('content')!.textContent ?? '', /5 requests \(1 failed\), 60% local/);
    assert.match(doc.getElementById('content')!.textContent ?? '', /unreachable: 1/);
    assert.match(doc.getElementById('content')!.textContent ?? '', /switchyard\.privacy: allow → ask/);

    const range = page.byId('range');
    assert.equal(range.value, '7');
    page.choose(range, '30');
    assert.deepEqual(page.sent.at(-1), { type: 'usage/range', days: 30 });
    // New records arrive while the user has the dropdown: the same control stays, with their choice.
    range.focus();
    page.deliver({ type: 'usage/data', data: data() });
    assert.equal(page.byId('range'), range);
    assert.equal(range.value, '30');

    page.byId('export-csv').click();
    assert.deepEqual(page.sent.at(-1), { type: 'usage/exportCsv' });
    page.deliver({ type: 'usage/exported', path: '/home/me/usage.csv' });
    page.deliver({ type: 'usage/data', data: data() });
    assert.match(page.byId('notes').textContent ?? '', /Exported to \/home\/me\/usage\.csv/, 'the note outlives the next data');
    page.deliver({ type: 'usage/error', message: 'Could not write /ro/usage.csv: read-only file system' });
    assert.match(page.byId('notes').textContent ?? '', /read-only file system/);
  } finally {
    page.window.close();
  }
});
