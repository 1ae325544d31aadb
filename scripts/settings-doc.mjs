// Writes README's settings reference from package.json, the one place settings are declared.
// `node scripts/settings-doc.mjs` rewrites README.md; `--check` exits 1 when README is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const props = manifest.contributes.configuration.properties;
const BEGIN = '<!-- settings:begin (generated from package.json by scripts/settings-doc.mjs) -->';
const END = '<!-- settings:end -->';

const cell = (s) =>
  String(s)
    .replace(/\|/g, '\\|')
    .replace(/\n+/g, ' ')
    .replace(/#([a-z.A-Z]+)#/g, '`$1`');
const rows = Object.entries(props).map(([key, s]) => {
  const type = s.enum ? s.enum.map((e) => `\`${e}\``).join(' \\| ') : s.type;
  return `| \`${key}\` | ${type} | \`${cell(JSON.stringify(s.default))}\` | ${s.scope} | ${cell(s.markdownDescription ?? s.description ?? '')} |`;
});
const table = [BEGIN, '| Setting | Type | Default | Scope | What it does |', '| --- | --- | --- | --- | --- |', ...rows, END].join('\n');

export function render(readme) {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < 0) throw new Error('README.md lacks the settings markers');
  return readme.slice(0, a) + table + readme.slice(b + END.length);
}

const file = path.join(root, 'README.md');
const current = readFileSync(file, 'utf8');
const next = render(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md settings reference is out of date: run `node scripts/settings-doc.mjs`');
    process.exit(1);
  }
} else if (next !== current) {
  writeFileSync(file, next);
}
