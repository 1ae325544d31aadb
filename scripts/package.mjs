#!/usr/bin/env node
// `npm run package`: a production build, then a platform-specific .vsix at dist/switchyard.vsix.
//
// The bundle keeps better-sqlite3 and sqlite-vec external (native code), so they ship from node_modules, filtered by
// the allow-list in .vscodeignore. better-sqlite3 carries prebuilt binaries for 8 platforms (16 MB); a .vsix for one
// target keeps only that target's binary (~3 MB in all), the way the Marketplace's platform-specific extensions work.
//
//   node scripts/package.mjs                      # this machine's platform (e.g. linux-x64)
//   node scripts/package.mjs --target darwin-arm64
//   node scripts/package.mjs --universal          # every better-sqlite3 prebuild, no --target
//   node scripts/package.mjs --skip-build         # package dist/ as it is
//
// sqlite-vec's binary comes from its platform package (sqlite-vec-<os>-<arch>), which npm installs only for the
// machine it runs on; packaging for another target needs that package installed (npm install --os/--cpu).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const universal = args.includes('--universal');
const targetArg = args.includes('--target') ? args[args.indexOf('--target') + 1] : undefined;
const out = path.join(repo, 'dist', 'switchyard.vsix');

function currentTarget() {
  const arch = process.arch;
  if (process.platform === 'linux') {
    const musl = fs.existsSync('/etc/alpine-release');
    return musl ? `alpine-${arch}` : `linux-${arch}`;
  }
  return `${process.platform}-${arch}`; // darwin-x64, darwin-arm64, win32-x64, win32-arm64
}

// vsce target → better-sqlite3 prebuild name and sqlite-vec platform package.
const targets = {
  'linux-x64': ['linux-x64', 'sqlite-vec-linux-x64'],
  'linux-arm64': ['linux-arm64', 'sqlite-vec-linux-arm64'],
  'alpine-x64': ['linuxmusl-x64', undefined],
  'alpine-arm64': ['linuxmusl-arm64', undefined],
  'darwin-x64': ['darwin-x64', 'sqlite-vec-darwin-x64'],
  'darwin-arm64': ['darwin-arm64', 'sqlite-vec-darwin-arm64'],
  'win32-x64': ['win32-x64', 'sqlite-vec-windows-x64'],
  'win32-arm64': ['win32-arm64', undefined],
};

// The embedded provider's child process imports node-llama-cpp (ESM, not bundleable: it finds its binaries and
// llama/ files relative to itself), so it ships from node_modules with its production dependencies, plus the one
// @node-llama-cpp/<platform> package of the target (CPU build). GPU builds (CUDA, Vulkan: hundreds of MB) do not
// ship; llama/ keeps its JSON metadata and grammars, not the llama.cpp sources.
const llamaPlatforms = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'mac-x64',
  'darwin-arm64': 'mac-arm64-metal',
  'win32-x64': 'win-x64',
  'win32-arm64': 'win-arm64',
};
function llamaAllowList(target) {
  const lines = [
    '!node_modules/node-llama-cpp/package.json',
    '!node_modules/node-llama-cpp/LICENSE',
    '!node_modules/node-llama-cpp/dist/**',
    '!node_modules/node-llama-cpp/llama/*.json',
    '!node_modules/node-llama-cpp/llama/grammars/**',
    '!node_modules/node-llama-cpp/templates/**',
  ];
  const platform = llamaPlatforms[target];
  if (platform) lines.push(`!node_modules/@node-llama-cpp/${platform}/**`);
  const seen = new Set();
  const visit = (name, from) => {
    let dir = from;
    let found;
    while (true) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        found = candidate;
        break;
      }
      const up = path.dirname(dir);
      if (up === dir || !up.startsWith(repo)) return; // an optional dependency for another platform
      dir = up;
    }
    if (seen.has(found)) return;
    seen.add(found);
    const pkg = JSON.parse(fs.readFileSync(path.join(found, 'package.json'), 'utf8'));
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) {
      if (!dep.startsWith('@node-llama-cpp/')) visit(dep, found);
    }
  };
  visit('node-llama-cpp', repo);
  for (const dir of seen) {
    const rel = path.relative(repo, dir).split(path.sep).join('/');
    if (rel !== 'node_modules/node-llama-cpp') lines.push(`!${rel}/**`);
  }
  return lines;
}

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!args.includes('--skip-build')) run(process.execPath, ['esbuild.js', '--production']);

const vsce = path.join(repo, 'node_modules', '@vscode', 'vsce', 'vsce');
// README's relative links (CONTRIBUTING.md, the e2e screenshots) stay as written: there is no public repository URL
// for vsce to rewrite them against, and without this flag it refuses to package.
const vsceArgs = ['package', '-o', out, '--no-rewrite-relative-links'];
let tmp;
if (!universal) {
  const target = targetArg ?? currentTarget();
  const entry = targets[target];
  if (!entry) {
    console.error(`unknown target ${target}; one of: ${Object.keys(targets).join(', ')}`);
    process.exit(2);
  }
  const [prebuild, vecPackage] = entry;
  if (vecPackage && !fs.existsSync(path.join(repo, 'node_modules', vecPackage))) {
    console.error(`node_modules/${vecPackage} is not installed: sqlite-vec would not load on ${target}.`);
    process.exit(1);
  }
  // The allow-list, narrowed to one target's binaries. vsce re-includes whatever any `!` line matches, wherever it
  // stands, so the wide `!` lines are rewritten rather than overridden.
  const base = fs.readFileSync(path.join(repo, '.vscodeignore'), 'utf8').split('\n');
  const narrowed = base.flatMap((line) => {
    const l = line.trim();
    if (l === '!node_modules/better-sqlite3/prebuilds/**') return [`!node_modules/better-sqlite3/prebuilds/${prebuild}.node`];
    if (l.startsWith('!node_modules/sqlite-vec-*/')) {
      return vecPackage ? [l.replace('sqlite-vec-*', vecPackage)] : [];
    }
    return [line];
  });
  if (!base.some((l) => l.trim() === '!node_modules/better-sqlite3/prebuilds/**')) {
    console.error('.vscodeignore no longer has the line `!node_modules/better-sqlite3/prebuilds/**` that this script narrows');
    process.exit(1);
  }
  narrowed.push(...llamaAllowList(target));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-package-'));
  const ignoreFile = path.join(tmp, '.vscodeignore');
  fs.writeFileSync(ignoreFile, narrowed.join('\n'));
  vsceArgs.push('--target', target, '--ignoreFile', ignoreFile);
}
try {
  run(process.execPath, [vsce, ...vsceArgs]);
} finally {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}
