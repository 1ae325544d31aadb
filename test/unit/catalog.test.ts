import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATALOG, estimateCost, lookupModel, mergeWithDiscovered } from '../../src/core/config/catalog';
import { PRESETS } from '../../src/core/providers/presets';

describe('model catalog', () => {
  it('holds well-formed entries for every cloud preset and common embedding models', () => {
    for (const e of CATALOG) {
      assert.ok(e.id && e.provider, JSON.stringify(e));
      assert.ok(Number.isInteger(e.contextWindow) && e.contextWindow > 0, `${e.id} context window`);
      assert.ok(e.price.input >= 0 && e.price.output >= 0, `${e.id} price`);
      assert.ok(e.capabilities.chat || e.capabilities.embeddings, `${e.id} does something`);
      assert.ok(e.provider === 'ollama' || e.provider in PRESETS, `${e.id}: unknown provider ${e.provider}`);
    }
    for (const preset of ['openai', 'anthropic', 'gemini', 'xai', 'openrouter', 'together']) {
      assert.ok(
        CATALOG.some((e) => e.provider === preset),
        `no ${preset} model`,
      );
    }
    const ids = new Set(CATALOG.map((e) => `${e.provider}/${e.id}`));
    assert.equal(ids.size, CATALOG.length, 'no duplicates');
    assert.ok(CATALOG.filter((e) => e.capabilities.embeddings).length >= 4);
  });

  it('looks models up exactly, by Ollama tag and by dated snapshot', () => {
    assert.equal(lookupModel('openai', 'gpt-4.1-mini')?.contextWindow, 1047576);
    assert.equal(lookupModel('openai', 'gpt-4o-mini-2024-07-18')?.id, 'gpt-4o-mini');
    assert.equal(lookupModel('anthropic', 'claude-sonnet-4-5-20250929')?.id, 'claude-sonnet-4-5');
    assert.equal(lookupModel('ollama', 'nomic-embed-text:latest')?.capabilities.embeddings, true);
    assert.equal(lookupModel('llamacpp', 'nomic-embed-text')?.id, 'nomic-embed-text');
    assert.equal(lookupModel(undefined, 'gemini-2.5-flash')?.provider, 'gemini');
    // Not a snapshot: a different model that merely shares a prefix.
    assert.equal(lookupModel('openai', 'gpt-4.1-turbo'), undefined);
    assert.equal(lookupModel('openai', 'claude-sonnet-4-5'), undefined, 'scoped to the preset');
    assert.equal(lookupModel('openai', 'no-such-model'), undefined);
  });

  it('merges: what the server reports wins, the catalog fills gaps and adds the price', () => {
    const merged = mergeWithDiscovered(
      [
        { id: 'nomic-embed-text:latest', providerId: 'ollama', contextLength: 2048, capabilities: { embeddings: true } },
        { id: 'gpt-4o-mini', providerId: 'openai', capabilities: {} },
        { id: 'gpt-4o', providerId: 'openai', capabilities: { vision: false } },
        { id: 'my-finetune', providerId: 'openai', contextLength: 4096, capabilities: { chat: true } },
      ],
      'openai',
    );
    assert.equal(merged[0].inCatalog, false, 'an Ollama model is not looked up under the openai preset');
    assert.equal(merged[1].contextLength, 128000);
    assert.deepEqual(merged[1].price, { input: 0.15, output: 0.6 });
    assert.equal(merged[1].capabilities.tools, true);
    assert.equal(merged[2].capabilities.vision, false, 'the server said no vision');
    assert.equal(merged[2].capabilities.chat, true);
    assert.deepEqual(
      { ...merged[3] },
      { id: 'my-finetune', providerId: 'openai', contextLength: 4096, capabilities: { chat: true }, inCatalog: false },
    );

    const local = mergeWithDiscovered(
      [{ id: 'nomic-embed-text:latest', providerId: 'ollama', contextLength: 2048, capabilities: {} }],
      'ollama',
    );
    assert.equal(local[0].contextLength, 2048, 'discovered context length wins');
    assert.equal(local[0].capabilities.embeddings, true, 'catalog fills the capability an old server did not report');
    assert.deepEqual(local[0].price, { input: 0, output: 0 });
  });

  it('estimates cost from the price per million tokens', () => {
    const price = lookupModel('anthropic', 'claude-sonnet-4-5')?.price;
    assert.equal(estimateCost(price, 1_000_000, 0), 3);
    assert.equal(estimateCost(price, 2000, 1000), (2000 * 3 + 1000 * 15) / 1e6);
    assert.equal(estimateCost(undefined, 10, 10), undefined);
  });
});
