/**
 * `npm run bench -- complete`: what the completion core costs, each number beside a baseline measured in the same run.
 * - cache hit (exact and typed-ahead) on a realistic context (targets: ≤ 1 ms), against a bare Map lookup by a
 *   precomputed key and one sha256 of the same text;
 * - building the context from a 100 KB document, against one slice of the same size;
 * - post-processing a multi-line suggestion, against only cutting it at its stops;
 * - how many requests the scheduler lets through when a user types 20 characters at 60 ms intervals against a fake
 *   model of a given latency (target: 1–2), against one request per keystroke without it. Fake clock: exact counts.
 * - the whole path (CompletionService: budgets, cache, scheduler, Router.complete, the provider, post-processing)
 *   against the Ollama and llama.cpp test servers, over calling the same server directly with fetch and the same body
 *   (target: ≤ 2 ms p50 over direct); a cache hit through the service (target: ≤ 1 ms); and, in real time with the
 *   default 250 ms debounce, how many requests reach the server when a user types 20 characters at 60 ms intervals.
 * Numbers, not pass/fail: timing assertions flake on shared machines; this prints them for people to read.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  Completer,
  CompletionCache,
  CompletionScheduler,
  chooseFimTemplate,
  FIM_TEMPLATES,
  buildContext,
  cutAtStop,
  postProcess,
} from '../src/core/complete';
import type { FimChoice, SchedulerClock } from '../src/core/complete';
import { CompletionService, type EditorContext } from '../src/core/complete/service';
import { parseConfig } from '../src/core/config/config';
import { privacyContext } from '../src/core/routing/privacy';
import { Switchyard } from '../src/core/switchyard';
import { MemoryLedger } from '../src/core/usage/ledger';
import { closedPort, scriptedBackend, startLlamaCppServer, startOllamaServer } from '../test/fixtures';

const N = Number(process.env.BENCH_N ?? 2000);
const ms = (x: number) => `${x.toFixed(4)} ms`;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99) };
}

function time(f: () => unknown, n = N): { p50: number; p99: number } {
  for (let i = 0; i < 50; i++) f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    xs.push(performance.now() - t0);
  }
  return stats(xs);
}

function row(label: string, r: { p50: number; p99: number }, base?: { p50: number }) {
  const over = base ? `  (${(r.p50 / Math.max(base.p50, 1e-6)).toFixed(1)}× baseline)` : '';
  console.log(`${label.padEnd(58)} p50 ${ms(r.p50)}  p99 ${ms(r.p99)}${over}`);
}

/** This repository's own TypeScript, concatenated to about 100 KB: a realistic large document. */
function document(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(__dirname, '..', 'src', 'core'));
  let text = '';
  for (const f of files) {
    if (text.length >= 100_000) break;
    text += readFileSync(f, 'utf8');
  }
  return text.slice(0, 100_000);
}

const doc = document();
const cursor = doc.indexOf('\n', Math.floor(doc.length * 0.6)) + 1;
const ctx = buildContext({ text: doc, offset: cursor }); // default budgets: 1500 prefix / 500 suffix tokens
const model = 'ollama/qwen2.5-coder:1.5b';
const suggestion = '  const result = await provider.complete(request, signal);\n  return result;';

console.log(`context: prefix ${ctx.prefix.length} chars, suffix ${ctx.suffix.length} chars (document ${doc.length})`);

// ---- cache ----
const cache = new CompletionCache();
for (let i = 0; i < 255; i++) cache.set(model, ctx.prefix.slice(i), ctx.suffix, `filler ${i}`);
cache.set(model, ctx.prefix, ctx.suffix, suggestion);
const typedPrefix = ctx.prefix + suggestion.slice(0, 12);
const plain = new Map<string, string>([[ctx.prefix + ctx.suffix, suggestion]]);
const plainKey = ctx.prefix + ctx.suffix;
console.log('\n### cache hit (256 entries)');
const baseMap = time(() => plain.get(plainKey));
row('baseline: Map.get by a precomputed string key', baseMap);
const baseHash = time(() => createHash('sha256').update(ctx.prefix).update(ctx.suffix).digest('base64'));
row('baseline: one sha256 of prefix + suffix', baseHash);
row(
  'exact hit (digest + LRU refresh)',
  time(() => cache.lookup(model, ctx.prefix, ctx.suffix)),
  baseHash,
);
row(
  'typed-ahead hit (12 characters of the suggestion typed)',
  time(() => cache.lookup(model, typedPrefix, ctx.suffix)),
  baseHash,
);
row(
  'miss',
  time(() => cache.lookup(model, ctx.prefix + 'zz', ctx.suffix)),
  baseHash,
);
if (cache.lookup(model, typedPrefix, ctx.suffix)?.typedAhead !== 12) throw new Error('typed-ahead did not hit');

// ---- context ----
console.log('\n### context from a 100 KB document');
const len = ctx.prefix.length + ctx.suffix.length;
row(
  'baseline: one slice of the same length',
  time(() => doc.slice(cursor - ctx.prefix.length, cursor - ctx.prefix.length + len).length),
);
row(
  'buildContext (prefix + suffix at line boundaries)',
  time(() => buildContext({ text: doc, offset: cursor })),
);

// ---- post-processing ----
console.log('\n### post-processing');
const stop = FIM_TEMPLATES['qwen-coder'].stop;
const raw = `\n  const x = items.map((i) => i * 2);\n  const y = x.filter(Boolean);\n  return y;\n}\n<|endoftext|>${'junk '.repeat(40)}`;
const pre = 'function double(items: number[]) {';
const post = '\n}\n\nexport { double };\n';
const baseCut = time(() => cutAtStop(raw, stop));
row('baseline: cut at the stop tokens only', baseCut);
row(
  'postProcess (all rules, multi-line)',
  time(() => postProcess({ completion: raw, prefix: pre, suffix: post, stop })),
  baseCut,
);
row(
  'postProcess on the real 100 KB context',
  time(() => postProcess({ completion: raw, prefix: ctx.prefix, suffix: ctx.suffix, stop })),
  baseCut,
);

// ---- scheduler ----
class FakeClock implements SchedulerClock {
  t = 0;
  private seq = 0;
  readonly timers = new Map<number, { at: number; cb: () => void }>();
  now() {
    return this.t;
  }
  setTimeout(cb: () => void, delay: number) {
    this.timers.set(++this.seq, { at: this.t + delay, cb });
    return this.seq;
  }
  clearTimeout(h: unknown) {
    this.timers.delete(h as number);
  }
  async advance(delta: number) {
    const end = this.t + delta;
    for (;;) {
      let next: [number, { at: number; cb: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].cb();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.t = end;
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

async function burst(latencyMs: number, warmups: number, intervalMs = 60) {
  const clock = new FakeClock();
  let reached = 0;
  let aborted = 0;
  const s = new CompletionScheduler<number, string>(
    (i, signal) =>
      new Promise((resolve, reject) => {
        reached++;
        const h = clock.setTimeout(() => resolve(`c${i}`), latencyMs);
        signal.addEventListener('abort', () => {
          aborted++;
          clock.clearTimeout(h);
          reject(new DOMException('aborted', 'AbortError'));
        });
      }),
    { clock },
  );
  // Earlier requests teach the scheduler the model's latency (the adaptive debounce).
  for (let w = 0; w < warmups; w++) {
    const p = s.schedule(-1);
    await clock.advance(5000);
    await p;
  }
  reached = 0;
  aborted = 0;
  const shown: Array<Promise<string | undefined>> = [];
  for (let i = 0; i < 20; i++) {
    shown.push(s.schedule(i));
    await clock.advance(intervalMs);
  }
  await clock.advance(10_000);
  const values = (await Promise.all(shown)).filter((v) => v !== undefined);
  return { reached, aborted, shown: values.length, debounce: s.debounceMs() };
}

async function schedulerTable() {
  console.log('\n### 20 characters typed at 60 ms intervals');
  console.log('baseline: no scheduler, one request per keystroke: 20 requests reach the server');
  for (const latency of [30, 150, 400, 1000, 3000]) {
    for (const warm of [0, 3]) {
      const r = await burst(latency, warm);
      console.log(
        `model latency ${String(latency).padStart(4)} ms, ${warm ? 'after 3 requests' : 'first use      '}: ` +
          `${r.reached} request(s) reach the server, ${r.aborted} aborted, ${r.shown} shown; debounce now ${r.debounce} ms`,
      );
    }
  }
  console.log('\n### a slow typist: 20 characters at 300 ms intervals (longer than the base debounce)');
  for (const latency of [150, 1000]) {
    for (const warm of [0, 3]) {
      const r = await burst(latency, warm, 300);
      console.log(
        `model latency ${String(latency).padStart(4)} ms, ${warm ? 'after 3 requests' : 'first use      '}: ` +
          `${r.reached} request(s) reach the server, ${r.aborted} aborted, ${r.shown} shown; debounce now ${r.debounce} ms`,
      );
    }
  }
}

/** The whole core path: the user types 20 characters of the suggestion being shown: served by the cache. */
async function typedAheadTable() {
  const clock = new FakeClock();
  let requests = 0;
  const completer = new Completer({
    clock,
    fetchInfill: async () => {
      requests++;
      return 'const total = items.reduce((sum, item) => sum + item.price, 0);';
    },
  });
  const choice = chooseFimTemplate({ model: 'qwen2.5-coder:1.5b' }) as Extract<FimChoice, { usable: true }>;
  const before = doc.slice(0, cursor) + '  ';
  const after = '\n' + doc.slice(cursor);
  const first = completer.complete(model, choice, buildContext({ text: before + after, offset: before.length }));
  await clock.advance(1000);
  const shown = (await first)!.text;
  const sources: string[] = [];
  const times: number[] = [];
  for (let i = 1; i <= 20; i++) {
    const text = before + shown.slice(0, i) + after;
    const t0 = performance.now();
    const c = completer.cached(model, buildContext({ text, offset: before.length + i }));
    times.push(performance.now() - t0);
    sources.push(c?.source ?? 'miss');
  }
  console.log('\n### typing 20 characters of the shown suggestion (buildContext + cache, no scheduler)');
  console.log(
    `requests: ${requests} (the first), then ${sources.filter((s) => s === 'typedAhead').length}/20 typed-ahead hits; ` +
      `per keystroke p50 ${ms(stats(times).p50)} (context from the 100 KB document + lookup)`,
  );
}

async function timeAsync(f: (i: number) => Promise<unknown>, n: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 30; i++) await f(-1 - i);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f(i);
    xs.push(performance.now() - t0);
  }
  return stats(xs);
}

/**
 * Several ways of doing the same request, measured in turn within each round (the order rotating), so that the
 * machine's drift (other processes, GC, JIT) falls on all of them alike.
 */
async function interleaved(fs: ((i: number) => Promise<unknown>)[], n: number): Promise<{ p50: number; p99: number }[]> {
  for (let w = 0; w < 30; w++) for (const f of fs) await f(-1 - w);
  const xs: number[][] = fs.map(() => []);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < fs.length; k++) {
      const j = (i + k) % fs.length;
      const t0 = performance.now();
      await fs[j]!(i);
      xs[j]!.push(performance.now() - t0);
    }
  }
  return xs.map(stats);
}

/** The same numbers, with the overhead over the baseline in ms as well as the ratio. */
function overRow(label: string, r: { p50: number; p99: number }, base: { p50: number; p99: number }) {
  console.log(
    `${label.padEnd(58)} p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  (+${(r.p50 - base.p50).toFixed(3)} ms p50, +${(r.p99 - base.p99).toFixed(3)} ms p99, ${(r.p50 / base.p50).toFixed(2)}× direct)`,
  );
}

/** Debounce excluded from the overhead rows: it is waiting by design (the typing rows below measure it). */
const immediate: SchedulerClock = { now: () => performance.now(), setTimeout: (cb) => (queueMicrotask(cb), 0), clearTimeout: () => {} };

async function wholePath() {
  const tokens = ['const', ' total', ' =', ' items', '.length;'];
  const ollama = await startOllamaServer({
    backend: scriptedBackend({ tokens }),
    models: [{ name: 'qwen2.5-coder:1.5b', contextLength: 32768, insert: true }],
  });
  const llama = await startLlamaCppServer({ backend: scriptedBackend({ tokens }), modelAlias: 'qwen2.5-coder-1.5b-q8_0.gguf' });
  const down = `http://127.0.0.1:${await closedPort()}`;
  const settings = (complete: string[]) =>
    parseConfig({
      'switchyard.providers': [
        { id: 'ollama', kind: 'ollama', baseUrl: ollama.url },
        { id: 'llamacpp', kind: 'llamacpp', baseUrl: llama.url },
        { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${down}/v1` },
        { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      ],
      'switchyard.tasks': { complete },
      'switchyard.privacy': 'local-only',
    }).config;
  const usage = new MemoryLedger();
  const sy = new Switchyard({
    config: settings(['ollama/qwen2.5-coder:1.5b']),
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => privacyContext(c),
    usage,
  });
  const before = doc.slice(0, cursor);
  const after = doc.slice(cursor);
  /** A distinct context per iteration (a cache miss every time): the cursor line ends differently. */
  const editor = (i: number): EditorContext => ({
    filePath: 'src/core/x.ts',
    languageId: 'typescript',
    prefix: `${before}  const v${i} = `,
    suffix: after,
  });
  const n = Math.min(N, 400);
  const service = new CompletionService(sy, { usage, debounceMs: 0, clock: immediate });
  const sample = await service.complete(editor(0));
  if (!sample || sample.source !== 'model') throw new Error(`the whole path did not answer: ${JSON.stringify(sample)}`);

  console.log(`\n### the whole path vs the test server called directly (${n} requests each, cache misses, debounce excluded)`);
  // The bodies the providers send, sent with fetch: the least any client does.
  const cut = (i: number) => buildContext({ text: `${before}  const v${i} = ${after}`, offset: before.length + `  const v${i} = `.length });
  const ollamaBody = (i: number) => {
    const c = cut(i);
    return JSON.stringify({
      model: 'qwen2.5-coder:1.5b',
      prompt: c.prefix,
      suffix: c.suffix,
      stream: false,
      options: { num_ctx: 4096, num_predict: 64, temperature: 0.1, stop: [...FIM_TEMPLATES['qwen-coder'].stop, '\n'] },
    });
  };
  const provider = sy.registry.get('ollama')!;
  const [direct, prov, whole] = await interleaved(
    [
      async (i) => {
        const r = await fetch(`${ollama.url}/api/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: ollamaBody(i),
        });
        await r.json();
      },
      async (i) => {
        const c = cut(i);
        await provider.complete!({
          model: 'qwen2.5-coder:1.5b',
          mode: 'suffix',
          prompt: c.prefix,
          suffix: c.suffix,
          maxTokens: 64,
          stop: [...FIM_TEMPLATES['qwen-coder'].stop, '\n'],
        });
      },
      (i) => service.complete(editor(1000 + i)),
    ],
    n,
  );
  row('baseline: fetch POST /api/generate (Ollama test server)', direct);
  overRow('provider only (OllamaProvider.complete, the ollama client)', prov, direct);
  overRow('whole path: CompletionService.complete (Ollama)', whole, direct);

  sy.setConfig(settings(['llamacpp/qwen2.5-coder-1.5b-q8_0.gguf']));
  const infillBody = (i: number) => {
    const c = cut(i);
    return JSON.stringify({
      input_prefix: c.prefix,
      input_suffix: c.suffix,
      input_extra: [],
      n_predict: 64,
      stop: [...FIM_TEMPLATES['qwen-coder'].stop, '\n'],
      temperature: 0.1,
      stream: false,
      cache_prompt: true,
    });
  };
  const [directInfill, wholeInfill] = await interleaved(
    [
      async (i) => {
        const r = await fetch(`${llama.url}/infill`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: infillBody(i),
        });
        await r.json();
      },
      (i) => service.complete(editor(5000 + i)),
    ],
    n,
  );
  row('baseline: fetch POST /infill (llama.cpp test server)', directInfill);
  overRow('whole path: CompletionService.complete (llama.cpp /infill)', wholeInfill, directInfill);

  console.log('\n### a cache hit through the service (100 KB document: budgets, digest, lookup)');
  sy.setConfig(settings(['ollama/qwen2.5-coder:1.5b']));
  const hitCtx = editor(-100);
  await service.complete(hitCtx);
  const typed = { ...hitCtx, prefix: hitCtx.prefix + 'const'.slice(0, 3) };
  const lookups: string[] = [];
  const exact = await timeAsync(async () => lookups.push((await service.complete(hitCtx))!.source), N);
  row('exact hit: CompletionService.complete', exact);
  const ahead = await timeAsync(async () => lookups.push((await service.complete(typed))!.source), N);
  row('typed-ahead hit (3 characters of the suggestion typed)', ahead);
  if (lookups.some((l, i) => l !== (i < N + 30 ? 'cache' : 'typedAhead'))) throw new Error('a lookup missed the cache');

  console.log('\n### real time: typing 20 characters at 60 ms intervals through the service (debounce 250 ms default, adaptive)');
  for (const latency of [0, 150]) {
    for (const typingSuggestion of [false, true]) {
      const typing = new CompletionService(sy, { usage });
      ollama.setBehaviour(latency ? { mode: 'slow', delayMs: latency } : { mode: 'ok' }, 'POST /api/generate');
      // The suggestion shown before typing starts (when typing it) comes from one request made first.
      const start = editor(-200);
      const shown = typingSuggestion ? (await typing.complete(start))!.text : 'xxxxxxxxxxxxxxxxxxxxxxxx';
      const reached0 = ollama.counts['POST /api/generate'] ?? 0;
      const aborted0 = ollama.aborted;
      const results: Promise<unknown>[] = [];
      for (let i = 1; i <= 20; i++) {
        const typed = shown.repeat(3).slice(0, i);
        results.push(typing.complete({ ...start, prefix: start.prefix + typed }).catch(() => undefined));
        await new Promise((r) => setTimeout(r, 60));
      }
      const answers = await Promise.all(results);
      const reached = (ollama.counts['POST /api/generate'] ?? 0) - reached0;
      const sources = answers.filter(Boolean).map((a) => (a as { source: string }).source);
      console.log(
        `server latency ${String(latency).padStart(3)} ms, typing ${typingSuggestion ? 'the shown suggestion ' : 'other characters     '}: ` +
          `${reached} request(s) reached the server (${ollama.aborted - aborted0} aborted there), ${sources.length} shown (${[...new Set(sources)].join(', ') || 'none'}); baseline without the service: 20`,
      );
      typing.dispose();
    }
  }
  ollama.setBehaviour({ mode: 'ok' });
  service.dispose();
  sy.dispose();
  await ollama.close();
  await llama.close();
}

void schedulerTable().then(typedAheadTable).then(wholePath);
