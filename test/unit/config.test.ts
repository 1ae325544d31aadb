import { test } from 'node:test';
import assert from 'node:assert/strict';
import manifest from '../../package.json';
import { TASKS, defaultConfig, parseConfig } from '../../src/core/config/config';
import { SETTINGS, SETTING_KEYS, validateAgainst } from '../../src/core/config/schema';

const props = (
  manifest as unknown as { contributes: { configuration: { properties: Record<string, { default: unknown; scope?: string }> } } }
).contributes.configuration.properties;

test('every setting in the manifest has a default, a scope and a description', () => {
  assert.ok(SETTING_KEYS.length >= 10);
  for (const [key, schema] of Object.entries(props)) {
    assert.ok('default' in schema, `${key} has no default`);
    assert.ok(schema.scope, `${key} has no scope`);
    assert.ok((schema as { markdownDescription?: string }).markdownDescription, `${key} has no description`);
    assert.deepEqual(validateAgainst(SETTINGS[key], schema.default, key), [], `${key}'s default fails its own schema`);
  }
});

test('code defaults are the manifest defaults', () => {
  const c = defaultConfig();
  const fromCode: Record<string, unknown> = {
    'switchyard.providers': c.providers,
    'switchyard.tasks': Object.fromEntries(TASKS.map((t) => [t, c.tasks[t].map((x) => x.ref)])),
    'switchyard.privacy': c.privacy,
    'switchyard.workspaceCloudOptOut': c.workspaceCloudOptOut,
    'switchyard.localHosts': c.localHosts,
    'switchyard.redactSecrets': c.redactSecrets,
    'switchyard.aliases': c.aliases,
    'switchyard.routing.firstTokenTimeoutMs': c.firstTokenTimeoutMs,
    'switchyard.routing.cooldownMs': c.cooldownMs,
    'switchyard.index.enabled': c.index.enabled,
    'switchyard.index.exclude': c.index.exclude,
    'switchyard.index.maxFileSizeKb': c.index.maxFileSizeKb,
    'switchyard.gateway.port': c.gateway.port,
    'switchyard.gateway.startOnLaunch': c.gateway.startOnLaunch,
    'switchyard.gateway.relay': c.gateway.relay,
    'switchyard.gateway.idleTimeoutSeconds': c.gateway.idleTimeoutSeconds,
    'switchyard.usage.retentionDays': c.usage.retentionDays,
    'switchyard.embedded.idleTimeoutSeconds': c.embedded.idleTimeoutSeconds,
    'switchyard.embedded.maxLoadedModels': c.embedded.maxLoadedModels,
    'switchyard.embedded.gpu': c.embedded.gpu,
    'switchyard.completion.enabled': c.completion.enabled,
    'switchyard.completion.allowCloud': c.completion.allowCloud,
    'switchyard.completion.debounceMs': c.completion.debounceMs,
    'switchyard.completion.multiline': c.completion.multiline,
    'switchyard.completion.maxLines': c.completion.maxLines,
    'switchyard.completion.maxPrefixTokens': c.completion.maxPrefixTokens,
    'switchyard.completion.maxSuffixTokens': c.completion.maxSuffixTokens,
    'switchyard.completion.excludeLanguages': c.completion.excludeLanguages,
  };
  assert.deepEqual(
    Object.keys(fromCode).sort(),
    [...SETTING_KEYS].sort(),
    'a setting is read by code but not declared, or declared but not read',
  );
  for (const key of SETTING_KEYS) assert.deepEqual(fromCode[key], props[key].default, `${key}: code and manifest defaults differ`);
});

test('endpoints, keys and the privacy switch cannot be set by a workspace', () => {
  for (const key of [
    'switchyard.providers',
    'switchyard.privacy',
    'switchyard.localHosts',
    'switchyard.aliases',
    'switchyard.completion.allowCloud',
  ]) {
    assert.ok(['application', 'machine'].includes(props[key].scope!), `${key} must be application or machine scoped`);
  }
});

test('a valid configuration parses without problems', () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'box', kind: 'ollama', baseUrl: 'http://192.168.1.5:11434', local: true },
      { id: 'oa', kind: 'openai-compatible', preset: 'openai' },
    ],
    'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b', { model: 'oa/gpt-4.1-mini', temperature: 0.2, maxTokens: 500 }] },
    'switchyard.privacy': 'allow',
  });
  assert.deepEqual(problems, []);
  assert.equal(config.providers.length, 2);
  assert.deepEqual(config.tasks.chat, [{ ref: 'box/qwen2.5-coder:7b' }, { ref: 'oa/gpt-4.1-mini', temperature: 0.2, maxTokens: 500 }]);
  assert.deepEqual(config.tasks.embed, [{ ref: 'auto' }], 'tasks not set keep their defaults');
  assert.equal(config.privacy, 'allow');
});

test('each invalid setting gives one problem naming its key, and the rest keeps working', () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'good', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434' },
      { id: 'bad', kind: 'mystery', baseUrl: 'http://x' },
      { id: 'good', kind: 'ollama', baseUrl: 'http://127.0.0.1:11435' },
      { id: 'nourl', kind: 'openai-compatible' },
    ],
    'switchyard.tasks': { chat: ['good/llama3', 'no-slash', { model: 'good/x', temperature: 9 }], rewrite: ['good/x'] },
    'switchyard.privacy': 'sometimes',
    'switchyard.routing.firstTokenTimeoutMs': 'fast',
    'switchyard.aliases': { fast: 'chat', odd: 'dance' },
    'switchyard.nonsense': 1,
  });
  assert.deepEqual(
    config.providers.map((p) => p.id),
    ['good'],
  );
  assert.deepEqual(config.tasks.chat, [{ ref: 'good/llama3' }]);
  assert.equal(config.privacy, 'local-only', 'an invalid privacy value fails closed: local-only until it is fixed');
  assert.equal(config.firstTokenTimeoutMs, 30000);
  assert.deepEqual(config.aliases, { fast: 'chat' });
  const text = problems.map((p) => `${p.key}: ${p.message}`).join('\n');
  for (const expected of [
    /switchyard\.providers\[1\]\.kind: "mystery" is not one of/,
    /the id "good" is used twice/,
    /"nourl" needs a baseUrl or a preset/,
    /switchyard\.tasks.*"no-slash"/,
    /switchyard\.tasks.*temperature: 9 is above the maximum 2/,
    /unknown task "rewrite"/,
    /switchyard\.privacy: "sometimes" is not one of "local-only", "ask", "allow" \(Switchyard is local-only until this is fixed\)/,
    /switchyard\.routing\.firstTokenTimeoutMs: expected integer, got string/,
    /switchyard\.aliases\.odd: "dance" is not a task/,
    /switchyard\.nonsense is not a Switchyard setting/,
  ]) {
    assert.match(text, expected);
  }
  // One per key: the three task problems (rewrite, no-slash, temperature) are one message (config.tasks.test.ts).
  assert.equal(problems.length, 8);
});

test('a task list of the wrong type falls back to the defaults with one problem', () => {
  const { config, problems } = parseConfig({ 'switchyard.tasks': ['ollama/x'] });
  assert.deepEqual(config.tasks.chat, [{ ref: 'auto' }]);
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /switchyard\.tasks: expected object, got array/);
});

test('values that structuredClone refuses (VS Code hands settings out as proxies) parse fine', () => {
  const proxied = new Proxy({ chat: new Proxy(['ollama/llama3'], {}) }, {});
  const { config, problems } = parseConfig({ 'switchyard.tasks': proxied, 'switchyard.localHosts': new Proxy(['gpu-box'], {}) });
  assert.deepEqual(problems, []);
  assert.deepEqual(config.tasks.chat, [{ ref: 'ollama/llama3' }]);
  assert.deepEqual(config.localHosts, ['gpu-box']);
});

test('completion settings: invalid values give the safe default with one problem each (cloud completions stay off)', () => {
  const { config, problems } = parseConfig({
    'switchyard.completion.allowCloud': 'yes',
    'switchyard.completion.debounceMs': -5,
    'switchyard.completion.multiline': 'sometimes',
    'switchyard.completion.maxLines': 3,
    'switchyard.completion.excludeLanguages': ['markdown'],
  });
  assert.equal(config.completion.allowCloud, false);
  assert.equal(config.completion.debounceMs, 250);
  assert.equal(config.completion.multiline, 'auto');
  assert.equal(config.completion.maxLines, 3);
  assert.deepEqual(config.completion.excludeLanguages, ['markdown']);
  assert.deepEqual(problems.map((p) => p.key).sort(), [
    'switchyard.completion.allowCloud',
    'switchyard.completion.debounceMs',
    'switchyard.completion.multiline',
  ]);
  assert.deepEqual(config.tasks.complete, [{ ref: 'auto' }], 'the complete task defaults to auto');
});
