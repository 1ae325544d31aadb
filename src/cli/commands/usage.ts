/**
 * `switchyard usage`: what a usage ledger (the SQLite file `switchyard serve --db FILE` writes, or VS Code's, named at
 * the bottom of Show Usage) holds. Without --egress: the request summary (requests, local vs cloud, tokens, cost,
 * time to first token, per task, provider and model, failures by kind). With --egress: every request that left the
 * machine, newest first (time, task, provider/model, host, bytes, redaction counts by kind, the workspace files it
 * carried). --json prints the same as JSON: the summary object, or an array of egress records. Reads only; the ledger
 * is never pruned from here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatEgressSource, formatRedactions } from '../../core/usage/ledger';
import { SqliteLedger, type EgressQuery, type SummaryRange, type UsageGroup } from '../../core/usage/sqliteLedger';
import { formatMs, formatShare, formatUsd } from '../../protocol/usageFormat';
import { UsageError, printable, requireNativeNode, type Io } from '../common';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A --since/--until day (UTC) as the ISO bound of the ledger's `at`: the day's first or last millisecond. */
function dayBound(option: string, value: string | undefined, end: boolean): string | undefined {
  if (value === undefined) return undefined;
  const start = new Date(`${value}T00:00:00.000Z`);
  if (!DAY.test(value) || Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== value)
    throw new UsageError(`--${option} must be a day as YYYY-MM-DD (UTC), got "${value}"`);
  return end ? `${value}T23:59:59.999Z` : start.toISOString();
}

/** Columns padded to their widest cell, numbers to the right; a last text column is not padded. */
function table(rows: string[][], numeric: ReadonlySet<number> = new Set()): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const cell = (text: string, i: number, last: boolean) =>
    numeric.has(i) ? text.padStart(widths[i]!) : last ? text : text.padEnd(widths[i]!);
  return rows
    .map((r) =>
      r
        .map((text, i) => cell(text, i, i === r.length - 1))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function groups(title: string, gs: readonly UsageGroup[]): string {
  const rows = [[title, 'requests', 'failed', 'local', 'tokens in', 'tokens out', 'cost', 'TTFT p50', 'TTFT p95']];
  for (const g of gs)
    rows.push([
      printable(g.key),
      String(g.requests),
      String(g.failed),
      formatShare(g.local, g.local + g.cloud, '-'),
      String(g.inputTokens),
      String(g.outputTokens),
      formatUsd(g.costUsd),
      formatMs(g.ttftP50Ms, '-'),
      formatMs(g.ttftP95Ms, '-'),
    ]);
  return table(rows, new Set([1, 2, 3, 4, 5, 6, 7, 8]));
}

/** The --egress list: every request that left the machine in the query's range, as a table or JSON. */
function printEgress(ledger: SqliteLedger, query: EgressQuery, period: string, json: boolean, io: Io): void {
  const records = ledger.egressList(query);
  if (json) {
    io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
  } else if (records.length === 0) {
    io.stdout.write(`Nothing has left this machine ${period}${query.provider ? ` to ${printable(query.provider)}` : ''}.\n`);
  } else {
    const rows = [['time (UTC)', 'task', 'provider/model', 'host', 'bytes', 'redactions', 'files']];
    for (const e of records) {
      rows.push([
        e.at.replace('T', ' ').slice(0, 19),
        printable(e.task),
        printable(`${e.providerId}/${e.model}`),
        printable(e.host),
        String(e.bytesSent),
        formatRedactions(e.redactions),
        e.sources.length ? printable(e.sources.map(formatEgressSource).join(', ')) : '-',
      ]);
    }
    io.stdout.write(
      `${table(rows, new Set([4]))}\n${records.length} request${records.length === 1 ? '' : 's'} left this machine ${period}.\n`,
    );
  }
}

/** The request summary of the range: totals, egress count, per task/provider/model tables and failures, or JSON. */
function printSummary(ledger: SqliteLedger, range: SummaryRange, period: string, json: boolean, io: Io): void {
  const s = ledger.summary(range);
  const egressRequests = ledger.egressCount(range);
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...s, egressRequests }, null, 2)}\n`);
    return;
  }
  const t = s.total;
  const out = [
    `${t.requests} requests (${t.failed} failed${t.stopped ? `, ${t.stopped} stopped` : ''}), ` +
      `${formatShare(t.local, t.local + t.cloud, '-')} local, ` +
      `${t.inputTokens} tokens in / ${t.outputTokens} out, estimated cost ${formatUsd(t.costUsd)}, ` +
      `time to first token p50 ${formatMs(t.ttftP50Ms, '-')} / p95 ${formatMs(t.ttftP95Ms, '-')}`,
    `${egressRequests} request${egressRequests === 1 ? '' : 's'} left this machine ${period}` +
      `${egressRequests ? ' (switchyard usage --egress lists them)' : ''}`,
  ];
  if (t.requests > 0) out.push('', groups('task', s.byTask), '', groups('provider', s.byProvider), '', groups('model', s.byModel));
  if (s.failuresByKind.length) out.push('', `failures: ${s.failuresByKind.map((f) => `${f.kind} ${f.count}`).join(', ')}`);
  io.stdout.write(`${out.join('\n')}\n`);
}

export async function usage(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      json: { type: 'boolean' },
      egress: { type: 'boolean' },
      since: { type: 'string' },
      until: { type: 'string' },
      provider: { type: 'string' },
      verbose: { type: 'boolean' },
    },
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`usage takes no arguments (got "${positionals[0]}")`);
  if (!values.db)
    throw new UsageError(
      "usage needs --db FILE: the usage ledger `switchyard serve --db FILE` writes (VS Code's is named at the bottom of Show Usage)",
    );
  if (values.provider !== undefined && !values.egress) throw new UsageError('--provider filters the egress list: use it with --egress');
  const range: SummaryRange = { since: dayBound('since', values.since, false), until: dayBound('until', values.until, true) };
  if (range.since && range.until && range.since > range.until)
    throw new UsageError(`--since ${values.since} is after --until ${values.until}`);
  requireNativeNode('usage'); // before the ledger (better-sqlite3) is looked for or opened
  const file = path.resolve(values.db);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new Error(`no usage ledger at ${file}`);

  const ledger = new SqliteLedger({ path: file });
  try {
    const period = range.since || range.until ? 'in this period' : 'in the ledger';
    if (values.egress) printEgress(ledger, { ...range, provider: values.provider }, period, values.json ?? false, io);
    else printSummary(ledger, range, period, values.json ?? false, io);
    return 0;
  } catch (e) {
    // The ledger's own message speaks of recording; here the file is only read.
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : undefined;
    if (cause !== undefined) throw new Error(`cannot read the usage ledger ${file}: ${cause}`);
    throw e;
  } finally {
    ledger.close();
  }
}
