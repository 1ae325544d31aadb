/**
 * `npm run bench`: what the router costs, measured against the local test servers in one run.
 *  1. time to first token and total time through the router vs the same `openai` client called directly
 *     (target: the router adds ≤ 1 ms at the median);
 *  2. a refused local connection → the first cloud token (target ≤ 10 ms plus the cloud server's own latency);
 *  3. a hung local server: the first request pays the first-token timeout once, later ones skip it while it cools down.
 * Numbers, not pass/fail: timing assertions flake on shared machines; this prints them for people to read.
 */
import OpenAI from 'openai';
import { parseConfig } from '../src/core/config/config';
import { Switchyard } from '../src/core/switchyard';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer } from '../test/fixtures';

const N = Number(process.env.BENCH_N ?? 300);
const TOKENS = Array.from({ length: 32 }, (_, i) => ` t${i}`);

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function main() {
  const cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: TOKENS }) });
  const hung = await startOllamaServer({ backend: scriptedBackend() });
  hung.setBehaviour({ mode: 'hang' }, 'POST /api/chat');
  const refused = await closedPort();
  const messages = [{ role: 'user' as const, content: 'benchmark' }];
  const secrets = { getApiKey: async () => 'bench-key' };

  const make = (chat: string[], firstTokenTimeoutMs = 30000) =>
    new Switchyard({
      config: parseConfig({
        'switchyard.providers': [
          { id: 'srv', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1` },
          { id: 'down', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
          { id: 'hung', kind: 'ollama', baseUrl: hung.url },
        ],
        'switchyard.tasks': { chat },
        'switchyard.privacy': 'allow',
        'switchyard.routing.firstTokenTimeoutMs': firstTokenTimeoutMs,
      }).config,
      secrets,
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    });

  // 1. Direct client vs router.
  const client = new OpenAI({ baseURL: `${cloud.url}/v1`, apiKey: 'bench-key', maxRetries: 0 });
  const direct = async () => {
    const t0 = performance.now();
    let ttft = 0;
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) if (!ttft && chunk.choices[0]?.delta?.content) ttft = performance.now() - t0;
    return { ttft, total: performance.now() - t0 };
  };
  const sy = make(['srv/gpt-4.1-mini']);
  const routed = async (s = sy) => {
    const t0 = performance.now();
    let ttft = 0;
    for await (const ev of s.router.chat({ task: 'chat', messages })) if (!ttft && ev.type === 'text') ttft = performance.now() - t0;
    return { ttft, total: performance.now() - t0 };
  };
  for (let i = 0; i < 30; i++) {
    await direct();
    await routed();
  }
  const d: { ttft: number; total: number }[] = [];
  const r: { ttft: number; total: number }[] = [];
  for (let i = 0; i < N; i++) {
    // Interleave so that machine noise hits both sides alike.
    d.push(await direct());
    r.push(await routed());
  }
  const dT = stats(d.map((x) => x.ttft));
  const rT = stats(r.map((x) => x.ttft));
  const dA = stats(d.map((x) => x.total));
  const rA = stats(r.map((x) => x.total));
  console.log(`router overhead (${N} streamed chats of ${TOKENS.length} tokens, interleaved)`);
  console.log(
    `  time to first token  direct p50 ${ms(dT.p50)}  router p50 ${ms(rT.p50)}  added ${ms(rT.p50 - dT.p50)} (target ≤ 1 ms)  ratio ${(rT.p50 / dT.p50).toFixed(3)}`,
  );
  console.log(
    `  total time           direct p50 ${ms(dA.p50)}  router p50 ${ms(rA.p50)}  added ${ms(rA.p50 - dA.p50)}  ratio ${(rA.p50 / dA.p50).toFixed(3)}`,
  );
  const paired = stats(r.map((x, i) => x.total - d[i].total));
  const pairedT = stats(r.map((x, i) => x.ttft - d[i].ttft));
  console.log(
    `  paired differences   first token p50 ${ms(pairedT.p50)}  total p50 ${ms(paired.p50)}  (median of router − direct, pair by pair)`,
  );
  console.log(`  p95 total            direct ${ms(dA.p95)}  router ${ms(rA.p95)}`);

  // 2. Refused local → cloud. Health is cleared each time so that every request meets the refused port.
  const fb = make(['down/qwen2.5-coder:7b', 'srv/gpt-4.1-mini']);
  const f: number[] = [];
  for (let i = 0; i < Math.min(N, 200); i++) {
    fb.router.health.clear();
    f.push((await routed(fb)).ttft);
  }
  const fS = stats(f);
  console.log(
    `refused local → cloud first token: p50 ${ms(fS.p50)}  p95 ${ms(fS.p95)}  (cloud alone p50 ${ms(dT.p50)}; added ${ms(fS.p50 - dT.p50)}, target ≤ 10 ms)`,
  );

  // 3. Hung local server, first-token timeout 250 ms.
  const hy = make(['hung/qwen2.5-coder:7b', 'srv/gpt-4.1-mini'], 250);
  const h: number[] = [];
  for (let i = 0; i < 5; i++) h.push((await routed(hy)).ttft);
  console.log(
    `hung local (first-token timeout 250 ms): first request ${ms(h[0])}, next ${h.slice(1).map(ms).join(', ')}  (server asked ${hung.counts['POST /api/chat'] ?? 0} time(s))`,
  );

  await cloud.close();
  await hung.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
