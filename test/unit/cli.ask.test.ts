/**
 * `switchyard ask` (dist/cli.js) runs the chat view's turn (core/chat/turn.ts): its prompt is fitted to the window of
 * each candidate, so a model too small for the question is never sent it, the next one answers, and `<think>` text is
 * reasoning on stderr.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scriptedBackend, startLlamaCppServer, type FixtureServer } from '../fixtures';
import { runCli } from '../fixtures/cli';

let small: FixtureServer;
let big: FixtureServer;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-ask-'));

before(async () => {
  small = await startLlamaCppServer({ contextSize: 1024, modelAlias: 'small', backend: scriptedBackend({ tokens: ['small'] }) });
  big = await startLlamaCppServer({
    contextSize: 32768,
    modelAlias: 'big',
    backend: scriptedBackend({ tokens: ['<think>', 'long', ' question', '</think>', 'big', ' answers'] }),
  });
});
after(async () => {
  await small.close();
  await big.close();
});
beforeEach(() => {
  small.reset();
  big.reset();
});

test("ask: a question longer than the first model's window is not sent to it; the larger model answers, its <think> text on stderr", async () => {
  const cfg = path.join(dir, 'config.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      'switchyard.providers': [
        { id: 'small', kind: 'llamacpp', baseUrl: small.url },
        { id: 'big', kind: 'llamacpp', baseUrl: big.url },
      ],
      'switchyard.tasks': { chat: ['small/small', 'big/big'] },
    }),
  );
  const question = Array.from({ length: 1500 }, (_, i) => `q${i}`).join(' ');
  const r = await runCli(['ask', '--config', cfg], { input: question });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'big answers\n');
  assert.match(r.stderr, /thinking: long question\n/);
  assert.match(r.stderr, /answered by big\/big \(local\) after fallback/);
  assert.match(r.stderr, /small\/small: contextOverflow/);
  assert.equal(small.counts['POST /v1/chat/completions'], 0, 'the small model was never sent a prompt it cannot hold');
  assert.equal(big.requests.find((q) => q.path === '/v1/chat/completions')?.body.messages.at(-1).content, question);
});
