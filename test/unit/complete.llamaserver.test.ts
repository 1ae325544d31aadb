/**
 * Opt-in (not in CI): the /infill path against a real llama-server, built from the llama.cpp source node-llama-cpp
 * ships (checked with commit 80fb11a). Skipped unless SWITCHYARD_LLAMA_SERVER names the binary:
 *
 *   SWITCHYARD_LLAMA_SERVER=/work/build/llama.cpp/build/bin/llama-server \
 *     node_modules/.bin/node --import tsx --test test/unit/complete.llamaserver.test.ts
 *
 * The tiny models: the plain one has no FIM tokens (the server's 501, which the fixture imitates, must become
 * `unsupported` and fall back), the FIM variant answers /infill. Its output is random bytes, and this llama-server
 * answers HTTP 500 "does not match the expected Content-only format" for text that is not valid UTF-8: one greedy
 * token is asked for, which is valid for this prompt.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/core/config/config';
import { privacyContext } from '../../src/core/routing/privacy';
import { Switchyard } from '../../src/core/switchyard';
import { closedPort, tinyModelPath } from '../fixtures';

const BINARY = process.env.SWITCHYARD_LLAMA_SERVER;
const servers: ChildProcess[] = [];
let sy: Switchyard | undefined;

async function start(model: string): Promise<string> {
  const port = await closedPort();
  const child = spawn(BINARY!, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', '512', '-t', '1', '-np', '1'], {
    stdio: 'ignore',
  });
  servers.push(child);
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return url;
    if (Date.now() > end) throw new Error(`llama-server on ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (!BINARY) return;
  const [plain, fim] = await Promise.all([start(await tinyModelPath()), start(await tinyModelPath({ fim: true }))]);
  const down = `http://127.0.0.1:${await closedPort()}`;
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'plain', kind: 'llamacpp', baseUrl: plain },
      { id: 'llamacpp', kind: 'llamacpp', baseUrl: fim },
      { id: 'ollama', kind: 'ollama', baseUrl: down },
      { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
    ],
    'switchyard.tasks': { complete: ['auto'] },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  sy = new Switchyard({ config, secrets: { getApiKey: async () => undefined }, privacy: (c) => privacyContext(c) });
});
after(() => {
  sy?.dispose();
  for (const s of servers) s.kill();
});

test(
  'real llama-server: the model without FIM tokens is refused (501 → unsupported, remembered); /infill answers on the FIM one',
  { skip: !BINARY && 'SWITCHYARD_LLAMA_SERVER is not set' },
  async () => {
    const router = sy!.router;
    const { list } = await router.candidates('complete');
    assert.deepEqual(list.map((c) => c.providerId).sort(), ['llamacpp', 'plain'], 'auto found both servers');
    // Ask the plain server first explicitly, then the route as a whole.
    const plainModel = list.find((c) => c.providerId === 'plain')!.model;
    await assert.rejects(
      router.complete({
        only: `plain/${plainModel}`,
        temperature: 0,
        prompt: (choice) => ({ mode: choice.mode, prompt: 'hello ', suffix: ' world', maxTokens: 1, stop: [] }),
      }),
      (e: unknown) =>
        (e as { attempts?: { kind?: string; reason?: string }[] }).attempts?.some(
          (a) => a.kind === 'unsupported' && /Infill is not supported by this model/.test(a.reason ?? ''),
        ) === true,
    );
    const result = await router.complete({
      temperature: 0,
      prompt: (choice) => ({ mode: choice.mode, prompt: 'hello ', suffix: ' world', maxTokens: 1, stop: [] }),
    });
    assert.equal(result.providerId, 'llamacpp');
    assert.equal(result.choice.mode, 'suffix');
    assert.equal(typeof result.text, 'string');
    assert.equal(result.usage.outputTokens, 1);
    assert.ok(result.usage.inputTokens! >= 5, 'prefix, suffix and the FIM tokens were evaluated');
    assert.equal(result.finishReason, 'length');
    const skipped = result.route.attempts.find((a) => a.providerId === 'plain');
    assert.match(skipped?.reason ?? '', /^no fill-in-the-middle: /);
  },
);
