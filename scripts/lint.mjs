#!/usr/bin/env node
// `npm run lint`: the layer rule (STYLE.md "Layers") and no console.log in shipped code.
//
//   src/core, src/protocol  never import `vscode` (import, `import type`, export-from, require, import() all count)
//   src/core                never imports from src/vscode or src/cli
//   src/protocol            imports only from src/protocol (types shared by host and webviews)
//   webview-ui              imports only from src/protocol, its own files, and npm packages (browser code)
//   src/**                  no console.log (the logger is the way; src/cli writes to process.stdout/stderr)
//
// Usage: node scripts/lint.mjs [rootDir]   (default: the repository). Prints `file:line: reason`, exits 1 on any.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const exts = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '.jsx']);

function walk(dir, out = []) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (exts.has(path.extname(e.name)) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * Replaces comments with spaces, keeping newlines so line numbers stay right. With blankStrings, string contents are
 * blanked too (for checks on code, not on module specifiers).
 */
function stripComments(src, blankStrings = false) {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && n === '*') {
      out += '  ';
      i += 2;
      while (i < src.length && !(src[i] === '*' && src[i + 1] === '/')) {
        out += src[i] === '\n' ? '\n' : ' ';
        i++;
      }
      out += '  ';
      i += 2;
    } else if (c === '"' || c === "'" || c === '`') {
      const q = c;
      out += c;
      i++;
      while (i < src.length && src[i] !== q) {
        if (src[i] === '\\') {
          out += blankStrings ? '  ' : src[i] + (src[i + 1] ?? '');
          i += 2;
          continue;
        }
        if (q !== '`' && src[i] === '\n') break;
        out += blankStrings && src[i] !== '\n' ? ' ' : src[i];
        i++;
      }
      if (i < src.length) out += src[i++];
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// Module specifiers: `import … from 'x'`, `import 'x'`, `export … from 'x'`, `import type … from 'x'`,
// `require('x')`, `import('x')`, `import x = require('x')`.
const specifierPatterns = [
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
  /\bimport\s*(['"])([^'"\n]+)\1/g,
  /\b(?:require|import)\s*\(\s*(['"`])([^'"`\n]+)\1\s*\)/g,
];

function lineOf(text, index) {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function imports(code) {
  const found = [];
  for (const re of specifierPatterns) {
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(code))) found.push({ spec: m[2], index: m.index });
  }
  return found;
}

const rel = (p) => path.relative(root, p).split(path.sep).join('/');
const inside = (p, dir) => {
  const r = path.relative(path.join(root, dir), p);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
};

function checkFile(file) {
  const problems = [];
  const relFile = rel(file);
  const code = stripComments(fs.readFileSync(file, 'utf8'));
  const inCore = inside(file, 'src/core');
  const inProtocol = inside(file, 'src/protocol');
  const inWebview = inside(file, 'webview-ui');
  const inSrc = inside(file, 'src');
  const inCli = inside(file, 'src/cli');

  for (const { spec, index } of imports(code)) {
    const line = lineOf(code, index);
    const report = (reason) => problems.push(`${relFile}:${line}: ${reason}`);
    const isVscode = spec === 'vscode' || spec.startsWith('vscode/');
    const relative = spec.startsWith('.') || spec.startsWith('/');
    const target = relative ? path.resolve(path.dirname(file), spec) : undefined;

    if ((inCore || inProtocol) && isVscode) {
      report(`${inCore ? 'src/core' : 'src/protocol'} must not import 'vscode' (reach the editor through core's Host interfaces)`);
    }
    if (inCore && target && (inside(target, 'src/vscode') || inside(target, 'src/cli'))) {
      report(`src/core must not import from ${rel(target).split('/').slice(0, 2).join('/')} ('${spec}'): core is below the adapters`);
    }
    if (inProtocol && target && !inside(target, 'src/protocol')) {
      report(`src/protocol may import only from src/protocol, not '${spec}'`);
    }
    if (inWebview) {
      if (isVscode) report(`webview-ui must not import 'vscode' (it runs in the browser; talk to the host with messages)`);
      else if (target && !inside(target, 'webview-ui') && !inside(target, 'src/protocol')) {
        report(`webview-ui may import only from src/protocol (and its own files), not '${spec}'`);
      } else if (!relative && /^node:|^(fs|path|os|child_process|net|http|https|crypto|worker_threads)$/.test(spec)) {
        report(`webview-ui runs in the browser: no Node built-in '${spec}'`);
      }
    }
  }

  if (inSrc) {
    const bare = stripComments(fs.readFileSync(file, 'utf8'), true);
    const re = /\bconsole\s*\.\s*log\s*\(/g;
    let m;
    while ((m = re.exec(bare))) {
      problems.push(
        `${relFile}:${lineOf(bare, m.index)}: console.log in shipped code: use the Logger${inCli ? ' (or process.stdout/stderr in the CLI)' : ''}`,
      );
    }
  }
  return problems;
}

const files = [...walk(path.join(root, 'src')), ...walk(path.join(root, 'webview-ui'))];
const problems = files.flatMap(checkFile);
for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(`\nlint: ${problems.length} problem(s) in ${files.length} files`);
  process.exit(1);
}
console.error(`lint: ${files.length} files, layer rule and console.log check clean`);
