/**
 * The workspace index embedding with the embedded runtime (real llama.cpp inference on the generated tiny model,
 * whose context holds 512 tokens): a chunk longer than that is refused as a context overflow and cut by the model's
 * own token counts (the runtime's tokenizer), not the estimate; the limit is learned in its tokens.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/core/config/config';
import { WorkspaceIndex } from '../../src/core/index/service';
import { IndexStore } from '../../src/core/index/store';
import { Switchyard } from '../../src/core/switchyard';
import { tinyModelPath } from '../fixtures';

const cleanup: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function tmp(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-idxemb-${name}-`));
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test(
  'an embedded model refuses a chunk longer than its context: the chunk is cut to its own token limit and gets a vector; the others are whole',
  { timeout: 180_000 },
  async () => {
    const modelPath = await tinyModelPath();
    const { config, problems } = parseConfig({
      'switchyard.providers': [{ id: 'emb', kind: 'embedded', modelPath }],
      'switchyard.tasks': { embed: ['emb/tiny-model'] },
      'switchyard.privacy': 'local-only',
      'switchyard.embedded.gpu': 'off',
    });
    assert.deepEqual(problems, []);
    const embeddedWorkerPath = path.resolve(__dirname, '../../dist/embeddedWorker.js');
    const sy = new Switchyard({
      config,
      secrets: { getApiKey: async () => undefined },
      embeddedWorkerPath,
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    });
    cleanup.push(() => sy.dispose());
    const root = tmp('ws');
    // One line of 900 one-letter words: a chunk cannot be smaller than a line, and the tiny vocabulary makes each
    // letter and each space-letter pair a token, so the line is well over 512 tokens; the estimate counts ~900.
    fs.writeFileSync(
      path.join(root, 'long.txt'),
      `${Array.from({ length: 900 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[i % 26]).join(' ')}\n`,
    );
    fs.writeFileSync(path.join(root, 'short.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
    const dbPath = path.join(tmp('db'), 'index.sqlite');
    const idx = await WorkspaceIndex.open({
      root,
      dbPath,
      embedder: sy.router,
      batchSize: 4,
      embedTimeoutMs: 60_000,
      backoffMs: { initial: 100, max: 300 },
    });
    await idx.sync();
    await idx.embeddingsSettled({ untilPaused: true });
    const counts = await idx.counts();
    assert.equal(counts.pending, 0, 'every chunk has a vector');
    assert.ok(counts.vectors >= 2);
    await idx.close();
    const store = IndexStore.open(dbPath);
    try {
      const learned = store.embedLimits()['emb/tiny-model'];
      assert.ok(learned?.exact !== undefined, `learned in the model's own tokens: ${JSON.stringify(learned)}`);
      assert.ok(learned.exact < 512 && learned.exact >= 0.9 * 511, `the cut holds nearly all the context takes (${learned.exact} of 511)`);
    } finally {
      store.close();
    }
  },
);
