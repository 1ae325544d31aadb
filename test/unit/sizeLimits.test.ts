// scripts/size-limits.mjs (part of npm run lint): no line over 140 characters, no file over 400 lines, no function
// over 80 lines in src; what was over a limit when the check came in is listed with its size and may only shrink.
// These run it on small temporary trees.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'size-limits.mjs');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-size-'));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  return root;
}
const run = (root: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [script, ...args, root], { encoding: 'utf8' });
  return { status: r.status, out: r.stderr + r.stdout };
};
const fn = (name: string, body: number) => `export function ${name}(): number {\n${'  let x = 1;\n'.repeat(body)}  return 1;\n}\n`;

test('within the limits passes; a long line, a long file and a long function each fail, named', () => {
  assert.equal(run(tree({ 'src/a.ts': fn('small', 70) })).status, 0);
  const r = run(
    tree({
      'src/long-line.ts': `export const s = '${'x'.repeat(140)}';\n`,
      'src/long-file.ts': 'export const a = 1;\n'.repeat(401),
      'src/long-fn.ts': fn('big', 80),
    }),
  );
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /src\/long-line\.ts: lines over 140 characters \(1 lines\)/);
  assert.match(r.out, /src\/long-file\.ts: over 400 lines \(401 lines\)/);
  assert.match(r.out, /src\/long-fn\.ts big: function over 80 lines \(83 lines\)/);
});

test("the webviews' browser code (webview-ui) is held to the same limits", () => {
  const r = run(tree({ 'webview-ui/view.main.ts': 'export const a = 1;\n'.repeat(401) }));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /webview-ui\/view\.main\.ts: over 400 lines \(401 lines\)/);
});

test('a listed place may shrink, never grow; --update lowers the list', () => {
  const root = tree({ 'src/long-fn.ts': fn('big', 90) });
  assert.equal(run(root, '--update').status, 0);
  assert.equal(run(root).status, 0, 'as listed');
  fs.writeFileSync(path.join(root, 'src/long-fn.ts'), fn('big', 95));
  const grew = run(root);
  assert.equal(grew.status, 1);
  assert.match(grew.out, /big: function over 80 lines and grew \(93 -> 98 lines\)/);
  fs.writeFileSync(path.join(root, 'src/long-fn.ts'), fn('big', 10));
  const shrank = run(root);
  assert.equal(shrank.status, 0);
  assert.match(shrank.out, /1 of them shrank/);
  assert.equal(run(root, '--update').status, 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'scripts/size-limits.baseline.json'), 'utf8')).functions, {});
});
