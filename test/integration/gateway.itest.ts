// Runs inside a real VS Code extension host (code-server), see runner/main.ts. test/e2e/integration.test.ts starts
// an OpenAI test server and points switchyard.tasks.chat at it (SWITCHYARD_ITEST_OPENAI_URL), with the gateway
// token in SWITCHYARD_GATEWAY_TOKEN.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Services } from '../../src/vscode/services';
import { suite, t, test } from './framework';

const ANSWER = 'Routed through Switchyard.';

suite("Switchyard in VS Code's model picker and as a gateway", () => {
  test('selectChatModels({ vendor: "switchyard" }) lists the routed virtual models and streams an answer from the test server', async () => {
    assert.ok(process.env.SWITCHYARD_ITEST_OPENAI_URL, 'the e2e runner did not start the test server');
    const ext = vscode.extensions.getExtension('switchyard.switchyard');
    assert.ok(ext);
    await ext.activate();
    assert.equal(
      typeof vscode.lm?.registerLanguageModelChatProvider,
      'function',
      `VS Code ${vscode.version} lacks the Language Model provider API`,
    );
    let models: vscode.LanguageModelChat[] = [];
    for (const end = Date.now() + t(10_000); models.length === 0 && Date.now() < end;) {
      models = await vscode.lm.selectChatModels({ vendor: 'switchyard' });
      if (models.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    const ids = models.map((m) => m.id);
    assert.ok(ids.includes('switchyard/chat'), `switchyard/chat not offered; got ${JSON.stringify(ids)}`);
    assert.ok(ids.includes('switchyard/explain'));
    assert.ok(!ids.includes('switchyard/embed'), 'the embedding task is not a chat model');
    const chat = models.find((m) => m.id === 'switchyard/chat')!;
    assert.equal(chat.vendor, 'switchyard');
    assert.ok(chat.maxInputTokens > 0);

    const response = await chat.sendRequest(
      [vscode.LanguageModelChatMessage.User('Say something')],
      {},
      new vscode.CancellationTokenSource().token,
    );
    const pieces: string[] = [];
    for await (const piece of response.text) pieces.push(piece);
    assert.equal(pieces.join(''), ANSWER);
    assert.ok(pieces.length > 1, `the answer streamed in ${pieces.length} piece(s)`);
    assert.ok((await chat.countTokens('hello world, four tokens?')) > 0);

    // Sampling options under OpenAI's names are checked as the gateway checks them, then passed on.
    const seeded = await chat.sendRequest(
      [vscode.LanguageModelChatMessage.User('Say something')],
      { modelOptions: { seed: 3, top_p: 0.5, stop: ['NEVER'] } },
      new vscode.CancellationTokenSource().token,
    );
    let seededText = '';
    for await (const piece of seeded.text) seededText += piece;
    assert.equal(seededText, ANSWER);
    await assert.rejects(
      (async () => {
        const bad = await chat.sendRequest(
          [vscode.LanguageModelChatMessage.User('Say something')],
          { modelOptions: { top_p: 5 } },
          new vscode.CancellationTokenSource().token,
        );
        for await (const piece of bad.text) void piece;
      })(),
      /top_p must be a number between 0 and 1/,
    );
  });

  test('Start Gateway serves the same routes over HTTP with the token; Stop Gateway stops it', async () => {
    const token = process.env.SWITCHYARD_GATEWAY_TOKEN;
    assert.ok(token, 'SWITCHYARD_GATEWAY_TOKEN is not set for the extension host');
    const url = (await vscode.commands.executeCommand('switchyard.startGateway')) as string | undefined;
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const body = JSON.stringify({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] });
    const denied = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(denied.status, 401);
    const ok = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    assert.equal(ok.status, 200);
    const json = (await ok.json()) as { choices: { message: { content: string } }[] };
    assert.equal(json.choices[0]!.message.content, ANSWER);
    await vscode.commands.executeCommand('switchyard.stopGateway');
    await assert.rejects(fetch(`${url}/models`, { headers: { authorization: `Bearer ${token}` } }));
  });

  test('API keys stored and cleared, and settings changed, land in the usage audit list (never a key value)', async () => {
    const ext = vscode.extensions.getExtension<Services>('switchyard.switchyard');
    assert.ok(ext);
    const services = ext.isActive ? ext.exports : await ext.activate();
    const ledger = services.usageLedger.current;
    assert.ok(ledger, 'the usage feature set up its ledger');
    const key = 'sk-itest-AUDIT-0123456789abcdef';
    assert.equal(await services.secrets.getApiKey('itest-audit'), undefined);
    await services.secrets.store('itest-audit', key);
    // Keys are cached per provider (SecretStorage.get is a round trip per request): a stored or cleared key is seen at once.
    assert.equal(await services.secrets.getApiKey('itest-audit'), key);
    assert.equal(await services.secrets.getApiKey('itest-audit'), key);
    await vscode.commands.executeCommand('switchyard.clearApiKey', 'itest-audit');
    assert.equal(await services.secrets.getApiKey('itest-audit'), undefined);
    const entries = ledger.auditList(20).filter((e) => e.key === 'API key of itest-audit');
    assert.deepEqual(
      entries.map((e) => e.change.split(' ')[0]),
      ['cleared', 'set'],
      JSON.stringify(entries),
    );
    assert.ok(!JSON.stringify(ledger.auditList(200)).includes(key), 'the key value is not in the audit list');

    // A settings change made through VS Code's API lands there too, as before → after.
    const cfg = () => vscode.workspace.getConfiguration('switchyard');
    await cfg().update('routing.cooldownMs', 12345, vscode.ConfigurationTarget.Global);
    try {
      let change: string | undefined;
      for (const end = Date.now() + t(5000); change === undefined && Date.now() < end;) {
        change = ledger.auditList(20).find((e) => e.key === 'switchyard.routing.cooldownMs')?.change;
        if (change === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(change, '(default) → 12345');
    } finally {
      await cfg().update('routing.cooldownMs', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('Show Usage opens and the usage ledger has the requests above', async () => {
    await vscode.commands.executeCommand('switchyard.showUsage');
    // The tab model catches up with the new panel asynchronously.
    let tabs: string[] = [];
    for (const end = Date.now() + t(5000); !tabs.includes('Switchyard Usage') && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((tab) => tab.label);
    }
    assert.ok(tabs.includes('Switchyard Usage'), `tabs: ${JSON.stringify(tabs)}`);
    const dir = await import('node:os').then((os) => os.tmpdir());
    const target = vscode.Uri.file(`${dir}/switchyard-itest-usage-${Date.now()}.csv`);
    const written = (await vscode.commands.executeCommand('switchyard.exportUsageCsv', target)) as string | undefined;
    assert.equal(written, target.fsPath);
    const csv = Buffer.from(await vscode.workspace.fs.readFile(target))
      .toString('utf8')
      .trim()
      .split('\n');
    assert.match(csv[0]!, /^at,task,requested,provider,model,local,outcome/);
    assert.ok(
      csv.slice(1).some((l) => l.includes(',switchyard/chat,itest,gpt-4.1-mini,1,ok,')),
      csv.join('\n'),
    );
  });
});
