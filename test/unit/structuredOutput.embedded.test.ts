/**
 * Structured output with the embedded provider (issue 14): responseFormat becomes a llama.cpp grammar, so even the
 * tiny random-weight model answers JSON of the schema (real inference in the child process). Without it, the same
 * model writes no JSON at all.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedProvider } from '../../src/core/providers/embedded/provider';
import { EmbeddedRuntime } from '../../src/core/providers/embedded/runtime';
import type { ChatRequest } from '../../src/core/providers/types';
import { tinyModelPath } from '../fixtures';

let runtime: EmbeddedRuntime;
let provider: EmbeddedProvider;

before(async () => {
  const modelsDir = mkdtempSync(path.join(tmpdir(), 'switchyard-structured-'));
  copyFileSync(await tinyModelPath(), path.join(modelsDir, 'tiny.gguf'));
  runtime = new EmbeddedRuntime({ gpu: false, maxThreads: 1, idleTimeoutMs: 0, modelsDir });
  const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  provider = new EmbeddedProvider(
    { id: 'emb', kind: 'embedded', baseUrl: 'embedded:', local: true },
    { secrets: { getApiKey: async () => undefined }, logger, embedded: runtime },
  );
});
after(() => runtime.dispose());

async function answer(request: Omit<ChatRequest, 'model'>): Promise<string> {
  let text = '';
  for await (const e of provider.chat({ model: 'tiny', temperature: 0, ...request })) if (e.type === 'text') text += e.text;
  return text;
}

/** A schema whose every valid answer is short, so the answer budget always holds a whole one. */
const schema = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, level: { enum: ['low', 'high'] } },
  required: ['ok', 'level'],
  additionalProperties: false,
};

test('json_schema: the answer is JSON of the schema, from real inference with a grammar', async () => {
  const text = await answer({
    messages: [{ role: 'user', content: 'Is it ok?' }],
    maxTokens: 48,
    responseFormat: { type: 'json_schema', name: 'verdict', schema },
  });
  const parsed = JSON.parse(text) as { ok: unknown; level: unknown };
  assert.equal(typeof parsed.ok, 'boolean', text);
  assert.ok(parsed.level === 'low' || parsed.level === 'high', text);
  assert.deepEqual(Object.keys(parsed).sort(), ['level', 'ok']);
});

test('without a response format the same model writes no JSON (the grammar is what makes it)', async () => {
  const text = await answer({ messages: [{ role: 'user', content: 'Is it ok?' }], maxTokens: 24 });
  assert.throws(() => JSON.parse(text));
});
