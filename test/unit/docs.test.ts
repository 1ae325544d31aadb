import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

test("README's settings reference is generated from the manifest and up to date", () => {
  const r = spawnSync(process.execPath, [path.resolve(__dirname, '../../scripts/settings-doc.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
