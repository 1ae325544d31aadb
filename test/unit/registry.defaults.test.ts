// Zero configuration means nothing set: the standard local ports (Ollama 11434, llama.cpp 8080, LM Studio 1234,
// vLLM 8000) are probed only when switchyard.providers is empty. With providers listed, "auto", Show Routes and the
// status bar look only where the user said, except at a default a task names by its id.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/config';
import { LOCAL_DEFAULTS } from '../../src/core/providers/presets';
import type { Provider, ProviderConfig } from '../../src/core/providers/types';
import { privacyContext } from '../../src/core/routing/privacy';
import { resolveProviders } from '../../src/core/routing/registry';
import { Switchyard } from '../../src/core/switchyard';
import { ProviderError } from '../../src/core/errors';

const DEFAULT_IDS = LOCAL_DEFAULTS.map((d) => d.id);

function config(raw: Record<string, unknown>) {
  const { config, problems } = parseConfig(raw);
  assert.deepEqual(problems, []);
  return config;
}

test('nothing set: every standard local port is a provider', () => {
  const ids = resolveProviders(config({})).map((p) => p.id);
  assert.deepEqual(ids, DEFAULT_IDS);
});

test('providers set explicitly: no standard local port is added', () => {
  const c = config({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: 'http://127.0.0.1:39999' }],
    'switchyard.tasks': { chat: ['auto'] },
  });
  assert.deepEqual(
    resolveProviders(c).map((p) => p.id),
    ['box'],
  );
});

test('providers set explicitly, a task naming a default by id: only that default is added', () => {
  const c = config({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: 'http://127.0.0.1:39999' }],
    'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b', 'ollama/llama3.2:3b'] },
  });
  const out = resolveProviders(c);
  assert.deepEqual(
    out.map((p) => p.id),
    ['box', 'ollama'],
  );
  assert.equal(out[1]!.baseUrl, 'http://127.0.0.1:11434');
});

test('providers set explicitly: planning "auto" with probes contacts only the configured server', async () => {
  const contacted: string[] = [];
  const fake = (cfg: ProviderConfig): Provider => {
    const down = async (): Promise<never> => {
      contacted.push(cfg.baseUrl);
      throw new ProviderError('unreachable', `connection refused: ${cfg.baseUrl}`, { providerId: cfg.id });
    };
    return {
      config: cfg,
      chat: () => ({ [Symbol.asyncIterator]: () => ({ next: down }) }),
      embed: down,
      listModels: down,
      health: down,
    };
  };
  const make = (raw: Record<string, unknown>) =>
    new Switchyard({
      config: config(raw),
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => privacyContext(c),
      createProvider: fake,
    });

  const explicit = make({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: 'http://127.0.0.1:39999' }],
    'switchyard.tasks': { chat: ['auto'] },
  });
  try {
    const plan = await explicit.router.plan('chat', { probe: true });
    assert.equal(plan.candidate, null);
    assert.ok(contacted.length > 0, 'the configured server was asked');
    assert.deepEqual([...new Set(contacted)], ['http://127.0.0.1:39999'], 'and nothing else');
  } finally {
    explicit.dispose();
  }

  // The same plan with nothing set asks every standard port (what the fake records is the proof the test can fail).
  contacted.length = 0;
  const zero = make({});
  try {
    await zero.router.plan('chat', { probe: true });
    assert.deepEqual([...new Set(contacted)].sort(), LOCAL_DEFAULTS.map((d) => d.baseUrl).sort());
  } finally {
    zero.dispose();
  }
});
