// The "Show Usage" webview's script in jsdom against a scripted host (test/fixtures/webviewDom.ts): what it draws
// from the host's data, what it posts back, and that names from the ledger are text, never markup.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { EgressRowView, EgressView, UsageDataView, UsageGroupView } from '../../src/protocol/usage';
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
    total: group('all', {
      requests: 5,
      ok: 4,
      failed: 1,
      local: 3,
      cloud: 2,
      inputTokens: 100,
      outputTokens: 50,
      costUsd: 0.25,
      ttftP50Ms: 120,
      ttftP95Ms: 300,
    }),
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

type Sent = { kind: string; id?: number; name?: string; payload?: unknown };

/** The host's `usage/data` notification (src/protocol/usage.ts, in the envelope of src/protocol/envelope.ts). */
const usageData = (d: UsageDataView) => ({ kind: 'notify', name: 'usage/data', payload: d });
/** The last request the page posted, without its id. */
const lastRequest = (sent: Sent[]) => {
  const m = sent.at(-1)!;
  assert.equal(m.kind, 'request');
  assert.ok(Number.isInteger(m.id));
  return { name: m.name, payload: m.payload };
};
const settled = () => new Promise((resolve) => setImmediate(resolve));

test('usage view (jsdom): the day chart has a bar for every day of the range, quiet days included, oldest first', { skip }, () => {
  const page = loadWebview<Sent>('usage', '<div id="app" data-view="usage"></div>');
  try {
    assert.deepEqual(page.sent, [{ kind: 'ready' }]);
    page.deliver(usageData(data()));
    const bars = [...page.window.document.querySelectorAll('rect.bar-local')];
    const days = bars.map((b) => b.getAttribute('data-day'));
    assert.ok(days.length >= 7 && days.length <= 8, `7 days back to today: ${days.join(' ')}`);
    assert.deepEqual(days, [...days].sort(), 'oldest first');
    assert.equal(days[days.length - 1], day(0));
    assert.ok(days.includes(day(6)) && days.includes(day(3)), 'a day without requests still has its place');
    const height = (d: string, cls: string) =>
      Number(page.window.document.querySelector(`rect.${cls}[data-day="${d}"]`)!.getAttribute('height'));
    assert.equal(height(day(3), 'bar-local') + height(day(3), 'bar-cloud'), 0);
    assert.ok(height(day(6), 'bar-local') > 0 && height(day(0), 'bar-cloud') > 0);

    // A year fits: 366 bars no wider than the view's drawing budget.
    page.deliver(usageData(data({ rangeDays: 365 })));
    const year = page.window.document.querySelectorAll('rect.bar-local');
    assert.ok(year.length >= 365 && year.length <= 366, String(year.length));
    assert.ok(
      Number(page.window.document.querySelector('svg[aria-label="Local and cloud requests per day"]')!.getAttribute('width')) <= 1200,
    );
  } finally {
    page.window.close();
  }
});

test(
  'usage view (jsdom): ledger names render as text; range and export post to the host; the range control survives new data',
  { skip },
  async () => {
    const page = loadWebview<Sent>('usage', '<div id="app" data-view="usage"></div>');
    try {
      page.deliver(usageData(data()));
      const doc = page.window.document;
      assert.equal(doc.querySelectorAll('img').length, 0, 'a provider key with markup is not markup');
      assert.ok([...doc.querySelectorAll('td')].some((td) => td.textContent === '<img src=x onerror=alert(1)>'));
      assert.match(doc.getElementById('content')!.textContent ?? '', /5 requests \(1 failed\), 60% local/);
      assert.match(doc.getElementById('content')!.textContent ?? '', /unreachable: 1/);
      assert.match(doc.getElementById('content')!.textContent ?? '', /switchyard\.privacy: allow → ask/);

      const range = page.byId('range');
      assert.equal(range.value, '7');
      page.choose(range, '30');
      assert.deepEqual(lastRequest(page.sent), { name: 'usage/range', payload: { days: 30 } });
      // New records arrive while the user has the dropdown: the same control stays, with their choice.
      range.focus();
      page.deliver(usageData(data()));
      assert.equal(page.byId('range'), range);
      assert.equal(range.value, '30');

      page.byId('export-csv').click();
      assert.deepEqual(lastRequest(page.sent), { name: 'usage/exportCsv', payload: {} });
      page.deliver({
        kind: 'reply',
        id: page.sent.at(-1)!.id,
        ok: true,
        payload: { path: '/home/me/usage.csv', egressPath: '/home/me/usage-egress.csv' },
      });
      await settled();
      page.deliver(usageData(data()));
      assert.match(page.byId('notes').textContent ?? '', /Exported to \/home\/me\/usage\.csv/, 'the note outlives the next data');
      page.byId('export-csv').click();
      const error = { kind: 'error', message: 'Could not write /ro/usage.csv: read-only file system' };
      page.deliver({ kind: 'reply', id: page.sent.at(-1)!.id, ok: false, error });
      await settled();
      assert.match(page.byId('notes').textContent ?? '', /read-only file system/);
    } finally {
      page.window.close();
    }
  },
);

function egressRow(over: Partial<EgressRowView> = {}): EgressRowView {
  return {
    at: '2026-11-02T10:15:30.000Z',
    task: 'chat',
    providerId: 'openai',
    model: 'gpt-4.1-mini',
    host: 'api.openai.com',
    bytesSent: 2048,
    redactionCount: 0,
    redactions: 'none',
    files: [],
    ...over,
  };
}

function egressData(over: Partial<EgressView> = {}): EgressView {
  return {
    day: '',
    provider: '',
    days: [
      { day: '2026-11-02', count: 2 },
      { day: '2026-11-01', count: 1 },
    ],
    providers: [
      { provider: '<b>evil</b>', count: 1 },
      { provider: 'openai', count: 2 },
    ],
    rows: [
      egressRow({
        redactionCount: 2,
        redactions: '2 redacted: aws-secret-access-key ×1, openai-api-key ×1',
        files: ['src/a.ts:10-24', 'README.md'],
      }),
      egressRow({
        at: '2026-11-02T09:00:00.000Z',
        providerId: '<b>evil</b>',
        model: '<img src=x onerror=alert(1)>',
        host: '<i>h</i>',
        bytesSent: 12,
        files: ['<script>x()</script>.ts:1-2'],
      }),
      egressRow({ at: '2026-11-01T08:00:00.000Z', task: 'explain' }),
    ],
    total: 3,
    ...over,
  };
}

test(
  'usage view (jsdom): the Egress tab lists what left the machine, newest first: time, task, provider/model, host, bytes, redactions, files',
  { skip },
  () => {
    const page = loadWebview<Sent>('usage', '<div id="app" data-view="usage"></div>');
    try {
      const doc = page.window.document;
      page.deliver(usageData(data({ egress: egressData() })));
      const egress = page.byId('egress') as unknown as { hidden: boolean };
      const content = page.byId('content') as unknown as { hidden: boolean };
      assert.equal(egress.hidden, true, 'the summary shows first');
      assert.equal(content.hidden, false);
      assert.equal(doc.querySelector('#content .egress-summary')!.textContent, '3 requests left this machine in this period: see Egress');
      page.byId('tab-egress').click();
      assert.equal(egress.hidden, false);
      assert.equal(content.hidden, true);
      assert.equal(page.byId('tab-egress').getAttribute('aria-selected'), 'true');

      const rows = [...doc.querySelectorAll('#egress-rows tr.egress-row')];
      assert.equal(rows.length, 3);
      const cells = (r: (typeof rows)[number]) => [...r.querySelectorAll('td')].map((td) => td.textContent);
      assert.deepEqual(cells(rows[0]!), [
        '2026-11-02 10:15:30',
        'chat',
        'openai/gpt-4.1-mini',
        'api.openai.com',
        '2.0 KiB',
        '2 redacted: aws-secret-access-key ×1, openai-api-key ×1',
        'src/a.ts:10-24README.md',
      ]);
      assert.deepEqual(
        [...rows[0]!.querySelectorAll('td.files li')].map((li) => li.textContent),
        ['src/a.ts:10-24', 'README.md'],
      );
      assert.equal(rows[0]!.querySelectorAll('td.bytes')[0]!.getAttribute('title'), '2048 bytes');
      assert.deepEqual(cells(rows[2]!).slice(0, 2), ['2026-11-01 08:00:00', 'explain']);
      assert.equal(cells(rows[2]!)[6], '—', 'no workspace files');
      // Names from the ledger are text, never markup.
      assert.equal(doc.querySelectorAll('#egress img, #egress script, #egress b, #egress i').length, 0);
      assert.deepEqual(cells(rows[1]!).slice(2, 4), ['<b>evil</b>/<img src=x onerror=alert(1)>', '<i>h</i>']);
      assert.equal(rows[1]!.querySelectorAll('li')[0]!.textContent, '<script>x()</script>.ts:1-2');
      assert.match(page.byId('egress-count').textContent ?? '', /3 requests left this machine in this period/);
      assert.equal((page.byId('egress-empty') as unknown as { hidden: boolean }).hidden, true);

      // The filters offer the period's days and providers, and post the choice to the host.
      assert.deepEqual(
        [...doc.querySelectorAll('#egress-provider option')].map((o) => o.textContent),
        ['all providers', '<b>evil</b> (1)', 'openai (2)'],
      );
      assert.deepEqual(
        [...doc.querySelectorAll('#egress-day option')].map((o) => o.getAttribute('value')),
        ['', '2026-11-02', '2026-11-01'],
      );
      page.choose(page.byId('egress-provider'), 'openai');
      assert.deepEqual(lastRequest(page.sent), { name: 'usage/egressFilter', payload: { day: '', provider: 'openai' } });
      page.choose(page.byId('egress-day'), '2026-11-02');
      assert.deepEqual(lastRequest(page.sent), { name: 'usage/egressFilter', payload: { day: '2026-11-02', provider: 'openai' } });
      page.deliver(usageData(data({ egress: egressData({ day: '2026-11-02', provider: 'openai', rows: [egressRow()], total: 1 }) })));
      assert.equal(doc.querySelectorAll('#egress-rows tr').length, 1);
      assert.equal(page.byId('egress-day').value, '2026-11-02');
      assert.equal(page.byId('egress-provider').value, 'openai');
      assert.match(page.byId('egress-count').textContent ?? '', /^1 request left this machine on 2026-11-02 to openai\.$/);
      // The period control is the same for both views.
      page.choose(page.byId('range'), '90');
      assert.deepEqual(lastRequest(page.sent), { name: 'usage/range', payload: { days: 90 } });
      assert.equal(egress.hidden, false, 'new data keeps the chosen view');
      page.byId('tab-summary').click();
      assert.equal(egress.hidden, true);
      assert.equal(content.hidden, false);
      (doc.querySelector('#content .egress-summary a') as unknown as { click(): void }).click();
      assert.equal(egress.hidden, false, 'the summary links to the Egress view');
    } finally {
      page.window.close();
    }
  },
);

test('usage view (jsdom): the Egress tab says when nothing left the machine, or that the ledger could not be read', { skip }, async () => {
  const page = loadWebview<Sent>('usage', '<div id="app" data-view="usage"></div>');
  try {
    page.deliver(usageData(data({ egress: { day: '', provider: '', days: [], providers: [], rows: [], total: 0 } })));
    page.byId('tab-egress').click();
    const empty = page.byId('egress-empty') as unknown as { hidden: boolean; textContent: string };
    assert.equal(empty.hidden, false);
    assert.equal(empty.textContent, 'Nothing has left this machine in this period.');
    assert.equal((page.byId('egress-table') as unknown as { hidden: boolean }).hidden, true);
    assert.equal(page.window.document.querySelector('.egress-summary'), null, 'the summary names no egress when there was none');
    page.deliver(usageData(data({ egress: undefined, error: 'The usage ledger could not open /x/usage.sqlite: disk I/O error.' })));
    assert.equal(empty.textContent, 'The usage ledger could not open /x/usage.sqlite: disk I/O error.');
    page.byId('export-csv').click();
    page.deliver({
      kind: 'reply',
      id: page.sent.at(-1)!.id,
      ok: true,
      payload: { path: '/home/me/usage.csv', egressPath: '/home/me/usage-egress.csv' },
    });
    await settled();
    assert.match(page.byId('notes').textContent ?? '', /Exported to \/home\/me\/usage\.csv and \/home\/me\/usage-egress\.csv/);
  } finally {
    page.window.close();
  }
});

test('usage view (jsdom): the charts have labelled axes and a legend', { skip }, () => {
  const page = loadWebview<Sent>('usage', '<div id="app" data-view="usage"></div>');
  try {
    page.deliver(usageData(data()));
    const doc = page.window.document;
    const texts = (sel: string) => [...doc.querySelectorAll(`svg[aria-label="${sel}"] text`)].map((t) => t.textContent);
    const day = texts('Local and cloud requests per day');
    for (const label of ['Requests', 'Day (UTC)', 'local', 'cloud', '0'])
      assert.ok(day.includes(label), `day chart: ${label} (${day.join(', ')})`);
    const cost = texts('Estimated cost per provider');
    for (const label of ['Provider', 'Estimated cost (USD)']) assert.ok(cost.includes(label), `cost chart: ${label}`);
  } finally {
    page.window.close();
  }
});
