/**
 * Real inference for completions (issue 15): the embedded provider's infill (node-llama-cpp in the child process) on
 * the generated tiny models, through the whole path: CompletionService → Router.complete → EmbeddedProvider. The
 * output is deterministic gibberish, so this asserts structure (who answered, counts, the fallback, what
 * post-processing may return), not text.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CompletionService } from '../../src/core/complete/service';
import { parseConfig } from '../../src/core/config/config';
import { privacyContext } from '../../src/core/routing/privacy';
import { Switchyard } from '../../src/core/switchyard';
import { MemoryLedger } from '../../src/core/usage/ledger';
import { closedPort, tinyModelPath } from '../fixtures';

let sy: Switchyard;
let service: CompletionService;
const usage = new MemoryLedger();

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-complete-emb-'));
  copyFileSync(await tinyModelPath({ fim: true }), path.join(dir, 'tiny-fim.gguf'));
  copyFileSync(await tinyModelPath(), path.join(dir, 'tiny.gguf'));
  const down = `http://127.0.0.1:${await closedPort()}`;
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'emb', kind: 'embedded', modelPath: dir },
      { id: 'ollama', kind: 'ollama', baseUrl: down },
      { id: 'llamacpp', kind: 'llamacpp', baseUrl: down },
      { id: 'lmstudio', kind: 'openai-compatible', baseUrl: `${down}/v1` },
      { id: 'vllm', kind: 'openai-compatible', baseUrl: `${down}/v1` },
    ],
    // The plain tiny model first: it has no FIM tokens, so its infill is refused and the FIM variant answers.
    'switchyard.tasks': { complete: ['emb/tiny', 'emb/tiny-fim'] },
    'switchyard.privacy': 'local-only',
    'switchyard.embedded.gpu': 'off',
  });
  assert.deepEqual(problems, []);
  sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => privacyContext(c),
    usage,
    embeddedWorkerPath: path.resolve(__dirname, '../../dist/embeddedWorker.js'),
  });
  service = new CompletionService(sy, { usage, debounceMs: 0 });
});
after(() => {
  service.dispose();
  sy.dispose();
});

test('the FIM model answers after the plain one is refused (unsupported), then the route skips the plain one', async () => {
  const prefix = 'hello world\nhello ';
  const served = await service.complete({ filePath: 'notes/a.txt', languageId: 'plaintext', prefix, suffix: '\nworld\n' });
  const records = usage.records.filter((r) => r.task === 'complete');
  assert.equal(records.length, 1);
  const r = records[0]!;
  assert.equal(r.outcome, 'ok');
  assert.equal(r.model, 'tiny-fim');
  assert.equal(r.attempts, 2, 'the refused plain model, then the FIM one');
  assert.ok(r.inputTokens! > 0 && r.outputTokens! >= 1, JSON.stringify(r));
  assert.ok(r.outputTokens! <= 65, 'within the single-line answer budget');
  // What the editor would show: nothing, or text that is not only whitespace, on one line (single-line place).
  if (served) {
    assert.equal(served.source, 'model');
    assert.deepEqual(served.route, { providerId: 'emb', model: 'tiny-fim', local: true });
    assert.ok(served.text.trim() !== '');
    assert.ok(!served.text.includes('\n'));
  }
  const plan = await sy.router.plan('complete');
  assert.equal(plan.candidate?.model, 'tiny-fim');
  const plain = plan.skipped.find((s) => s.model === 'tiny');
  assert.equal(plain?.kind, 'unsupported');
  assert.match(plain?.reason ?? '', /^no fill-in-the-middle: .*fill-in-the-middle tokens/);
});

test('router level: suffix mode on the FIM model gives raw text within the budget; an aborted request is canceled, not answered', async () => {
  const result = await sy.router.complete({
    only: 'emb/tiny-fim',
    prompt: (choice) => ({ mode: choice.mode, prompt: 'hello ', suffix: ' world', maxTokens: 6, stop: [] }),
  });
  assert.equal(result.choice.mode, 'suffix', 'the embedded provider fills in with the model own FIM tokens');
  assert.equal(typeof result.text, 'string');
  assert.ok(result.usage.outputTokens! >= 1 && result.usage.outputTokens! <= 7, JSON.stringify(result.usage));
  assert.ok(result.finishReason === 'stop' || result.finishReason === 'length');

  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    sy.router.complete({
      only: 'emb/tiny-fim',
      signal: controller.signal,
      prompt: (choice) => ({ mode: choice.mode, prompt: 'hello ', suffix: ' world', maxTokens: 200 }),
    }),
    (e: unknown) => (e as { kind?: string }).kind === 'canceled',
  );
});
