#!/usr/bin/env node
// Part of `npm run lint`: size limits for src and webview-ui (issue 19 step 5, CONTRIBUTING.md "Size").
//
//   no line over 140 characters, no file over 400 lines, no function over 80 lines
//
// What was over a limit when the check came in is listed in scripts/size-limits.baseline.json, with its size then:
// it may shrink, never grow, and nothing new may cross a limit. When a listed place is back within its limit (or
// smaller than listed), `node scripts/size-limits.mjs --update` rewrites the list from the tree (it never adds to it
// when run without --update; with --update, review the diff: it must only remove or lower entries).
//
// Usage: node scripts/size-limits.mjs [--update] [rootDir]   Prints `file: reason`, exits 1 on any.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const update = args.includes('--update');
const root = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const ts = createRequire(import.meta.url)('typescript');
export const LIMITS = { lineChars: 140, fileLines: 400, functionLines: 80 };
const baselinePath = path.join(root, 'scripts', 'size-limits.baseline.json');

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(ts|tsx|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The sizes over a limit in the tree: { files: {rel: lines}, functions: {"rel name": lines}, longLines: {rel: count} }. */
function measure() {
  const found = { files: {}, functions: {}, longLines: {} };
  // The code that ships: the extension, core and CLI (src) and the webviews' browser code (webview-ui).
  const dirs = ['src', 'webview-ui'].map((d) => path.join(root, d)).filter((d) => fs.existsSync(d));
  for (const file of dirs.flatMap((d) => walk(d)).sort()) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
    if (count > LIMITS.fileLines) found.files[rel] = count;
    const long = lines.filter((l) => l.length > LIMITS.lineChars).length;
    if (long > 0) found.longLines[rel] = long;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node, owner) => {
      let name = owner;
      if (ts.isFunctionLike(node) && node.body) {
        const own = node.name && ts.isIdentifier(node.name) ? node.name.text : undefined;
        const parentName = ts.isVariableDeclaration(node.parent) && ts.isIdentifier(node.parent.name) ? node.parent.name.text : undefined;
        name = own ?? parentName ?? `${owner ?? '(top)'}/(anonymous)`;
        const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(node.end).line;
        const size = last - first + 1;
        const key = `${rel} ${name}`;
        if (size > LIMITS.functionLines) found.functions[key] = Math.max(found.functions[key] ?? 0, size);
      }
      ts.forEachChild(node, (child) => visit(child, name));
    };
    visit(sf, undefined);
  }
  return found;
}

const found = measure();
if (update) {
  fs.mkdirSync(path.dirname(baselinePath), { recursive: true });
  fs.writeFileSync(baselinePath, `${JSON.stringify(found, null, 2)}\n`);
  console.log(
    `size limits: baseline written (${Object.keys(found.files).length} files, ${Object.keys(found.functions).length} functions, ${Object.keys(found.longLines).length} files with long lines)`,
  );
  process.exit(0);
}
const baseline = fs.existsSync(baselinePath)
  ? JSON.parse(fs.readFileSync(baselinePath, 'utf8'))
  : { files: {}, functions: {}, longLines: {} };
const problems = [];
const lower = [];
const check = (kind, what, unit) => {
  for (const [key, size] of Object.entries(found[kind])) {
    const was = baseline[kind]?.[key];
    if (was === undefined) problems.push(`${key}: ${what} (${size} ${unit})`);
    else if (size > was) problems.push(`${key}: ${what} and grew (${was} -> ${size} ${unit}); it may only shrink`);
    else if (size < was) lower.push(key);
  }
  for (const key of Object.keys(baseline[kind] ?? {})) if (!(key in found[kind])) lower.push(key);
};
check('files', `over ${LIMITS.fileLines} lines`, 'lines');
check('functions', `function over ${LIMITS.functionLines} lines`, 'lines');
check('longLines', `lines over ${LIMITS.lineChars} characters`, 'lines');
for (const p of problems) console.log(p);
if (problems.length > 0) {
  console.log(`size limits: ${problems.length} problem(s): split the file or function, wrap the line (CONTRIBUTING.md "Size")`);
  process.exit(1);
}
const listed =
  Object.keys(baseline.files ?? {}).length + Object.keys(baseline.functions ?? {}).length + Object.keys(baseline.longLines ?? {}).length;
console.log(
  `size limits: clean (${listed} places still over a limit are listed in scripts/size-limits.baseline.json${lower.length ? `; ${lower.length} of them shrank: run node scripts/size-limits.mjs --update` : ''})`,
);
