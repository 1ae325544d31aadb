// scripts/lint.mjs enforces the layer rule; these run it on small temporary trees and check that it fails on
// violations (with file:line) and passes on clean code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'lint.mjs');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function lintTree(files: Record<string, string>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-lint-'));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  const r = spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
  return { status: r.status, out: r.stderr + r.stdout };
}

test('a clean tree passes', () => {
  const r = lintTree({
    'src/core/router.ts': "import { x } from './util';\n// import * as vscode from 'vscode';\nexport const s = 'vscode';\n",
    'src/core/util.ts': 'export const x = 1;\n',
    'src/protocol/chat.ts': "import type { Y } from './shared';\nexport type X = Y;\n",
    'src/protocol/shared.ts': 'export type Y = string;\n',
    'src/vscode/extension.ts': "import * as vscode from 'vscode';\nimport { x } from '../core/util';\n",
    'src/cli/main.ts': "process.stdout.write('ok\\n');\n",
    'webview-ui/chat.main.ts':
      "import type { X } from '../src/protocol/chat';\nimport { marked } from 'marked';\nimport { h } from './dom';\n",
    'webview-ui/dom.ts': 'export const h = 1;\n',
  });
  assert.equal(r.status, 0, r.out);
});

test('core importing vscode fails, in every import form, with file:line', () => {
  const r = lintTree({
    'src/core/a.ts': "import * as vscode from 'vscode';\n",
    'src/core/b.ts': "\n\nimport type { Uri } from 'vscode';\n",
    'src/core/c.ts': "const v = require('vscode');\n",
    'src/core/d.ts': "export async function f() { return import('vscode'); }\n",
    'src/protocol/e.ts': "export type { Uri } from 'vscode';\n",
  });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /src\/core\/a\.ts:1: src\/core must not import 'vscode'/);
  assert.match(r.out, /src\/core\/b\.ts:3: /);
  assert.match(r.out, /src\/core\/c\.ts:1: /);
  assert.match(r.out, /src\/core\/d\.ts:1: /);
  assert.match(r.out, /src\/protocol\/e\.ts:1: src\/protocol must not import 'vscode'/);
});

test('core importing the adapters fails', () => {
  const r = lintTree({
    'src/core/routing/router.ts': "import { log } from '../../vscode/logging';\nimport { main } from '../../cli/main';\n",
  });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /router\.ts:1: src\/core must not import from src\/vscode/);
  assert.match(r.out, /router\.ts:2: src\/core must not import from src\/cli/);
});

test('webview-ui importing outside src/protocol fails', () => {
  const r = lintTree({
    'webview-ui/chat.main.ts':
      "import { Router } from '../src/core/routing/router';\nimport * as vscode from 'vscode';\nimport fs from 'node:fs';\n",
  });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /chat\.main\.ts:1: webview-ui may import only from src\/protocol/);
  assert.match(r.out, /chat\.main\.ts:2: webview-ui must not import 'vscode'/);
  assert.match(r.out, /chat\.main\.ts:3: webview-ui runs in the browser/);
});

test('console.log in src fails; in a comment or string it does not', () => {
  const r = lintTree({
    'src/vscode/status.ts': "// console.log('x')\nconst s = 'console.log(1)';\nconsole.log(s);\n",
  });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /status\.ts:3: console\.log in shipped code/);
  assert.doesNotMatch(r.out, /status\.ts:[12]:/);
});
