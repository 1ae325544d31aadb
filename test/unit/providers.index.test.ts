import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/core/host';
import {
  LOCAL_DEFAULTS,
  LlamaCppProvider,
  OllamaProvider,
  OpenAICompatibleProvider,
  PRESETS,
  configFromPreset,
  createProvider,
  estimateTokens,
  isLoopbackHost,
} from '../../src/core/providers';
import { kindForStatus, parseRetryAfter } from '../../src/core/providers/base';

const deps = { secrets: { getApiKey: async () => undefined }, logger: silentLogger };

describe('provider layer entry points', () => {
  it('createProvider picks the class by kind', () => {
    assert.ok(createProvider({ id: 'o', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434', local: true }, deps) instanceof OllamaProvider);
    assert.ok(createProvider(configFromPreset('openai'), deps) instanceof OpenAICompatibleProvider);
    assert.ok(
      createProvider({ id: 'l', kind: 'llamacpp', baseUrl: 'http://127.0.0.1:8080', local: true }, deps) instanceof LlamaCppProvider,
    );
  });

  it('isLoopbackHost knows this machine from others', () => {
    for (const url of [
      'http://localhost:11434',
      'http://127.0.0.1:8080',
      'http://127.1.2.3',
      'http://[::1]:1234/v1',
      'http://[::ffff:127.0.0.1]:80',
      'http://0.0.0.0:8000',
    ]) {
      assert.equal(isLoopbackHost(url), true, url);
    }
    for (const url of [
      'https://api.openai.com/v1',
      'http://192.168.1.10:11434',
      'http://127.0.0.1.evil.example',
      'http://localhost.example.com',
      // Loopback by RFC 6761, but resolved through the system resolver, which may ask a DNS server off the machine.
      'http://api.localhost/v1',
      'http://[::ffff:10.0.0.1]',
      'not a url',
    ]) {
      assert.equal(isLoopbackHost(url), false, url);
    }
  });

  it('presets are data with the documented endpoints; local defaults are loopback', () => {
    assert.equal(PRESETS.openai?.baseUrl, 'https://api.openai.com/v1');
    assert.equal(PRESETS.anthropic?.baseUrl, 'https://api.anthropic.com/v1/');
    assert.equal(PRESETS.gemini?.baseUrl, 'https://generativelanguage.googleapis.com/v1beta/openai/');
    for (const p of Object.values(PRESETS)) {
      assert.equal(p.local, isLoopbackHost(p.baseUrl), p.id);
      assert.equal(p.requiresApiKey, !p.local, p.id);
      if (!p.local) assert.match(p.apiKeyEnv ?? '', /^[A-Z]+_API_KEY$/);
    }
    assert.deepEqual(
      LOCAL_DEFAULTS.map((c) => [c.id, c.kind, new URL(c.baseUrl).port]),
      [
        ['ollama', 'ollama', '11434'],
        ['llamacpp', 'llamacpp', '8080'],
        ['lmstudio', 'openai-compatible', '1234'],
        ['vllm', 'openai-compatible', '8000'],
      ],
    );
    assert.ok(LOCAL_DEFAULTS.every((c) => c.local && isLoopbackHost(c.baseUrl)));
    assert.deepEqual(configFromPreset('xai', { apiKeyEnv: 'MY_XAI' }), {
      id: 'xai',
      kind: 'openai-compatible',
      baseUrl: 'https://api.x.ai/v1',
      local: false,
      preset: 'xai',
      apiKeyEnv: 'MY_XAI',
    });
  });

  it('estimates tokens conservatively and reads Retry-After', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('abcdef'), 2);
    assert.equal(estimateTokens('abcdefg'), 3);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '12' })), 12);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '1500' })), 1.5);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const fromDate = parseRetryAfter(new Headers({ 'retry-after': inTen })) ?? 0;
    assert.ok(fromDate > 8 && fromDate <= 10, String(fromDate));
    assert.equal(parseRetryAfter(new Headers()), undefined);
    assert.equal(kindForStatus(401), 'auth');
    assert.equal(kindForStatus(404), 'modelMissing');
    assert.equal(kindForStatus(429), 'rateLimited');
    assert.equal(kindForStatus(503), 'server');
  });
});
