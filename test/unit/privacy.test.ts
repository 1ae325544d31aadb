import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudVerdict, effectiveMode, isLocalUrl } from '../../src/core/routing/privacy';

test('local means loopback or a host the user listed', () => {
  for (const url of ['http://127.0.0.1:11434', 'http://localhost:1234/v1', 'http://[::1]:8080', 'http://127.8.0.1'])
    assert.ok(isLocalUrl(url), url);
  for (const url of ['https://api.openai.com/v1', 'http://192.168.1.5:11434', 'not a url', 'http://localhost.evil.com'])
    assert.ok(!isLocalUrl(url), url);
  assert.ok(isLocalUrl('http://192.168.1.5:11434', ['192.168.1.5']));
  assert.ok(isLocalUrl('http://GPU-BOX:11434', ['gpu-box']));
});

test('local-only refuses cloud whatever else is set', () => {
  const v = cloudVerdict({ mode: 'local-only', trusted: true, workspaceOptOut: false }, true);
  assert.equal(v.allowed, false);
});

test('untrusted workspaces and opted-out workspaces are local-only', () => {
  assert.deepEqual(effectiveMode({ mode: 'allow', trusted: false, workspaceOptOut: false }), {
    mode: 'local-only',
    because: 'the workspace is not trusted',
  });
  assert.equal(effectiveMode({ mode: 'allow', trusted: true, workspaceOptOut: true }).mode, 'local-only');
  const v = cloudVerdict({ mode: 'allow', trusted: false, workspaceOptOut: false }, true);
  assert.equal(v.allowed, false);
  assert.match((v as { reason: string }).reason, /not trusted/);
});

test('ask asks when someone can be asked, and refuses when nobody can', () => {
  assert.deepEqual(cloudVerdict({ mode: 'ask', trusted: true, workspaceOptOut: false }, true), { allowed: 'ask' });
  const v = cloudVerdict({ mode: 'ask', trusted: true, workspaceOptOut: false }, false);
  assert.equal(v.allowed, false);
  assert.match((v as { reason: string }).reason, /--allow-cloud/);
  assert.deepEqual(cloudVerdict({ mode: 'allow', trusted: true, workspaceOptOut: false }, false), { allowed: true });
});
