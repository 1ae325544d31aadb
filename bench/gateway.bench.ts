/**
 * `npm run bench -- gateway`: what the gateway costs. The test server (upstream) and the gateway (`switchyard serve`,
 * the same code as in VS Code) each run in their own process; this process runs the clients.
 *  1. 32 concurrent streaming clients (the real `openai` client), rounds alternating between straight to the test
 *     server and through the gateway: added time to first token and total time, p50/p99 (target ≤ 1 ms p50,
 *     ≤ 5 ms p99), and the throughput ratio (tokens/s through the gateway ÷ direct);
 *  2. a bounded soak: the same load through the gateway for BENCH_SOAK_S seconds (default 20), sampling the gateway
 *     process's live heap after a forced GC (bench/gateway.heapprobe.cjs) and resident memory: they should stay flat.
 * BENCH_PROFILE_DIR=dir writes a CPU profile of the gateway process there.
 * Numbers, not pass/fail: timings on a shared 2-core machine are noisy; this prints them for people to read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const SOAK_S = Number(process.env.BENCH_SOAK_S ?? 20);
const TOKEN = 'bench-gateway-token-0123456789';
const root = path.resolve(__dirname, '..');

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { p50: q(0.5), p99: q(0.99), n: s.length };
}
const ms = (x: number) => `${x.toFixed(3)} ms`;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Sample {
  ttft: number;
  total: number;
  tokens: number;
}

async function one(client: OpenAI, model: string): Promise<Sample> {
  const start = performance.now();
  let ttft = 0;
  let tokens = 0;
  const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'benchmark' }], stream: true });
  for await (const ch of stream) {
    if (ch.choices[0]?.delta.content) {
      if (!ttft) ttft = performance.now() - start;
      tokens++;
    }
  }
  return { ttft, total: performance.now() - start, tokens };
}

async function round(client: OpenAI, model: string): Promise<{ samples: Sample[]; wallMs: number }> {
  const start = performance.now();
  const samples = await Promise.all(Array.from({ length: CONCURRENCY }, () => one(client, model)));
  return { samples, wallMs: performance.now() - start };
}

async function main() {
  const children: ChildProcess[] = [];
  const stop = () => children.forEach((c) => c.kill('SIGTERM'));
  process.on('exit', stop);
  try {
    const upstream = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'gateway.upstream.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(upstream);
    const upstreamUrl = await firstLine(upstream, 'the test server');
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-'));
    const cfg = path.join(dir, 'settings.json');
    writeFileSync(cfg, JSON.stringify({ 'switchyard.providers': [{ id: 'srv', kind: 'openai-compatible', baseUrl: `${upstreamUrl}/v1` }], 'switchyard.tasks': { chat: ['srv/gpt-4.1-mini'] } }));
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
    const heapFile = path.join(dir, 'heap.txt');
    writeFileSync(heapFile, '');
    const gw = spawn(process.execPath, [...profile, '--expose-gc', '--require', path.join(__dirname, 'gateway.heapprobe.cjs'), '--import', 'tsx', path.join(root, 'src', 'cli', 'main.ts'), 'serve', '--port', '0', '--config', cfg, '--token', TOKEN], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, BENCH_HEAP_FILE: heapFile } });
    children.push(gw);
    const gatewayUrl = await firstLine(gw, 'switchyard serve');

    const direct = new OpenAI({ baseURL: `${upstreamUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    const through = new OpenAI({ baseURL: gatewayUrl, apiKey: TOKEN, maxRetries: 0 });
    // Warm-up: connections, JIT, discovery.
    for (let i = 0; i < 3; i++) {
      await round(direct, 'gpt-4.1-mini');
      await round(through, 'switchyard/chat');
    }

    const d: Sample[] = [];
    const g: Sample[] = [];
    let dWall = 0;
    let gWall = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const a = await round(direct, 'gpt-4.1-mini');
      const b = await round(through, 'switchyard/chat');
      d.push(...a.samples);
      g.push(...b.samples);
      dWall += a.wallMs;
      gWall += b.wallMs;
    }
    const dt = stats(d.map((s) => s.ttft));
    const gt = stats(g.map((s) => s.ttft));
    const dT = stats(d.map((s) => s.total));
    const gT = stats(g.map((s) => s.total));
    const tokens = (xs: Sample[]) => xs.reduce((n, s) => n + s.tokens, 0);
    if (tokens(g) !== tokens(d)) console.log(`! token counts differ: direct ${tokens(d)}, gateway ${tokens(g)}`);
    const dRate = (tokens(d) * 1000) / dWall;
    const gRate = (tokens(g) * 1000) / gWall;
    console.log(`${CONCURRENCY} concurrent streaming clients × ${ROUNDS} rounds (${d.length} requests each way, ${d[0]!.tokens} tokens per answer)`);
    console.log(`time to first token  direct p50 ${ms(dt.p50)} p99 ${ms(dt.p99)} | gateway p50 ${ms(gt.p50)} p99 ${ms(gt.p99)}`);
    console.log(`total time           direct p50 ${ms(dT.p50)} p99 ${ms(dT.p99)} | gateway p50 ${ms(gT.p50)} p99 ${ms(gT.p99)}`);
    console.log(`added by the gateway: first token p50 ${ms(gt.p50 - dt.p50)} p99 ${ms(gt.p99 - dt.p99)}; total p50 ${ms(gT.p50 - dT.p50)} p99 ${ms(gT.p99 - dT.p99)} (target ≤ 1 ms p50, ≤ 5 ms p99)`);
    console.log(`throughput: direct ${dRate.toFixed(0)} tokens/s, gateway ${gRate.toFixed(0)} tokens/s, ratio ${(gRate / dRate).toFixed(3)}`);

    // Soak: memory of the gateway process under the same load for a bounded time.
    /** Live heap of the gateway after a full GC, in MB (the probe writes it on SIGUSR2). */
    const heapMb = async (): Promise<number> => {
      const before = readFileSync(heapFile, 'utf8').split('\n').filter(Boolean).length;
      gw.kill('SIGUSR2');
      for (let i = 0; i < 100; i++) {
        const lines = readFileSync(heapFile, 'utf8').split('\n').filter(Boolean);
        if (lines.length > before) return Number(lines.at(-1)) / 1024 / 1024;
        await new Promise((r) => setTimeout(r, 20));
      }
      return NaN;
    };
    const heaps: number[] = [await heapMb()];
    const samples: { t: number; rss: number }[] = [{ t: 0, rss: rssKb(gw.pid!) }];
    const soakStart = performance.now();
    let requests = 0;
    let nextSample = 2000;
    while (performance.now() - soakStart < SOAK_S * 1000) {
      requests += (await round(through, 'switchyard/chat')).samples.length;
      const t = performance.now() - soakStart;
      if (t >= nextSample) {
        samples.push({ t, rss: rssKb(gw.pid!) });
        heaps.push(await heapMb());
        nextSample += 2000;
      }
    }
    const first = samples[1] ?? samples[0]!;
    const last = samples.at(-1)!;
    const half = samples[Math.floor(samples.length / 2)]!;
    console.log(`soak: ${requests} streaming requests in ${SOAK_S} s through the gateway`);
    const mid = heaps[Math.floor(heaps.length / 2)]!;
    console.log(`gateway live heap after GC: start ${heaps[0]!.toFixed(1)} MB, samples ${heaps.map((h) => h.toFixed(1)).join(' ')} MB (second half growth ${(heaps.at(-1)! - mid).toFixed(2)} MB)`);
    console.log(`gateway RSS: start ${(samples[0]!.rss / 1024).toFixed(1)} MB, after warm-up ${(first.rss / 1024).toFixed(1)} MB, middle ${(half.rss / 1024).toFixed(1)} MB, end ${(last.rss / 1024).toFixed(1)} MB (second half growth ${((last.rss - half.rss) / 1024).toFixed(1)} MB)`);
  } finally {
    stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
