import { test } from 'node:test';
import assert from 'node:assert/strict';
import manifest from '../../package.json';
import { ERROR_ACTION_IDS, PRESET_IDS, PRIVACY_MODES, PROVIDER_KINDS, TASK_NAMES } from '../../src/protocol/vocabulary';
import { LOCAL_DEFAULTS, PRESETS, configFromPreset } from '../../src/core/providers/presets';
import { validateChatMessage, validateSettingsMessage } from '../../src/vscode/webview/validate';

interface Schema {
  enum?: string[];
  default?: unknown;
  markdownDescription?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}
const props = (manifest as unknown as { contributes: { configuration: { properties: Record<string, Schema> } } }).contributes.configuration
  .properties;

test("package.json's switchyard.tasks names exactly the tasks of src/protocol/vocabulary.ts", () => {
  const tasks = props['switchyard.tasks']!;
  assert.deepEqual(Object.keys(tasks.properties ?? {}), [...TASK_NAMES]);
  assert.deepEqual(Object.keys(tasks.default as object), [...TASK_NAMES]);
});

test("package.json's provider kind and preset enums, and their description, are the vocabulary's", () => {
  const providers = props['switchyard.providers']!;
  const item = providers.items!.properties!;
  assert.deepEqual(item.kind!.enum, [...PROVIDER_KINDS]);
  assert.deepEqual(item.preset!.enum, [...PRESET_IDS]);
  for (const name of [...PROVIDER_KINDS, ...PRESET_IDS])
    assert.ok(providers.markdownDescription!.includes(`\`${name}\``), `switchyard.providers' description does not name ${name}`);
});

test("package.json's switchyard.privacy enum is the vocabulary's", () => {
  assert.deepEqual(props['switchyard.privacy']!.enum, [...PRIVACY_MODES]);
});

test('every preset id has a preset, under its own id', () => {
  assert.deepEqual(Object.keys(PRESETS), [...PRESET_IDS]);
  for (const id of PRESET_IDS) assert.equal(PRESETS[id].id, id);
});

test('the zero-config local servers include every local preset, at the address a provider naming the preset gets', () => {
  for (const id of PRESET_IDS.filter((p) => PRESETS[p].local)) {
    const found = LOCAL_DEFAULTS.find((d) => d.id === id);
    assert.ok(found, `${id} is local but not probed with nothing configured`);
    const { baseUrl, kind, local } = configFromPreset(id);
    assert.deepEqual(
      { baseUrl: found.baseUrl, kind: found.kind, local: found.local, preset: found.preset },
      { baseUrl, kind, local, preset: id },
    );
    // 127.0.0.1, not localhost: a resolver preferring ::1 would make a running IPv4-only server look refused.
    assert.equal(new URL(baseUrl).hostname, '127.0.0.1', `${id}: ${baseUrl}`);
  }
});

test("the host's validators take each vocabulary name and refuse others", () => {
  const request = (name: string, payload: unknown) => ({ kind: 'request', id: 1, name, payload });
  for (const task of TASK_NAMES) assert.ok(validateSettingsMessage(request('settings/setTask', { task, candidates: [] })).ok, task);
  assert.equal(validateSettingsMessage(request('settings/setTask', { task: 'commit', candidates: [] })).ok, false);
  for (const kind of PROVIDER_KINDS)
    assert.ok(validateSettingsMessage(request('settings/saveProvider', { provider: { id: 'p', kind } })).ok, kind);
  assert.equal(validateSettingsMessage(request('settings/saveProvider', { provider: { id: 'p', kind: 'ollama2' } })).ok, false);
  for (const mode of PRIVACY_MODES) assert.ok(validateSettingsMessage(request('settings/setPrivacy', { mode })).ok, mode);
  for (const id of ERROR_ACTION_IDS)
    assert.ok(validateChatMessage(request('chat/action', { turnId: 't', action: { id, label: 'x' } })).ok, id);
  assert.equal(validateChatMessage(request('chat/action', { turnId: 't', action: { id: 'format', label: 'x' } })).ok, false);
});
