// End to end: the packaged extension in code-server, driven from the command palette in headless Chromium.
// Also measures activation: extension.ts logs `Switchyard activated in <ms> ms`; the figure is printed and written to
// test-results/activation.json (target: activate() under 50 ms).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { launchVSCode, repoRoot, resultsDir, t, waitFor } from './harness';

test('Show Logs from the command palette shows the activation line; activation time is recorded', { timeout: t(180_000) }, async () => {
  const vs = await launchVSCode({ workspace: path.join(repoRoot, 'samples', 'workspace') });
  try {
    const match = await vs.waitForLog(
      'Switchyard',
      /Switchyard activated in (\d+(?:\.\d+)?) ms \(native modules loaded: (\d+)\); features: ([^\n]*) ms/,
      t(60_000),
    );
    const activationMs = Number(match[1]);
    assert.equal(
      Number(match[2]),
      0,
      'activate() loaded a native module of the extension; load SQLite, sqlite-vec and llama.cpp on first use',
    );

    await vs.runCommand('Switchyard: Show Logs');
    // The output panel shows the Switchyard channel with the activation line.
    // The output panel shows the Switchyard channel with the activation line (Monaco splits a line into token spans,
    // so read the rendered lines' text rather than looking for one element).
    const lines = vs.page.locator('.part.panel .view-lines');
    await waitFor(
      'the Output panel to show "Switchyard activated"',
      async () => /Switchyard\s+activated\s+in/.test(await lines.first().innerText()),
      t(20_000),
    );
    await vs.screenshot('activation-show-logs');

    process.stdout.write(`# Switchyard activate() took ${activationMs} ms (target < 50 ms); features: ${match[3]} ms\n`);
    const features = Object.fromEntries(match[3]!.split(', ').map((f) => [f.replace(/ [\d.]+$/, ''), Number(f.match(/([\d.]+)$/)?.[1])]));
    assert.deepEqual(Object.keys(features), ['chat UI', 'usage', 'gateway', 'models', 'index', 'editor tasks', 'completions'], match[0]);
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(
      path.join(resultsDir, 'activation.json'),
      JSON.stringify(
        { activationMs, featuresMs: features, targetMs: 50, measuredAt: new Date().toISOString(), source: 'code-server e2e' },
        null,
        2,
      ) + '\n',
    );
    assert.ok(Number.isFinite(activationMs) && activationMs >= 0, `bad activation time: ${match[0]}`);
    // The 50 ms target is reported (above and in activation.json), not asserted: a timing assertion flakes on a shared
    // machine (seen: 54.9 ms in one CI run, 16–23 ms in others).
    if (activationMs >= 50) process.stdout.write(`# WARNING: activate() took ${activationMs} ms, over the 50 ms target\n`);
  } catch (e) {
    await vs.screenshot('activation-failure').catch(() => {});
    throw e;
  } finally {
    await vs.close();
  }
});
