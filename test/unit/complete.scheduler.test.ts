// Completions (issue 15): the request scheduler. Debounce, superseded requests aborted (also at a real HTTP server:
// the cancel reaches the fetch), the count of requests for a typing burst, the debounce growing with a slow model's
// latency, and the Completer's cache-first path. Time is a fake clock the tests advance: no real sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CompletionScheduler, Completer, DEFAULT_DEBOUNCE_MS, buildContext, chooseFimTemplate } from '../../src/core/complete';
import type { FimChoice, FimPrompt, SchedulerClock } from '../../src/core/complete';

class FakeClock implements SchedulerClock {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; cb: () => void }>();
  now() {
    return this.t;
  }
  setTimeout(cb: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, cb });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers.delete(h as number);
  }
  /** Moves time forward, firing due timers in order and letting promise callbacks run after each. */
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; cb: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].cb();
      await flush();
    }
    this.t = end;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A model that answers after `latencyMs` of fake time and records what it was asked and which calls were aborted. */
function fakeModel(clock: FakeClock, latencyMs: number) {
  const calls: Array<{ request: string; signal: AbortSignal }> = [];
  const run = (request: string, signal: AbortSignal) =>
    new Promise<string | undefined>((resolve, reject) => {
      calls.push({ request, signal });
      const h = clock.setTimeout(() => resolve(`after ${request}`), latencyMs);
      signal.addEventListener('abort', () => {
        clock.clearTimeout(h);
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  return { calls, run };
}

test('a call waiting for its debounce is superseded by the next: it resolves undefined and never runs', async () => {
  const clock = new FakeClock();
  const m = fakeModel(clock, 10);
  const s = new CompletionScheduler(m.run, { clock });
  const a = s.schedule('a');
  await clock.advance(100);
  const b = s.schedule('b');
  assert.equal(await a, undefined);
  await clock.advance(DEFAULT_DEBOUNCE_MS - 1);
  assert.equal(m.calls.length, 0, 'still debouncing b');
  await clock.advance(1 + 10);
  assert.equal(await b, 'after b');
  assert.deepEqual(
    m.calls.map((c) => c.request),
    ['b'],
  );
});

test('a new call aborts the request in flight (its signal), which resolves undefined', async () => {
  const clock = new FakeClock();
  const m = fakeModel(clock, 1000);
  const s = new CompletionScheduler(m.run, { clock });
  const a = s.schedule('a');
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.equal(m.calls.length, 1);
  assert.equal(m.calls[0]!.signal.aborted, false);
  const b = s.schedule('b');
  assert.equal(m.calls[0]!.signal.aborted, true);
  assert.equal(await a, undefined);
  await clock.advance(DEFAULT_DEBOUNCE_MS + 1000);
  assert.equal(await b, 'after b');
  assert.equal(s.started, 2);
});

test("the caller's signal cancels: waiting or in flight, the result is undefined and the request is aborted", async () => {
  const clock = new FakeClock();
  const m = fakeModel(clock, 1000);
  const s = new CompletionScheduler(m.run, { clock });
  const ac = new AbortController();
  const a = s.schedule('a', ac.signal);
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  ac.abort();
  assert.equal(await a, undefined);
  assert.equal(m.calls[0]!.signal.aborted, true);
  const pre = new AbortController();
  pre.abort();
  assert.equal(await s.schedule('b', pre.signal), undefined);
  const waiting = new AbortController();
  const c = s.schedule('c', waiting.signal);
  waiting.abort();
  assert.equal(await c, undefined);
  await clock.advance(5000);
  assert.equal(m.calls.length, 1, 'neither b nor c ran');
});

test('an error that is not an abort reaches the caller', async () => {
  const clock = new FakeClock();
  const s = new CompletionScheduler<string, string>(
    async () => {
      throw new Error('unreachable');
    },
    { clock },
  );
  const p = s.schedule('a');
  const settled = p.then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.equal(await settled, 'unreachable');
  // A run that throws synchronously rejects the same way (no uncaught exception from the timer).
  const sync = new CompletionScheduler<string, string>(
    () => {
      throw new Error('bad request');
    },
    { clock },
  );
  const q = sync.schedule('a').then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.equal(await q, 'bad request');
});

async function typingBurst(latencyMs: number) {
  const clock = new FakeClock();
  const m = fakeModel(clock, latencyMs);
  const s = new CompletionScheduler(m.run, { clock });
  const results: Array<Promise<string | undefined>> = [];
  for (let i = 0; i < 20; i++) {
    results.push(s.schedule(`prefix+${i + 1}`));
    await clock.advance(60);
  }
  await clock.advance(10_000);
  const values = await Promise.all(results);
  return { s, m, values };
}

test('typing 20 characters at 60 ms intervals makes one request (the last), whatever the latency', async () => {
  for (const latency of [50, 300, 2000]) {
    const { s, m, values } = await typingBurst(latency);
    assert.equal(s.started, 1, `latency ${latency}`);
    assert.deepEqual(
      m.calls.map((c) => c.request),
      ['prefix+20'],
    );
    assert.deepEqual(
      values.filter((v) => v !== undefined),
      ['after prefix+20'],
    );
  }
});

test('the debounce grows with the moving p50 of the model latency, bounded', async () => {
  const clock = new FakeClock();
  const m = fakeModel(clock, 1200);
  const s = new CompletionScheduler(m.run, { clock, maxDebounceMs: 800 });
  assert.equal(s.debounceMs(), DEFAULT_DEBOUNCE_MS);
  assert.equal(s.p50LatencyMs(), undefined);
  const first = s.schedule('a');
  await clock.advance(DEFAULT_DEBOUNCE_MS + 1200);
  assert.equal(await first, 'after a');
  assert.equal(s.p50LatencyMs(), 1200);
  assert.equal(s.debounceMs(), 600, 'half the p50');
  // The next call waits the longer debounce.
  const second = s.schedule('b');
  await clock.advance(599);
  assert.equal(m.calls.length, 1);
  await clock.advance(1 + 1200);
  assert.equal(await second, 'after b');
  const slow = new CompletionScheduler(fakeModel(clock, 5000).run, { clock, maxDebounceMs: 800 });
  const p = slow.schedule('c');
  await clock.advance(DEFAULT_DEBOUNCE_MS + 5000);
  await p;
  assert.equal(slow.debounceMs(), 800, 'capped');
  // A fast model keeps the base debounce.
  const fast = new CompletionScheduler(fakeModel(clock, 40).run, { clock });
  const q = fast.schedule('d');
  await clock.advance(DEFAULT_DEBOUNCE_MS + 40);
  await q;
  assert.equal(fast.debounceMs(), DEFAULT_DEBOUNCE_MS);
});

test('the cancel reaches the fetch: a superseded request is disconnected at a real HTTP server', async (t) => {
  const seen: string[] = [];
  const closed: string[] = [];
  const server = http.createServer((req, res) => {
    const id = req.url!.slice(1);
    seen.push(id);
    res.on('close', () => {
      if (!res.writableEnded) closed.push(id);
      server.emit('request-closed', id);
    });
    server.emit('held', id);
    if (id === 'b') res.end('done b'); // only the last one answers; 'a' hangs like a model still generating
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clock = new FakeClock();
  const s = new CompletionScheduler<string, string>(
    async (id, signal) => {
      const r = await fetch(`${base}/${id}`, { signal });
      return r.text();
    },
    { clock },
  );
  const heldA = once(server, 'held');
  const a = s.schedule('a');
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  await heldA;
  const closedA = once(server, 'request-closed');
  const b = s.schedule('b');
  assert.equal(await a, undefined);
  assert.deepEqual(await closedA, ['a']);
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.equal(await b, 'done b');
  assert.deepEqual(seen, ['a', 'b']);
  assert.deepEqual(closed, ['a'], 'a was disconnected before it answered; b was not');
});

test('Completer: cache first (exact and typed ahead, no request), else one scheduled request, post-processed', async () => {
  const clock = new FakeClock();
  const asked: FimPrompt[] = [];
  const completer = new Completer({
    clock,
    fetchInfill: async (_model, prompt) => {
      asked.push(prompt);
      return 'return a + b;<|endoftext|>ignored';
    },
  });
  const choice = chooseFimTemplate({ model: 'qwen2.5-coder:1.5b' }) as Extract<FimChoice, { usable: true }>;
  const doc = 'function add(a, b) {\n  \n}\n';
  const at = doc.indexOf('\n}');
  const ctx = buildContext({ text: doc, offset: at });
  const first = completer.complete('m', choice, ctx);
  await clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.deepEqual(await first, { text: 'return a + b;', source: 'model', model: 'm' });
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.prompt, '<|fim_prefix|>function add(a, b) {\n  <|fim_suffix|>\n}\n<|fim_middle|>');
  assert.deepEqual(await completer.complete('m', choice, ctx), { text: 'return a + b;', source: 'cache', model: 'm' });
  const typed = 'function add(a, b) {\n  retu\n}\n';
  const ctx2 = buildContext({ text: typed, offset: typed.indexOf('\n}') });
  assert.deepEqual(completer.cached('m', ctx2), { text: 'rn a + b;', source: 'typedAhead', model: 'm' });
  assert.deepEqual(await completer.complete('m', choice, ctx2), { text: 'rn a + b;', source: 'typedAhead', model: 'm' });
  assert.equal(asked.length, 1, 'no second request');
});
