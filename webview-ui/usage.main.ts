/**
 * The "Switchyard: Show Usage" webview: local vs cloud requests per day and cost per provider as SVG charts, tables
 * per task, provider and model (requests, tokens, cost, p50/p95 time to first token), failures by kind, the settings
 * audit list, and CSV export (the host writes the file). An Egress tab lists the requests that left the machine in
 * the period (newest first, filtered by day and provider): time, task, provider/model, host, bytes, redactions and the
 * workspace files they carried. Self-contained: no network, text set via textContent only.
 */
import type {
  EgressView,
  SuggestionGroupView,
  UsageDataView,
  UsageGroupView,
  UsageNotifications,
  UsageRequests,
} from '../src/protocol/usage';
import { formatMs, formatShare, formatUsd } from '../src/protocol/usageFormat';
import { Messenger } from './messenger';
import './usage.css';

const host = new Messenger<UsageRequests, UsageNotifications>();
const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmtBytes = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
const fmtTime = (iso: string) => iso.replace('T', ' ').slice(0, 19);

const DAY_MS = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Every UTC day of the range (the ledger's day keys), oldest first: the ledger's group where there were requests and
 * zeros elsewhere, so a quiet day shows as a gap in the chart instead of vanishing from the time axis.
 */
function daysOfRange(byDay: UsageGroupView[], rangeDays: number, now: number): UsageGroupView[] {
  const have = new Map(byDay.map((d) => [d.key, d]));
  const keys = new Set(byDay.map((d) => d.key));
  for (let t = now - rangeDays * DAY_MS; utcDay(t) <= utcDay(now); t += DAY_MS) keys.add(utcDay(t));
  const zero = (key: string): UsageGroupView => ({
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
  return [...keys].sort().map((k) => have.get(k) ?? zero(k));
}

/** Stacked bars: local (bottom) and cloud requests per day; bars narrow for long ranges so a year fits. */
function dayChart(days: UsageGroupView[]): SVGElement {
  const slot = Math.max(3, Math.min(28, Math.floor(860 / Math.max(1, days.length))));
  const bar = Math.max(2, Math.round(slot * 0.72));
  const labelEvery = Math.ceil(40 / slot);
  const w = Math.max(320, days.length * slot + 40);
  const h = 160;
  const max = Math.max(1, ...days.map((d) => d.local + d.cloud));
  // Room above the bars for the axis title and legend, below them for the day labels and the axis title.
  const top = 22;
  const height = h + top + 40;
  // Drawn at its natural size, scaled down to the view's width (class "chart") so today's bar is never off-screen.
  const root = svg('svg', {
    width: w,
    height,
    viewBox: `0 0 ${w} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-label': 'Local and cloud requests per day',
  });
  root.append(
    svg('text', { x: 0, y: 10, class: 'axis axis-title y-title' }, 'Requests'),
    // Legend swatches are text (■) in the bars' colours, so the bars stay the only rects.
    svg('text', { x: 70, y: 11, class: 'bar-local legend-swatch' }, '■'),
    svg('text', { x: 82, y: 10, class: 'axis legend' }, 'local'),
    svg('text', { x: 118, y: 11, class: 'bar-cloud legend-swatch' }, '■'),
    svg('text', { x: 130, y: 10, class: 'axis legend' }, 'cloud'),
    svg('text', { x: 0, y: top + 8, class: 'axis y-max' }, `${max}`),
    svg('text', { x: 0, y: top + h, class: 'axis y-zero' }, '0'),
    svg('line', { x1: 28, y1: top + h, x2: w, y2: top + h, class: 'axis-line', stroke: 'currentColor', 'stroke-opacity': 0.3 }),
    svg('text', { x: 30, y: top + h + 32, class: 'axis axis-title x-title' }, 'Day (UTC)'),
  );
  days.forEach((d, i) => {
    const x = 30 + i * slot;
    const lh = (d.local / max) * h;
    const ch = (d.cloud / max) * h;
    const local = svg('rect', { x, y: h - lh + top, width: bar, height: lh, class: 'bar-local', 'data-day': d.key });
    local.appendChild(svg('title', {}, `${d.key}: ${d.local} local`));
    const cloud = svg('rect', { x, y: h - lh - ch + top, width: bar, height: ch, class: 'bar-cloud', 'data-day': d.key });
    cloud.appendChild(svg('title', {}, `${d.key}: ${d.cloud} cloud`));
    root.append(local, cloud);
    if ((days.length - 1 - i) % labelEvery === 0) root.appendChild(svg('text', { x, y: top + h + 14, class: 'axis' }, d.key.slice(5)));
  });
  return root;
}

/** Horizontal bars: estimated cost per provider. */
function costChart(providers: UsageGroupView[]): SVGElement {
  const rows = providers.filter((p) => p.costUsd > 0 || p.cloud > 0);
  const top = 18;
  const h = Math.max(1, rows.length) * 22 + 4 + top;
  const max = Math.max(1e-9, ...rows.map((p) => p.costUsd));
  const root = svg('svg', {
    width: 420,
    height: h,
    viewBox: `0 0 420 ${h}`,
    class: 'chart',
    role: 'img',
    'aria-label': 'Estimated cost per provider',
  });
  root.append(
    svg('text', { x: 0, y: 11, class: 'axis axis-title y-title' }, 'Provider'),
    svg('text', { x: 110, y: 11, class: 'axis axis-title x-title' }, 'Estimated cost (USD)'),
  );
  if (rows.length === 0) root.appendChild(svg('text', { x: 0, y: top + 16, class: 'axis' }, 'No cloud cost in this period.'));
  rows.forEach((p, i) => {
    const y = top + i * 22 + 2;
    root.append(
      svg('text', { x: 0, y: y + 14, class: 'axis' }, p.key),
      svg('rect', { x: 110, y, width: Math.max(2, (p.costUsd / max) * 220), height: 16, class: 'bar-cost' }),
      svg('text', { x: 340, y: y + 14, class: 'axis' }, formatUsd(p.costUsd)),
    );
  });
  return root;
}

function table(title: string, groups: UsageGroupView[]): HTMLElement {
  const wrap = el('section');
  wrap.appendChild(el('h2', title));
  if (groups.length === 0) {
    wrap.appendChild(el('p', 'No requests in this period.', 'muted'));
    return wrap;
  }
  const t = el('table');
  const head = el('tr');
  for (const [h, n] of [
    ['', false],
    ['requests', true],
    ['failed', true],
    ['stopped', true],
    ['local', true],
    ['tokens in', true],
    ['tokens out', true],
    ['cost', true],
    ['TTFT p50', true],
    ['TTFT p95', true],
  ] as const)
    head.appendChild(el('th', h, n ? 'n' : undefined));
  t.appendChild(head);
  for (const g of groups) {
    const tr = el('tr');
    tr.appendChild(el('td', g.key));
    for (const v of [
      String(g.requests),
      String(g.failed),
      String(g.stopped ?? 0),
      formatShare(g.local, g.local + g.cloud),
      String(g.inputTokens),
      String(g.outputTokens),
      formatUsd(g.costUsd),
      formatMs(g.ttftP50Ms),
      formatMs(g.ttftP95Ms),
    ])
      tr.appendChild(el('td', v, 'n'));
    t.appendChild(tr);
  }
  wrap.appendChild(t);
  return wrap;
}

/** Inline completions per model: suggestions shown, accepted (whole or in part), accept rate, p50 latency. */
function completionsTable(c: UsageDataView['completions']): HTMLElement {
  const wrap = el('section');
  wrap.id = 'completions';
  wrap.appendChild(el('h2', 'Inline completions per model'));
  if (!c || c.byModel.length === 0) {
    wrap.appendChild(el('p', 'No inline suggestions shown in this period.', 'muted'));
    return wrap;
  }
  const t = el('table');
  const head = el('tr');
  for (const [h, n] of [
    ['', false],
    ['shown', true],
    ['accepted', true],
    ['accept rate', true],
    ['latency p50', true],
    ['chars accepted', true],
  ] as const)
    head.appendChild(el('th', h, n ? 'n' : undefined));
  t.appendChild(head);
  for (const g of [...c.byModel, c.total] as SuggestionGroupView[]) {
    const tr = el('tr');
    tr.dataset.model = g.key;
    tr.appendChild(el('td', g.key === 'all' ? 'all models' : `${g.key} (${g.local ? 'local' : 'cloud'})`));
    const rate = g.acceptRate === undefined ? '–' : `${Math.round(g.acceptRate * 100)}%`;
    for (const v of [
      String(g.shown),
      g.partial ? `${g.accepted} (${g.partial} in part)` : String(g.accepted),
      rate,
      formatMs(g.latencyP50Ms),
      String(g.acceptedChars),
    ])
      tr.appendChild(el('td', v, 'n'));
    t.appendChild(tr);
  }
  wrap.appendChild(t);
  return wrap;
}

// The header (range and export) is built once: data arrives again after every new record (at most every 500 ms
// while requests flow), and rebuilding it would close the range dropdown under the user.
const range = el('select');
range.id = 'range';
range.setAttribute('aria-label', 'Period');
for (const days of [1, 7, 30, 90, 365]) {
  const o = el('option', days === 1 ? 'last day' : `last ${days} days`);
  o.value = String(days);
  range.appendChild(o);
}
range.addEventListener('change', () => void host.request('usage/range', { days: Number(range.value) }));
const exportButton = el('button', 'Export CSV');
exportButton.id = 'export-csv';
exportButton.addEventListener('click', () => {
  host.request('usage/exportCsv', {}).then(
    (file) =>
      file && notes.replaceChildren(el('p', `Exported to ${file.path} and ${file.egressPath} (requests that left the machine)`, 'muted')),
    (e: Error) => notes.replaceChildren(el('p', e.message, 'error')),
  );
});
const header = el('div', undefined, 'header');
header.append(el('h1', 'Switchyard usage'), range, el('span', ' '), exportButton);
const notes = el('div');
notes.id = 'notes';
const content = el('div');
content.id = 'content';
content.setAttribute('role', 'tabpanel');

// Two views of the period: the summary (charts and tables) and what left the machine. The choice is the webview's
// own and outlives a reload of the panel's page (VS Code keeps the state while the panel is open).
type View = 'summary' | 'egress';
const tabs = el('div', undefined, 'tabs');
tabs.setAttribute('role', 'tablist');
const tabButton = (view: View, label: string) => {
  const b = el('button', label);
  b.id = `tab-${view}`;
  b.setAttribute('role', 'tab');
  b.addEventListener('click', () => show(view));
  tabs.appendChild(b);
  return b;
};
const summaryTab = tabButton('summary', 'Summary');
const egressTab = tabButton('egress', 'Egress');

const egress = el('section');
egress.id = 'egress';
egress.setAttribute('role', 'tabpanel');
const providerFilter = el('select');
providerFilter.id = 'egress-provider';
providerFilter.setAttribute('aria-label', 'Provider');
const dayFilter = el('select');
dayFilter.id = 'egress-day';
dayFilter.setAttribute('aria-label', 'Day');
const sendFilter = () => void host.request('usage/egressFilter', { day: dayFilter.value, provider: providerFilter.value });
providerFilter.addEventListener('change', sendFilter);
dayFilter.addEventListener('change', sendFilter);
const filters = el('div', undefined, 'filters');
const labelled = (text: string, control: HTMLElement) => {
  const l = el('label', `${text} `);
  l.appendChild(control);
  return l;
};
filters.append(labelled('Day', dayFilter), labelled('Provider', providerFilter));
const egressCount = el('p', undefined, 'muted');
egressCount.id = 'egress-count';
const egressEmpty = el('p');
egressEmpty.id = 'egress-empty';
const egressTable = el('table');
egressTable.id = 'egress-table';
const egressHead = el('tr');
for (const [h, n] of [
  ['time (UTC)', false],
  ['task', false],
  ['provider/model', false],
  ['host', false],
  ['bytes', true],
  ['redactions', false],
  ['files', false],
] as const)
  egressHead.appendChild(el('th', h, n ? 'n' : undefined));
const egressRows = el('tbody');
egressRows.id = 'egress-rows';
const thead = el('thead');
thead.appendChild(egressHead);
egressTable.append(thead, egressRows);
egress.append(
  el('h2', 'What left this machine'),
  el(
    'p',
    'Every request sent to a cloud model, with the workspace files it carried and the secrets redacted from it (counts only).',
    'muted',
  ),
  filters,
  egressCount,
  egressEmpty,
  egressTable,
);

const saved = host.getState() as { view?: View } | undefined;
let view: View = saved?.view === 'egress' ? 'egress' : 'summary';
function show(next: View): void {
  view = next;
  host.setState({ view });
  summaryTab.setAttribute('aria-selected', String(view === 'summary'));
  egressTab.setAttribute('aria-selected', String(view === 'egress'));
  content.hidden = view !== 'summary';
  egress.hidden = view !== 'egress';
}
show(view);

/** A select's options, rebuilt unless the user has it open (data arrives again after every record). */
function options(select: HTMLSelectElement, all: string, items: { value: string; label: string }[], value: string): void {
  if (document.activeElement === select) return;
  select.replaceChildren();
  for (const item of [{ value: '', label: all }, ...items]) {
    const o = el('option', item.label);
    o.value = item.value;
    select.appendChild(o);
  }
  select.value = value;
}

const EMPTY = 'Nothing has left this machine in this period.';

/** `error`: the ledger could not be read, so the list is unknown rather than empty. */
function renderEgress(e: EgressView | undefined, error: string | undefined): void {
  const v: EgressView = e ?? { day: '', provider: '', days: [], providers: [], rows: [], total: 0 };
  options(
    dayFilter,
    'every day of the period',
    v.days.map((d) => ({ value: d.day, label: `${d.day} (${d.count})` })),
    v.day,
  );
  options(
    providerFilter,
    'all providers',
    v.providers.map((p) => ({ value: p.provider, label: `${p.provider} (${p.count})` })),
    v.provider,
  );
  egressEmpty.hidden = v.rows.length > 0;
  egressEmpty.textContent = error ?? EMPTY;
  egressEmpty.className = error ? 'error' : 'muted';
  egressTable.hidden = v.rows.length === 0;
  filters.hidden = v.days.length === 0;
  const requests = (n: number) => `${n} request${n === 1 ? '' : 's'}`;
  egressCount.textContent =
    v.rows.length === 0
      ? ''
      : `${requests(v.total)} left this machine${v.day ? ` on ${v.day}` : ' in this period'}${v.provider ? ` to ${v.provider}` : ''}${v.total > v.rows.length ? ` (the newest ${v.rows.length} shown)` : ''}.`;
  egressRows.replaceChildren();
  for (const r of v.rows) {
    const tr = el('tr', undefined, 'egress-row');
    tr.dataset.provider = r.providerId;
    const bytes = el('td', fmtBytes(r.bytesSent), 'n bytes');
    bytes.title = `${r.bytesSent} bytes`;
    const files = el('td', undefined, 'files');
    if (r.files.length === 0) files.textContent = '—';
    else {
      const ul = el('ul', undefined, 'files');
      for (const f of r.files) ul.appendChild(el('li', f));
      files.appendChild(ul);
    }
    tr.append(
      el('td', fmtTime(r.at), 'time'),
      el('td', r.task, 'task'),
      el('td', `${r.providerId}/${r.model}`, 'model'),
      el('td', r.host, 'host'),
      bytes,
      el('td', r.redactions, 'redactions'),
      files,
    );
    egressRows.appendChild(tr);
  }
}

/** The page's container (src/vscode/webview/html.ts). */
const root = () => document.getElementById('app')!;

function render(d: UsageDataView): void {
  if (header.parentElement !== root()) root().replaceChildren(header, tabs, notes, content, egress);
  if (document.activeElement !== range) range.value = String(d.rangeDays);
  renderEgress(d.egress, d.error);
  content.replaceChildren();
  const add = (...nodes: Node[]) => content.append(...nodes);
  if (d.error) add(el('p', d.error, 'error'));
  const t = d.total;
  add(
    el(
      'p',
      `${t.requests} requests (${t.failed} failed${t.stopped ? `, ${t.stopped} stopped` : ''}), ${formatShare(t.local, t.local + t.cloud)} local, ${t.inputTokens} tokens in / ${t.outputTokens} out, estimated cost ${formatUsd(t.costUsd)}, time to first token p50 ${formatMs(t.ttftP50Ms)} / p95 ${formatMs(t.ttftP95Ms)}.`,
      'summary',
    ),
  );
  const left = d.egress?.days.reduce((n, day) => n + day.count, 0) ?? 0;
  if (left > 0) {
    const p = el('p', `${left} request${left === 1 ? '' : 's'} left this machine in this period: `, 'egress-summary');
    const link = el('a', 'see Egress');
    link.href = '#';
    link.addEventListener('click', (e) => {
      e.preventDefault();
      show('egress');
    });
    p.appendChild(link);
    add(p);
  }
  // The chart draws its own legend next to its axis title (a second one above it said the same).
  add(el('h2', 'Local vs cloud per day'), dayChart(daysOfRange(d.byDay, d.rangeDays, Date.now())));
  add(el('h2', 'Estimated cost per provider'), costChart(d.byProvider));
  add(table('Per task', d.byTask), table('Per provider', d.byProvider), table('Per model', d.byModel));
  add(completionsTable(d.completions));
  add(el('h2', 'Failures by kind'));
  if (d.failuresByKind.length === 0) add(el('p', 'None.', 'muted'));
  else {
    const ul = el('ul');
    for (const f of d.failuresByKind) ul.appendChild(el('li', `${f.kind}: ${f.count}`));
    add(ul);
  }
  add(el('h2', 'Settings changes'));
  if (d.audit.length === 0) add(el('p', 'None recorded yet.', 'muted'));
  else {
    const ul = el('ul', undefined, 'audit');
    for (const a of d.audit) ul.appendChild(el('li', `${a.at.replace('T', ' ').slice(0, 19)}  ${a.key}: ${a.change}`));
    add(ul);
  }
  add(el('p', `Ledger: ${d.dbPath}`, 'muted'));
}

host.on('usage/data', render);
root().replaceChildren(el('p', 'Loading usage…', 'muted'));
host.ready();
