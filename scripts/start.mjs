#!/usr/bin/env node
// `npm start`: build and package Switchyard, then open it in a real VS Code on samples/workspace.
//
// - With a `code` CLI on PATH: `code --extensionDevelopmentPath=<repo> samples/workspace` (desktop VS Code).
// - Otherwise: code-server from tools/code-server (installed on first use), with dist/switchyard.vsix installed into a
//   persistent profile under .cache/start, served on http://127.0.0.1:$PORT (default 8765) without a password.
//   It stays in the foreground; Ctrl+C stops it.
//
// SWITCHYARD_START=code-server forces code-server even where `code` exists.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCodeServer } from './ensure-code-server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workspace = path.join(repo, 'samples', 'workspace');
const node = process.execPath; // Node 24 under `npm start`

function step(msg) {
  process.stderr.write(`\n[start] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`[start] ${path.basename(cmd)} ${args.join(' ')} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
}

function findOnPath(name) {
  const exts = process.platform === 'win32' ? ['.cmd', '.exe', ''] : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const ext of exts) {
      const p = path.join(dir, name + ext);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        if (fs.statSync(p).isFile()) return p;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

step('building and packaging (npm run package)');
run(node, [path.join(repo, 'scripts', 'package.mjs')]);

const code = process.env.SWITCHYARD_START === 'code-server' ? undefined : findOnPath('code');
if (code) {
  step(`opening VS Code (${code}) with the extension from ${repo}`);
  run(code, [`--extensionDevelopmentPath=${repo}`, workspace], { shell: process.platform === 'win32' });
  process.exit(0);
}

step('no `code` CLI on PATH: using code-server');
let entry;
try {
  entry = await ensureCodeServer();
} catch (e) {
  process.stderr.write(`[start] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

const state = path.join(repo, '.cache', 'start');
const userDataDir = path.join(state, 'user-data');
const extensionsDir = path.join(state, 'extensions');
const config = path.join(state, 'code-server.yaml');
fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
fs.mkdirSync(extensionsDir, { recursive: true });
if (!fs.existsSync(config)) fs.writeFileSync(config, '');
const settingsFile = path.join(userDataDir, 'User', 'settings.json');
if (!fs.existsSync(settingsFile)) {
  fs.writeFileSync(settingsFile, JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off' }, null, 2));
}
const common = [
  '--config',
  config,
  '--user-data-dir',
  userDataDir,
  '--extensions-dir',
  extensionsDir,
  '--disable-telemetry',
  '--disable-update-check',
];

step('installing dist/switchyard.vsix into .cache/start');
run(node, [entry, ...common, '--install-extension', path.join(repo, 'dist', 'switchyard.vsix'), '--force']);

const port = Number(process.env.PORT ?? 8765);
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
const server = spawn(node, [entry, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, workspace], {
  cwd: repo,
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: process.platform !== 'win32', // its own process group, so Ctrl+C stops its children too
});

let announced = false;
const onData = (chunk) => {
  const text = chunk.toString();
  process.stderr.write(text.replace(/^/gm, '  code-server │ ').replace(/ {2}code-server │ $/, ''));
  if (!announced && /HTTP server listening/i.test(text)) {
    announced = true;
    const line = `  Switchyard in VS Code: ${url}  `;
    const bar = '═'.repeat(line.length);
    process.stdout.write(`\n╔${bar}╗\n║${line}║\n╚${bar}╝\n  Open it in a browser. Ctrl+C stops code-server.\n\n`);
  }
};
server.stdout.on('data', onData);
server.stderr.on('data', onData);

function stop(signal) {
  try {
    if (process.platform === 'win32') server.kill();
    else process.kill(-server.pid, signal);
  } catch {
    /* already gone */
  }
}
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('exit', () => stop('SIGKILL'));
server.on('exit', (c, sig) => {
  if (!announced)
    process.stderr.write(
      `[start] code-server exited before serving (exit ${c ?? sig}); is port ${port} free? Set PORT=… to use another.\n`,
    );
  process.exit(announced ? 0 : 1);
});
