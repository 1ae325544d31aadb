// Runs inside a real VS Code extension host (code-server), see runner/main.ts.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from './framework';

const ID = 'switchyard.switchyard';

suite('activation', () => {
  test('the packaged extension is installed and activates', async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is not installed`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('its commands are registered', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('switchyard.showLogs'), 'switchyard.showLogs is not registered');
  });

  test('switchyard.showLogs runs without error', async () => {
    await vscode.commands.executeCommand('switchyard.showLogs');
  });

  test('an unknown command rejects (the harness can see failures)', async () => {
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('switchyard.noSuchCommand')));
  });
});
