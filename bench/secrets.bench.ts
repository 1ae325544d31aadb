/**
 * `npm run bench -- secrets`: what the secret detector costs on a 100 KB prompt (target ≤ 2 ms p50), measured
 * against baselines over the same text in the same run: one `indexOf` pass and one simple regex pass. The prompt is
 * this repository's own TypeScript (realistic code), once with a few secrets spliced in and once with none. Then
 * pathological inputs (100 KB of one character or of repeated rule prefixes) to show nothing backtracks.
 * Numbers, not pass/fail: timing assertions flake on shared machines; this prints them for people to read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { findSecrets, parseDotEnvValues, redactSecrets } from '../src/core/routing/secrets';

const PK = ['PRIVATE', 'KEY'].join(' ');
const N = Number(process.env.BENCH_N ?? 300);
const SIZE = 100 * 1024;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p99: q(0.99) };
}
const ms = (x: number) => `${x.toFixed(3)} ms`;

function time(f: () => unknown, n = N): { p50: number; p99: number } {
  for (let i = 0; i < 20; i++) f(); // warm up
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    xs.push(performance.now() - t0);
  }
  return stats(xs);
}

/** The repository's own source, concatenated to SIZE characters. */
function realisticCode(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.includes('secret')) files.push(p);
    }
  };
  walk(path.join(__dirname, '..', 'src'));
  let text = '';
  for (const f of files) {
    if (text.length >= SIZE) break;
    text += `// ${path.basename(f)}\n${readFileSync(f, 'utf8')}\n`;
  }
  return text.slice(0, SIZE);
}

/** Deterministic pseudo-random characters, so no real-looking secret is written in this file. */
function rand(n: number, seed: number): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let x = seed;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += A[(x >>> 8) % A.length];
  }
  return s;
}

const clean = realisticCode();
const secrets = [
  `const OPENAI = "${'sk-' + 'proj-' + rand(100, 1)}";\n`,
  `aws_secret_access_key = ${rand(40, 2)}\n`,
  `  "token": "${rand(32, 3)}",\n`,
  `const db = 'postgres://app:${rand(16, 4)}@db.internal:5432/app';\n`,
  `GITHUB_TOKEN=${'gh' + 'p_' + rand(36, 5)}\n`,
];
let dirty = clean;
secrets.forEach((s, i) => {
  const at = dirty.indexOf('\n', Math.floor(((i + 1) * dirty.length) / (secrets.length + 1))) + 1;
  dirty = dirty.slice(0, at) + s + dirty.slice(at);
});
dirty = dirty.slice(0, SIZE);
const envValues = parseDotEnvValues(Array.from({ length: 20 }, (_, i) => `VAR_${i}=${rand(24, 100 + i)}`).join('\n'));

console.log(`text: ${clean.length} chars of this repository's TypeScript; ${N} runs each`);
const rows: [string, { p50: number; p99: number }][] = [];
const baseIndexOf = time(() => dirty.indexOf('\u0000never\u0000'));
const baseRegex = time(() => dirty.match(/sk-[A-Za-z0-9_-]{20,}/g));
rows.push(['baseline: one indexOf pass (absent needle)', baseIndexOf]);
rows.push(['baseline: one simple regex pass /sk-…{20,}/g', baseRegex]);
const none = time(() => redactSecrets(clean));
const some = time(() => redactSecrets(dirty));
const withEnv = time(() => redactSecrets(dirty, { knownValues: envValues }));
rows.push(['redactSecrets, no secrets', none]);
rows.push([`redactSecrets, ${redactSecrets(dirty).found} secrets`, some]);
rows.push(['redactSecrets, same + 20 .env values', withEnv]);
for (const [name, s] of rows) {
  console.log(`${name.padEnd(48)} p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  (${(s.p50 / baseRegex.p50).toFixed(1)}x the regex baseline)`);
}
console.log(`found in the text with secrets: ${JSON.stringify(redactSecrets(dirty).redactions)}`);

console.log('\npathological 100 KB inputs (one run each after a warm-up; p50 of 5):');
const patho: [string, string][] = [
  ["'a' × 100 K", 'a'.repeat(SIZE)],
  ["'=' × 100 K", '='.repeat(SIZE)],
  ["'password=' repeated", 'password='.repeat(SIZE / 9)],
  ["'token: \"' repeated", 'token: "'.repeat(SIZE / 8)],
  ["'sk-' repeated", 'sk-'.repeat(SIZE / 3)],
  ["'eyJ' repeated", 'eyJ'.repeat(SIZE / 3)],
  ["'eyJhbGciOiJIUzI1NiJ9.' repeated", 'eyJhbGciOiJIUzI1NiJ9.'.repeat(SIZE / 21)],
  ["'://a:' repeated", '://a:'.repeat(SIZE / 5)],
  ['PEM BEGIN lines, no END', `${'-'.repeat(5)}BEGIN ${PK}${'-'.repeat(5)}\n`.repeat(SIZE / 29)],
  ["'token = \"' + 'a' × 100 K", `token = "${'a'.repeat(SIZE)}`],
  ["'token = \"' + random × 100 K + '\"'", `token = "${rand(SIZE, 9)}"`],
];
for (const [name, text] of patho) {
  const s = time(() => findSecrets(text), 5);
  console.log(`${name.padEnd(36)} p50 ${ms(s.p50)}  findings ${findSecrets(text).length}`);
}
