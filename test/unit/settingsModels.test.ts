// The settings panel's Models requests as the host checks them: a webview cannot smuggle a path, a flag-like model
// name or a non-.gguf URL into a pull, delete or download.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateSettingsMessage } from '../../src/vscode/webview/validate';

const req = (name: string, payload: unknown) => validateSettingsMessage({ kind: 'request', id: 7, name, payload });

test('settings Models requests: valid pulls, deletes and downloads pass; malformed ones are refused with a reason', () => {
  assert.equal(req('settings/installed', {}).ok, true);
  assert.equal(req('settings/pullModel', { providerId: 'box', model: 'qwen2.5-coder:1.5b' }).ok, true);
  assert.equal(req('settings/pullModel', { providerId: 'box', model: 'hf.co/org/repo:Q4_K_M' }).ok, true);
  for (const model of ['', ' llama3', '--insecure', 'a b', '../etc', 42]) {
    const r = req('settings/pullModel', { providerId: 'box', model });
    assert.equal(r.ok, false, `model ${JSON.stringify(model)}`);
    if (!r.ok) assert.match(r.reason, /settings\/pullModel: model is invalid/);
  }
  assert.equal(req('settings/pullModel', { providerId: '../x', model: 'm' }).ok, false);

  assert.equal(req('settings/deleteModel', { target: { kind: 'ollama', providerId: 'box', model: 'qwen2.5-coder:7b' } }).ok, true);
  assert.equal(req('settings/deleteModel', { target: { kind: 'gguf', dir: '/home/u/.models', id: 'tiny-q4' } }).ok, true);
  assert.equal(req('settings/deleteModel', { target: { kind: 'gguf', dir: '/home/u/.models', id: '../secret' } }).ok, false);
  assert.equal(req('settings/deleteModel', { target: { kind: 'gguf', dir: '/home/u/.models', id: '..' } }).ok, false);
  assert.equal(req('settings/deleteModel', { target: { kind: 'file', path: '/etc/passwd' } }).ok, false);

  assert.equal(req('settings/downloadGguf', { url: 'https://huggingface.co/o/r/resolve/main/m-q4_k_m.gguf' }).ok, true);
  assert.equal(
    req('settings/downloadGguf', { url: 'https://h/m.gguf?download=true', sha256: 'a'.repeat(64), providerId: 'embedded' }).ok,
    true,
  );
  assert.equal(req('settings/downloadGguf', { url: 'https://h/m.gguf', sha256: '' }).ok, true);
  assert.equal(req('settings/downloadGguf', { url: 'file:///etc/m.gguf' }).ok, false);
  assert.equal(req('settings/downloadGguf', { url: 'https://h/m.bin' }).ok, false);
  assert.equal(req('settings/downloadGguf', { url: 'https://h/m.gguf', sha256: 'abc' }).ok, false);
});

test('settings/setTask keeps a candidate\'s "tools": false (issue 14) and refuses a non-boolean one', () => {
  assert.equal(
    req('settings/setTask', { task: 'chat', candidates: [{ model: 'box/qwen2.5-coder:7b', tools: false }, { model: 'auto' }] }).ok,
    true,
  );
  assert.equal(req('settings/setTask', { task: 'chat', candidates: [{ model: 'box/qwen2.5-coder:7b', tools: 'no' }] }).ok, false);
});
