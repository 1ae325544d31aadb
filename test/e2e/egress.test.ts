// End to end: what left the machine (issue 12). Explain Selection falls back from a local server that is down to the
// cloud test server; the secret in the selection reaches the cloud only as a placeholder, and Show Usage's Egress view
// lists the request with the file and lines it carried and the redaction (a count, never the value).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { closedPort, scriptedBackend, startOpenAIServer, type FixtureServer } from '../fixtures';
import { webviewFrame } from './webviews';

let cloud: FixtureServer;
let vs: VSCode;
let workspace: string;
// Built from pieces so nothing secret-shaped is committed.
const SECRET = ['ghp', '_', 'Zq8Lm3Rt6Wy1Bc4Fh7Jk0Np2Sv5Xa9De3Gu6'].join('');

before(async () => {
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['It', ' reads', ' a', ' token', '.'] }) });
  const refused = await closedPort();
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-egress-ws-'));
  fs.writeFileSync(
    path.join(workspace, 'deploy.ts'),
    `// EGRESS_MARKER\nconst token = process.env.GH ?? '${SECRET}';\nexport const headers = { authorization: \`token \${token}\` };\n`,
  );
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': [
        { id: 'box', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
        { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
      ],
      'switchyard.tasks': { explain: ['box/qwen2.5-coder:7b', 'cloud/gpt-4.1-mini'], embed: [] },
      'switchyard.privacy': 'allow',
      'switchyard.index.enabled': false,
      'switchyard.routing.cooldownMs': 0,
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await cloud?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

test(
  'egress: a cloud answer after a fallback is listed with its file, lines and redactions; the secret never left',
  { timeout: t(180_000) },
  async () => {
    try {
      await vs.page.keyboard.press('Control+P');
      await vs.page.locator('.quick-input-widget input').fill('deploy.ts');
      await vs.page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'deploy.ts' })
        .first()
        .waitFor({ timeout: t(15_000) });
      await vs.page.keyboard.press('Enter');
      const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'EGRESS_MARKER' }).first();
      await editor.waitFor({ timeout: t(15_000) });
      await editor.click();
      await vs.page.keyboard.press('Control+A');
      await vs.page.keyboard.press('Control+Alt+E');
      const chat = await webviewFrame(vs.page, 'chat');
      const turn = chat.locator('.turn.assistant').last();
      await waitFor(
        'the cloud explanation',
        async () => ((await turn.getAttribute('data-status')) === 'done' ? true : undefined),
        t(40_000),
        100,
      );
      assert.match(await turn.innerText(), /cloud\/gpt-4\.1-mini/, 'the cloud candidate answered after the fallback');

      const sent = JSON.stringify(cloud.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body));
      assert.match(sent, /EGRESS_MARKER/, 'the selection went to the cloud');
      assert.ok(!sent.includes(SECRET), 'the token reached the cloud');
      assert.match(sent, /\[redacted: github-token\]/);

      await vs.runCommand('Switchyard: Show Usage');
      const usage = await webviewFrame(vs.page, 'usage');
      await usage.locator('#tab-egress').click();
      const row = usage.locator('#egress-rows tr.egress-row').first();
      await row.waitFor({ state: 'visible', timeout: t(20_000) });
      assert.equal(await row.locator('td.model').innerText(), 'cloud/gpt-4.1-mini');
      assert.equal(await row.locator('td.task').innerText(), 'explain');
      assert.equal(await row.locator('td.host').innerText(), '127.0.0.1');
      assert.match(await row.locator('td.files').innerText(), /deploy\.ts:1-\d/);
      assert.match(await row.locator('td.redactions').innerText(), /github-token/);
      const page = await usage.locator('body').innerText();
      assert.ok(!page.includes(SECRET), 'the usage view shows the value');
      await vs.screenshot('usage-egress');
    } catch (e) {
      await vs.screenshot('egress-failure').catch(() => {});
      throw e;
    }
  },
);
