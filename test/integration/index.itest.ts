// The workspace index inside a real VS Code extension host (code-server), from the installed .vsix: the worker
// thread starts from dist/indexWorker.js, tree-sitter finds its .wasm files in the extension's dist/, the workspace is
// indexed on first open, file events update it within about a second, and the commands run.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { suite, t, test } from './framework';
import type { Services } from '../../src/vscode/services';

async function services(): Promise<Services> {
  const ext = vscode.extensions.getExtension<Services>('switchyard.switchyard');
  assert.ok(ext, 'switchyard.switchyard is not installed');
  return ext.isActive ? ext.exports : await ext.activate();
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = t(20_000)): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

suite('workspace index', () => {
  test('indexes the workspace on first open, follows file events, searches with tree-sitter symbols', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the test window has a workspace folder');
    const s = await services();
    const index = await until('the index to start', () => s.workspaceIndex.current);
    await until('the first indexing to finish', () => index.status().state === 'idle' && index.status());

    // A new file is searchable within about a second of its creation (file watcher → worker).
    const file = path.join(folder.uri.fsPath, 'src', 'headers.ts');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const started = Date.now();
    fs.writeFileSync(
      file,
      'export function parseHttpHeader(line: string): [string, string] {\n  const i = line.indexOf(":");\n  return [line.slice(0, i), line.slice(i + 1)];\n}\n',
    );
    const hit = await until(
      'the new file in search results',
      async () => (await index.search('parse http header', { k: 5 })).find((h) => h.path === 'src/headers.ts'),
      t(15_000),
    );
    const latency = Date.now() - started;
    assert.equal(hit.symbol, 'parseHttpHeader');
    assert.equal(hit.language, 'typescript');
    assert.deepEqual([hit.startLine, hit.endLine], [1, 4]);
    assert.equal(hit.root, folder.uri.fsPath);
    s.log.info(`index itest: a created file was searchable after ${latency} ms`);

    // Deleting it removes it.
    fs.rmSync(file);
    await until(
      'the deleted file to leave the results',
      async () => !(await index.search('parseHttpHeader', { k: 5 })).some((h) => h.path === 'src/headers.ts'),
      t(15_000),
    );

    // Whether vectors exist depends on which embedding server this window can reach; the status says which.
    const status = index.status();
    assert.equal(status.state, 'idle');
    if (status.keywordOnly) assert.match(status.message ?? '', /embeddings paused|keyword-only/);
  }, 60_000);

  test('Rebuild Index and Search Index run', async () => {
    const folder = vscode.workspace.workspaceFolders![0]!;
    fs.writeFileSync(path.join(folder.uri.fsPath, 'notes.md'), '# Rebuild\nThe rebuild command re-reads every file.\n');
    await vscode.commands.executeCommand('switchyard.rebuildIndex');
    const s = await services();
    const hits = await s.workspaceIndex.current!.search('rebuild command', { k: 3 });
    assert.equal(hits[0]?.path, 'notes.md');
    assert.equal(hits[0]?.symbol, 'Rebuild');
    // Search Index with a query given opens a quick pick; Escape closes it.
    // The extension host cannot see the quick pick: close it until the command returns (a close sent before the pick
    // showed does nothing).
    let done = false;
    const shown = Promise.resolve(vscode.commands.executeCommand('switchyard.searchIndex', 'rebuild')).finally(() => (done = true));
    await until('Search Index to close its quick pick', async () => {
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      await Promise.race([shown, new Promise((r) => setTimeout(r, 200))]);
      return done;
    });
    await shown;
  }, 60_000);
});
