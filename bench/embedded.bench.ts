/**
 * `npm run bench`: the embedded provider (kind `embedded`, llama.cpp in a child process) against node-llama-cpp
 * called directly in this process, in one run, on the tiny GGUF (test/fixtures/tinyModel.ts), same settings
 * (CPU, 1 thread, context 512, same prompt, 400-token budget, greedy):
 *  1. generation speed: output tokens per second of wall time, in alternating blocks (direct, Switchyard, direct,
 *     Switchyard) so the load of a shared machine hits both alike; medians (target: Switchyard ≥ 95 % of direct);
 *  2. cold start: time from the first request to the first token with no process and no model loaded
 *     (fork + node-llama-cpp import + model load + first token), next to the same for a direct in-process load.
 * Numbers, not pass/fail.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LlamaChatSession as Session } from 'node-llama-cpp';
import { parseConfig } from '../src/core/config/config';
import { Switchyard } from '../src/core/switchyard';
import { tinyModelPath } from '../test/fixtures';

const N = Number(process.env.BENCH_N ?? 20);
const MAX_TOKENS = 400;
const PROMPT = 'explain the code in this file and write a test';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function directSetup(modelPath: string) {
  const started = performance.now();
  const { getLlama, LlamaChatSession, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 512 });
  const sequence = context.getSequence();
  const probe: Session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
  const chatWrapper = probe.chatWrapper;
  probe.dispose({ disposeSequence: false });
  let firstToken: number | undefined;
  const run = async () => {
    await sequence.clearHistory();
    const session = new LlamaChatSession({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
    session.setChatHistory([]);
    const before = sequence.tokenMeter.getState();
    const t0 = performance.now();
    await session.prompt(PROMPT, {
      maxTokens: MAX_TOKENS,
      temperature: 0,
      onTextChunk: () => (firstToken ??= performance.now() - started),
    });
    const elapsed = performance.now() - t0;
    const tokens = sequence.tokenMeter.diff(before).usedOutputTokens;
    session.dispose({ disposeSequence: false });
    return { tokens, rate: tokens / (elapsed / 1000) };
  };
  await run();
  return {
    run,
    coldFirstToken: firstToken!,
    async dispose() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

async function switchyardSetup(modelPath: string) {
  const bundled = path.resolve(__dirname, '../dist/embeddedWorker.js');
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'emb', kind: 'embedded', modelPath }],
    'switchyard.tasks': { chat: [{ model: 'emb/tiny-model', contextSize: 512 }] },
    'switchyard.privacy': 'local-only',
    'switchyard.embedded.gpu': 'off',
  });
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    embeddedWorkerPath: existsSync(bundled) ? bundled : undefined,
  });
  let firstToken: number | undefined;
  const run = async () => {
    const t0 = performance.now();
    let tokens = 0;
    for await (const e of sy.router.chat({
      task: 'chat',
      messages: [{ role: 'user', content: PROMPT }],
      maxTokens: MAX_TOKENS,
      temperature: 0,
    })) {
      if (e.type === 'text') firstToken ??= performance.now() - t0;
      if (e.type === 'done') tokens = e.usage.outputTokens ?? 0;
    }
    return { tokens, rate: tokens / ((performance.now() - t0) / 1000) };
  };
  await run();
  return {
    run,
    coldFirstToken: firstToken!,
    worker: existsSync(bundled) ? 'dist/embeddedWorker.js' : 'worker.ts via tsx',
    stop: () => sy.embedded.stop('bench'),
    dispose: () => sy.dispose(),
  };
}

async function main() {
  const modelPath = await tinyModelPath();
  const direct = await directSetup(modelPath);
  const sy = await switchyardSetup(modelPath);
  const d: { tokens: number; rate: number }[] = [];
  const s: { tokens: number; rate: number }[] = [];
  // Two llama.cpp instances on a 2-core machine slow each other even when one is idle (its threads poll): measure
  // in alternating blocks, with the child stopped during the direct blocks and the direct model idle otherwise.
  for (let block = 0; block < 4; block++) {
    if (block % 2 === 0) {
      sy.stop();
      for (let i = 0; i < N / 2; i++) d.push(await direct.run());
    } else {
      await sy.run(); // restart + warm-up, not counted
      for (let i = 0; i < N / 2; i++) s.push(await sy.run());
    }
  }
  await direct.dispose();
  sy.dispose();
  const dr = median(d.map((x) => x.rate));
  const sr = median(s.map((x) => x.rate));
  console.log(
    `model: tiny GGUF, CPU, 1 thread, context 512, ${MAX_TOKENS}-token budget, greedy; ${N} requests each in alternating blocks, after a warm-up`,
  );
  console.log(
    `output tokens per request (median): direct ${median(d.map((x) => x.tokens))}, through Switchyard ${median(s.map((x) => x.tokens))}`,
  );
  console.log(
    `generation (median): direct node-llama-cpp ${dr.toFixed(0)} tok/s; through Switchyard (router → child process) ${sr.toFixed(0)} tok/s = ${((sr / dr) * 100).toFixed(1)} % of direct (target ≥ 95 %)`,
  );
  console.log(
    `cold start, first request → first token: through Switchyard ${sy.coldFirstToken.toFixed(0)} ms (fork + import + load; worker ${sy.worker}); direct in-process import + load ${direct.coldFirstToken.toFixed(0)} ms`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
