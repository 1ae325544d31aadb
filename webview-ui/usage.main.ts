/**
 * The "Switchyard: Show Usage" webview: local vs cloud requests per day and cost per provider as SVG charts, tables
 * per task, provider and model (requests, tokens, cost, p50/p95 time to first token), failures by kind, the settings
 * audit list, and CSV export (the host writes the file). Self-contained: no network, text set via textContent only.
 */
import type { UsageDataView, UsageFromWebview, UsageGroupView, UsageToWebview } from '../src/protocol/usage';

declare function acquireVsCodeApi(): { postMessage(m: UsageFromWebview): void };
const vscode = acquireVsCodeApi();
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

const fmtMs = (v?: number) => (v === undefined ? '–' : `${v.toFixed(0)} ms`);
const fmtUsd = (v: number) => (v === 0 ? '$0' : v < 0.01 ? `$${v.toFixed(5)}` : `$${v.toFixed(2)}`);
const pct = (a: number, b: number) => (b === 0 ? '–' : `${Math.round((100 * a) / b)}%`);

/** Stacked bars: local (bottom) and cloud requests per day. */
function dayChart(days: UsageGroupView[]): SVGElement {
  const w = Math.max(320, days.length * 28 + 40);
  const h = 160;
  const max = Math.max(1, ...days.map((d) => d.local + d.cloud));
  const root = svg('svg', { width: w, height: h + 30, role: 'img', 'aria-label': 'Local and cloud requests per day' });
  root.appendChild(svg('text', { x: 0, y: 10, class: 'axis' }, `${max}`));
  days.forEach((d, i) => {
    const x = 30 + i * 28;
    const lh = (d.local / max) * h;
    const ch = (d.cloud / max) * h;
    const local = svg('rect', { x, y: h - lh + 10, width: 20, height: lh, class: 'bar-local' });
    local.appendChild(svg('title', {}, `${d.key}: ${d.local} local`));
    const cloud = svg('rect', { x, y: h - lh - ch + 10, width: 20, height: ch, class: 'bar-cloud' });
    cloud.appendChild(svg('title', {}, `${d.key}: ${d.cloud} cloud`));
    root.append(local, cloud, svg('text', { x, y: h + 24, class: 'axis' }, d.key.slice(5)));
  });
  return root;
}

/** Horizontal bars: estimated cost per provider. */
function costChart(providers: UsageGroupView[]): SVGElement {
  const rows = providers.filter((p) => p.costUsd > 0 || p.cloud > 0);
  const h = Math.max(1, rows.length) * 22 + 4;
  const max = Math.max(1e-9, ...rows.map((p) => p.costUsd));
  const root = svg('svg', { width: 420, height: h, role: 'img', 'aria-label': 'Estimated cost per provider' });
  if (rows.length === 0) root.appendChild(svg('text', { x: 0, y: 16, class: 'axis' }, 'No cloud cost in this period.'));
  rows.forEach((p, i) => {
    const y = i * 22 + 2;
    root.append(svg('text', { x: 0, y: y + 14, class: 'axis' }, p.key), svg('rect', { x: 110, y, width: Math.max(2, (p.costUsd / max) * 220), height: 16, class: 'bar-cost' }), svg('text', { x: 340, y: y + 14, class: 'axis' }, fmtUsd(p.costUsd)));
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
  for (const [h, n] of [['', false], ['requests', true], ['failed', true], ['local', true], ['tokens in', true], ['tokens out', true], ['cost', true], ['TTFT p50', true], ['TTFT p95', true]] as const) head.appendChild(el('th', h, n ? 'n' : undefined));
  t.appendChild(head);
  for (const g of groups) {
    const tr = el('tr');
    tr.appendChild(el('td', g.key));
    for (const v of [String(g.requests), String(g.failed), pct(g.local, g.local + g.cloud), String(g.inputTokens), String(g.outputTokens), fmtUsd(g.costUsd), fmtMs(g.ttftP50Ms), fmtMs(g.ttftP95Ms)]) tr.appendChild(el('td', v, 'n'));
    t.appendChild(tr);
  }
  wrap.appendChild(t);
  return wrap;
}

function render(d: UsageDataView): void {
  const root = document.getElementById('root')!;
  root.replaceChildren();
  const header = el('div');
  header.appendChild(el('h1', 'Switchyard usage'));
  const range = el('select');
  range.id = 'range';
  for (const days of [1, 7, 30, 90, 365]) {
    const o = el('option', days === 1 ? 'last day' : `last ${days} days`);
    o.value = String(days);
    o.selected = days === d.rangeDays;
    range.appendChild(o);
  }
  range.addEventListener('change', () => vscode.postMessage({ type: 'usage/range', days: Number(range.value) }));
  const exportButton = el('button', 'Export CSV');
  exportButton.id = 'export-csv';
  exportButton.addEventListener('click', () => vscode.postMessage({ type: 'usage/exportCsv' }));
  header.append(range, el('span', ' '), exportButton);
  root.appendChild(header);
  if (d.error) root.appendChild(el('p', d.error, 'error'));
  const t = d.total;
  root.appendChild(el('p', `${t.requests} requests (${t.failed} failed), ${pct(t.local, t.local + t.cloud)} local, ${t.inputTokens} tokens in / ${t.outputTokens} out, estimated cost ${fmtUsd(t.costUsd)}, time to first token p50 ${fmtMs(t.ttftP50Ms)} / p95 ${fmtMs(t.ttftP95Ms)}.`, 'summary'));
  root.appendChild(el('h2', 'Local vs cloud per day'));
  const legend = el('div', undefined, 'legend');
  legend.append(el('span', undefined, 'l'), document.createTextNode('local'), el('span', undefined, 'c'), document.createTextNode('cloud'));
  root.append(legend, dayChart(d.byDay));
  root.append(el('h2', 'Estimated cost per provider'), costChart(d.byProvider));
  root.append(table('Per task', d.byTask), table('Per provider', d.byProvider), table('Per model', d.byModel));
  root.appendChild(el('h2', 'Failures by kind'));
  if (d.failuresByKind.length === 0) root.appendChild(el('p', 'None.', 'muted'));
  else {
    const ul = el('ul');
    for (const f of d.failuresByKind) ul.appendChild(el('li', `${f.kind}: ${f.count}`));
    root.appendChild(ul);
  }
  root.appendChild(el('h2', 'Settings changes'));
  if (d.audit.length === 0) root.appendChild(el('p', 'None recorded yet.', 'muted'));
  else {
    const ul = el('ul', undefined, 'audit');
    for (const a of d.audit) ul.appendChild(el('li', `${a.at.replace('T', ' ').slice(0, 19)}  ${a.key}: ${a.change}`));
    root.appendChild(ul);
  }
  root.appendChild(el('p', `Ledger: ${d.dbPath}`, 'muted'));
}

window.addEventListener('message', (e: MessageEvent<UsageToWebview>) => {
  const m = e.data;
  if (m?.type === 'usage/data') render(m.data);
  else if (m?.type === 'usage/exported') document.getElementById('root')?.appendChild(el('p', `Exported to ${m.path}`, 'muted'));
  else if (m?.type === 'usage/error') document.getElementById('root')?.appendChild(el('p', m.message, 'error'));
});
vscode.postMessage({ type: 'ready' });
