// End to end: the settings panel's Models section in code-server against the Ollama test server (its default models)
// and a folder served by an embedded provider. One launch: list, pull (the host's progress notification), delete
// with the host's modal confirmation, then a GGUF file deleted the same way; the server's counts show each call.
// Then a GGUF download from the panel's form (a local download server): a wrong sha256 is refused and leaves no file,
// the right one lands in the list and on disk.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame, Locator } from 'playwright-core';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { sha256Hex, startFileServer } from '../fixtures/fileServer';
import { webviewFrame } from './webviews';

let ollama: FixtureServer;
let vs: VSCode;
let ggufDir: string;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend({ tokens: ['ok'] }) });
  ggufDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-models-gguf-'));
  // Listing and deleting look at files only: a GGUF header and a few bytes stand in for a model here.
  fs.writeFileSync(path.join(ggufDir, 'tiny-test-q4.gguf'), Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(2048)]));
  vs = await launchVSCode({
    settings: {
      'switchyard.providers': [
        { id: 'box', kind: 'ollama', baseUrl: ollama.url },
        { id: 'pocket', kind: 'embedded', modelPath: ggufDir },
      ],
      'switchyard.tasks': { chat: ['box/qwen2.5-coder:7b'] },
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  if (ggufDir) fs.rmSync(ggufDir, { recursive: true, force: true });
});

const names = (frame: Frame, group: string) =>
  frame.locator(`${group} tr.installed-model`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model') ?? ''));

async function confirmDelete(text: string): Promise<void> {
  const dialog: Locator = vs.page.locator('.monaco-dialog-box', { hasText: text });
  await dialog.waitFor({ state: 'visible', timeout: t(30_000) });
  await dialog.locator('.dialog-buttons .monaco-button', { hasText: 'Delete' }).first().click();
  await dialog.waitFor({ state: 'hidden', timeout: t(10_000) });
}

test(
  'settings panel Models: lists Ollama models and GGUF files; pull shows the new model; delete asks in a modal, then it is gone',
  { timeout: t(240_000) },
  async () => {
    try {
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const box = '#models [data-ollama="box"]';
      await panel
        .locator(`${box} tr.installed-model`)
        .first()
        .waitFor({ timeout: t(30_000) });
      assert.deepEqual(await names(panel, box), ['nomic-embed-text:latest', 'qwen2.5-coder:7b']);
      const row = panel.locator(`${box} tr[data-model="qwen2.5-coder:7b"]`);
      assert.match(await row.locator('td.family').innerText(), /^llama · 7B · Q4_K_M$/);
      assert.match(await row.locator('td.size').innerText(), /\d(\.\d+)? ?(B|KB|MB|GB)/);
      const pocket = `#models [data-gguf-dir="${ggufDir}"]`;
      assert.deepEqual(await names(panel, pocket), ['tiny-test-q4']);
      assert.match(await panel.locator(pocket).innerText(), /pocket/);

      // Pull: the host runs Pull Model (progress notification with cancel), then the list has it.
      assert.equal(ollama.counts['POST /api/pull'], 0);
      await panel.locator(`${box} input.pull-name`).fill('smollm2:135m');
      await panel.locator(`${box} button.pull`).click();
      await panel.locator(`${box} tr[data-model="smollm2:135m"]`).waitFor({ timeout: t(60_000) });
      assert.equal(ollama.counts['POST /api/pull'], 1);
      await vs.waitForNotification(/smollm2:135m is ready on box/, t(20_000));

      // Delete: the confirmation is the host's modal, not the webview's.
      await panel.locator(`${box} tr[data-model="smollm2:135m"] button.delete-model`).click();
      await confirmDelete('Delete smollm2:135m from box?');
      await waitFor('smollm2 to leave the list', async () => !(await names(panel, box)).includes('smollm2:135m') || undefined, t(30_000));
      assert.equal(ollama.counts['DELETE /api/delete'], 1);
      assert.deepEqual(await names(panel, box), ['nomic-embed-text:latest', 'qwen2.5-coder:7b']);

      // A GGUF file of the embedded provider, deleted the same way.
      await panel.locator(`${pocket} tr[data-model="tiny-test-q4"] button.delete-model`).click();
      await confirmDelete('Delete tiny-test-q4');
      await waitFor('the GGUF file to leave the list', async () => (await names(panel, pocket)).length === 0 || undefined, t(30_000));
      assert.equal(fs.existsSync(path.join(ggufDir, 'tiny-test-q4.gguf')), false, 'the file is deleted from disk');
      await vs.screenshot('settings-models');
    } catch (e) {
      await vs.screenshot('settings-models-failure').catch(() => {});
      throw e;
    }
  },
);

test(
  'Switchyard: Pull Model from the command palette: the open settings panel lists the model at once',
  { timeout: t(120_000) },
  async () => {
    try {
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const box = '#models [data-ollama="box"]';
      await panel
        .locator(`${box} tr.installed-model`)
        .first()
        .waitFor({ timeout: t(30_000) });
      assert.ok(!(await names(panel, box)).includes('tinyllama:1.1b'));
      const pulls = ollama.counts['POST /api/pull'] ?? 0;
      // One Ollama provider: the command asks only for the name.
      await vs.runCommand('Switchyard: Pull Model');
      const input = vs.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: t(10_000) });
      await input.fill('tinyllama:1.1b');
      await input.press('Enter');
      // No Refresh click, no reopening: the panel's list follows the pull.
      await panel.locator(`${box} tr[data-model="tinyllama:1.1b"]`).waitFor({ timeout: t(60_000) });
      assert.equal((ollama.counts['POST /api/pull'] ?? 0) - pulls, 1);
    } catch (e) {
      await vs.screenshot('settings-models-palette-pull-failure').catch(() => {});
      throw e;
    }
  },
);

test(
  'settings panel Models: Download GGUF from the form; a wrong sha256 is refused and leaves no file, the right one lands verified',
  { timeout: t(180_000) },
  async () => {
    // A GGUF header and some bytes: the download checks the magic and the checksum, not the weights.
    const file = Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(256 * 1024, 7)]);
    const files = await startFileServer({ files: { '/models/tiny-dl-q8.gguf': file } });
    try {
      await vs.runCommand('Switchyard: Open Model Settings');
      const panel = await webviewFrame(vs.page, 'settings');
      const download = async (sha: string) => {
        const url = `${files.url}/models/tiny-dl-q8.gguf`;
        await panel.locator('#gguf-url').fill(url);
        await panel.locator('#gguf-sha256').fill(sha);
        // The page re-renders on host answers: submit once the form's fields (whichever render they are from) hold both.
        await waitFor(
          'the download form filled in',
          async () => (await panel.locator('#gguf-url').inputValue()) === url && (await panel.locator('#gguf-sha256').inputValue()) === sha,
          t(10_000),
          50,
        );
        const requests = files.requests.length;
        await panel.locator('.download-form button[type="submit"]').click();
        await waitFor('the download to reach the file server', async () => files.requests.length > requests, t(20_000), 50);
      };
      await download(sha256Hex(Buffer.from('something else')));
      // The host's error toast says why (it may hide again before a poll sees it: the log line is the same message);
      // the panel's status line says the download did not finish.
      await vs.waitForLog(
        'Switchyard',
        /download GGUF: tiny-dl-q8\.gguf from .* has sha256 [0-9a-f]{64}, not the expected [0-9a-f]{64}: the file was removed/,
        t(60_000),
      );
      await waitFor(
        'the panel to say so',
        async () => /did not finish/.test(await panel.locator('#status').innerText()) || undefined,
        t(20_000),
      );
      assert.equal(await panel.locator('#models tr.installed-model[data-model="tiny-dl-q8"]').count(), 0, 'the refused file is not listed');

      await download(sha256Hex(file));
      const row = panel.locator('#models tr.installed-model[data-model="tiny-dl-q8"]');
      await row.waitFor({ timeout: t(60_000) });
      // (The "is ready" toast may already have been hidden; the log line is written once the file is verified.)
      await vs.waitForLog('Switchyard', /downloaded GGUF tiny-dl-q8 \(256\.0 KB, sha256 [0-9a-f]{64}\)/, t(20_000));
      const dir = await panel
        .locator('#models [data-gguf-dir]', { has: panel.locator('tr.installed-model[data-model="tiny-dl-q8"]') })
        .getAttribute('data-gguf-dir');
      assert.ok(dir, 'the row sits in a GGUF folder group');
      assert.deepEqual(fs.readFileSync(path.join(dir, 'tiny-dl-q8.gguf')), file, 'the whole file, verified, on disk');
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes('tiny-dl-q8')),
        ['tiny-dl-q8.gguf'],
        'and nothing left from the refused attempt',
      );
      assert.ok(files.requests.length >= 2, 'both attempts reached the download server');
    } catch (e) {
      await vs.screenshot('settings-models-download-failure').catch(() => {});
      const log = (await vs.outputChannelText('Switchyard').catch(() => '')).split('\n').slice(-30).join('\n');
      process.stderr.write(
        `--- the Switchyard log's last lines ---\n${log}\n--- file server requests: ${JSON.stringify(files.requests)}\n`,
      );
      throw e;
    } finally {
      await files.close();
    }
  },
);
