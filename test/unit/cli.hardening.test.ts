/**
 * The CLI as a hostile or careless user meets it (issue 13 "The CLI ends when its work ends" and "Clean failure
 * output", issue 12's CLI configuration errors), run as the built dist/cli.js: one-shot commands exit when their work
 * ends even with the embedded llama.cpp process loaded, `serve` stops at once on SIGTERM/SIGINT, Node 20 gets a line
 * instead of a segfault, libraries never print stacks or raw upstream bytes, usage errors are two lines, keys echoed
 * back encoded are redacted, file names are escaped, and any invalid --config value is exit 2.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { redact } from '../../src/core/host';
import { scriptedBackend, startOllamaServer, startOpenAIServer, tinyModelPath, type FixtureServer } from '../fixtures';
import { CLI, runCli, type CliResult } from '../fixtures/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-hardening-'));
/** How long a command may take to exit on a busy machine before the test calls it hung (the old code took 300 s). */
const EXIT_GUARD_MS = 60_000;
let ollama: FixtureServer;
let cloud: FixtureServer;
let modelFile: string;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend() });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['from', ' the', ' cloud'] }) });
  // Model id "tiny" (the file name without .gguf).
  modelFile = path.join(dir, 'tiny.gguf');
  fs.copyFileSync(await tinyModelPath(), modelFile);
});
after(async () => {
  await ollama.close();
  await cloud.close();
});
beforeEach(() => {
  ollama.reset();
  cloud.reset();
});

function configFile(settings: Record<string, unknown>): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(settings));
  return file;
}

const env = { XDG_CACHE_HOME: path.join(dir, 'cache'), SWITCHYARD_MODELS_DIR: path.join(dir, 'models') };

function run(args: string[], input?: string): Promise<CliResult> {
  return runCli(args, { env, input });
}

/** The embedded provider on the tiny model, CPU only; `idle` is switchyard.embedded.idleTimeoutSeconds. */
function embeddedSettings(idle?: number): Record<string, unknown> {
  return {
    'switchyard.providers': [{ id: 'emb', kind: 'embedded', modelPath: modelFile }],
    'switchyard.tasks': { chat: [{ model: 'emb/tiny', maxTokens: 24 }], embed: ['emb/tiny'] },
    'switchyard.embedded.gpu': 'off',
    ...(idle === undefined ? {} : { 'switchyard.embedded.idleTimeoutSeconds': idle }),
  };
}

interface Spawned {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

function spawnCli(args: string[], node = process.execPath): Spawned {
  const child = spawn(node, [CLI, ...args], { env: { ...process.env, ...env, SWITCHYARD_GATEWAY_TOKEN: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)));
  child.stdin.end();
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the process to end; a generous guard turns "never exits" into a failure instead of a hung suite. */
async function exitOf(s: Spawned, what: string): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      s.child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${EXIT_GUARD_MS / 1000} s (stderr: ${s.stderr().slice(-500)})`));
    }, EXIT_GUARD_MS);
  });
  try {
    return await Promise.race([s.exited, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise, or a failure after the guard when what it waits for never happens (the old code: a warning only). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not seen within ${EXIT_GUARD_MS / 1000} s`)), EXIT_GUARD_MS);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** Process ids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits (bounded) until a process is gone: a process that is not our child has no exit event to wait on. */
async function gone(pid: number): Promise<boolean> {
  const end = Date.now() + 20_000;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Starts `switchyard serve --port 0` and resolves once it printed its URL. */
async function startServe(args: string[]): Promise<Spawned & { url: string }> {
  const s = spawnCli(['serve', '--port', '0', '--token', 'hardening-token-123', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    s.child.stdout.on('data', () => {
      const line = s.stdout().split('\n');
      if (line.length > 1) resolve(line[0]!);
    });
    void s.exited.then((code) => reject(new Error(`serve exited with ${code}: ${s.stderr()}`)));
  });
  return { ...s, url };
}

// ---- 1. The CLI ends when its work ends ----

test('ask with an embedded model exits as soon as the answer is printed (default idle timeout, and idleTimeoutSeconds 0)', async () => {
  for (const idle of [undefined, 0]) {
    const s = spawnCli(['ask', '--config', configFile(embeddedSettings(idle)), 'hello world']);
    const code = await exitOf(s, `ask (idleTimeoutSeconds ${idle ?? 'default'})`);
    assert.equal(code, 0, s.stderr());
    assert.match(s.stderr(), /route: chat answered by emb\/tiny \(local\)/);
    assert.match(s.stderr(), /usage: chat ok via emb\/tiny/);
  }
});

test('index with embedded embeddings exits when it is done, every chunk embedded', async () => {
  const folder = fs.mkdtempSync(path.join(dir, 'proj-'));
  fs.writeFileSync(path.join(folder, 'a.ts'), 'export function hello(world: string) {\n  return world;\n}\n');
  const s = spawnCli(['index', folder, '--db', path.join(dir, `emb-${Date.now()}.sqlite`), '--config', configFile(embeddedSettings())]);
  const code = await exitOf(s, 'index with embedded embeddings');
  assert.equal(code, 0, s.stderr());
  assert.match(s.stdout(), /vectors: every chunk embedded with emb\/tiny/);
});

test('serve stops on SIGTERM with a stream in flight, and on SIGINT, ending the embedded process with it', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const s = await startServe(['--config', configFile(embeddedSettings())]);
    const client = new OpenAI({ baseURL: s.url, apiKey: 'hardening-token-123', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'switchyard/chat',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 400,
      stream: true,
    });
    const reading = (async () => {
      try {
        for await (const _ of stream) {
          // drained until the gateway goes away
        }
      } catch {
        // the gateway closed the connection: expected
      }
    })();
    if (signal === 'SIGINT') await reading; // a finished request, then Ctrl+C
    // The embedded llama.cpp process is running (the answer came from it).
    const workers = childrenOf(s.child.pid!);
    assert.ok(workers.length >= 1, 'the embedded process runs under serve');
    s.child.kill(signal);
    const code = await exitOf(s, `serve after ${signal}`);
    assert.equal(code, 0, s.stderr());
    await reading;
    for (const pid of workers) assert.ok(await gone(pid), `embedded process ${pid} ended with serve`);
    assert.match(s.stderr(), /gateway: stopped/);
  }
});

// ---- 2. Node 20: a line, not a segfault ----

const SYSTEM_NODE = '/usr/bin/node';
const systemNodeVersion = fs.existsSync(SYSTEM_NODE)
  ? spawnSync(SYSTEM_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
  : '';
const oldNodeSkip = !systemNodeVersion
  ? `no ${SYSTEM_NODE} on this machine`
  : Number(systemNodeVersion.split('.')[0]) >= 22
    ? `${SYSTEM_NODE} is ${systemNodeVersion}, new enough for the native modules`
    : false;

test('on Node < 22, index and search exit 2 with one line saying how to run them; route still works', { skip: oldNodeSkip }, async () => {
  const folder = fs.mkdtempSync(path.join(dir, 'node20-'));
  fs.writeFileSync(path.join(folder, 'a.ts'), 'export const x = 1;\n');
  const db = path.join(dir, `node20-${Date.now()}.sqlite`);
  const cfg = configFile({
    'switchyard.providers': [{ id: 'up', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { chat: ['up/qwen2.5-coder:7b'], embed: [] },
  });
  for (const args of [
    ['index', folder, '--db', db, '--config', cfg],
    ['search', folder, 'x', '--db', db, '--config', cfg],
  ]) {
    const s = spawnCli(args, SYSTEM_NODE);
    const code = await exitOf(s, `${args[0]} on Node ${systemNodeVersion}`);
    assert.equal(code, 2, `${args[0]}: exit ${code} (SIGSEGV is the old crash); stderr: ${s.stderr()}`);
    const lines = s.stderr().trim().split('\n');
    assert.equal(lines.length, 1, s.stderr());
    assert.match(
      lines[0]!,
      new RegExp(
        `^switchyard: ${args[0]} needs Node\\.js 22 or newer \\(this is ${systemNodeVersion.replace(/\./g, '\\.')}\\): run it as \`npx switchyard ${args[0]}`,
      ),
    );
  }
  const route = spawnCli(['route', 'chat', '--config', cfg], SYSTEM_NODE);
  assert.equal(await exitOf(route, 'route on Node 20'), 0, route.stderr());
  assert.match(route.stdout(), /^chat: up\/qwen2\.5-coder:7b \(local\)/);
});

// ---- 3. No stacks, no raw upstream bytes ----

const STACK_LINE = /^\s+at /m;
/** C0/C1 control characters other than a newline: raw bytes from a server reached the terminal. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function assertClean(r: { stdout: string; stderr: string }, what: string): void {
  for (const [name, text] of [
    ['stderr', r.stderr],
    ['stdout', r.stdout],
  ] as const) {
    assert.doesNotMatch(text, STACK_LINE, `${what}: a stack trace on ${name}:\n${text}`);
    assert.doesNotMatch(text, /<html|<body|<\/div>/i, `${what}: raw HTML on ${name}:\n${text}`);
    assert.doesNotMatch(text, CONTROL, `${what}: raw control bytes on ${name}: ${JSON.stringify(text)}`);
    assert.doesNotMatch(
      text,
      /error parsing url|invalid json:|Failed to parse error response|Getting text from response|Could not parse message into JSON|From chunk:/,
      `${what}: a library's console output on ${name}:\n${text}`,
    );
  }
}

test('an ollama provider with a file:// base URL: ask, models and route fail in one line each, no library stack', async () => {
  const cfg = configFile({
    'switchyard.providers': [{ id: 'o', kind: 'ollama', baseUrl: 'file:///etc/passwd', local: true }],
    'switchyard.tasks': { chat: ['o/llama3'] },
    'switchyard.privacy': 'allow',
  });
  const ask = await run(['ask', '--config', cfg, 'hi']);
  assert.equal(ask.code, 1);
  assertClean(ask, 'ask');
  assert.match(ask.stderr.trim().split('\n').at(-1)!, /^switchyard: server: No model could answer chat/);
  const models = await run(['models', '--config', cfg]);
  assertClean(models, 'models');
  assert.match(models.stdout, /^o {2}ollama {2}file:\/\/\/etc\/passwd {2}local {2}down: /m);
  const route = await run(['route', 'chat', '--config', cfg]);
  assert.equal(route.code, 1);
  assertClean(route, 'route');
});

const HTML = '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><div>nginx says no</div></body></html>\n';
const RANDOM = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 197 + 13) % 256));

test('an ollama server answering HTML or random bytes on /api/chat: one line per failure, no raw bytes', async () => {
  const cfg = configFile({
    'switchyard.providers': [{ id: 'up', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { chat: ['up/qwen2.5-coder:7b'] },
  });
  const cases = [
    { name: 'HTML with 200', b: { mode: 'raw', status: 200, contentType: 'text/html', body: HTML } },
    { name: 'HTML with 502', b: { mode: 'raw', status: 502, contentType: 'text/html', body: HTML } },
    { name: 'random bytes with 200', b: { mode: 'raw', status: 200, contentType: 'application/x-ndjson', body: RANDOM } },
    { name: 'random bytes with 500', b: { mode: 'raw', status: 500, body: RANDOM } },
  ] as const;
  for (const c of cases) {
    ollama.reset();
    ollama.setBehaviour(c.b, 'POST /api/chat');
    const r = await run(['ask', '--config', cfg, 'hi']);
    assert.equal(ollama.counts['POST /api/chat'], 1, c.name);
    assertClean(r, `ask against ${c.name}`);
    if (r.code !== 0)
      assert.match(r.stderr.trim().split('\n').at(-1)!, /^switchyard: \w+: No model could answer chat/, `${c.name}:\n${r.stderr}`);
  }
});

test('an OpenAI-compatible server streaming HTML or random bytes as SSE data: no library console output (a guard: this already held)', async () => {
  const cfg = configFile({
    'switchyard.providers': [{ id: 'oai', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1` }],
    'switchyard.tasks': { chat: ['oai/gpt-4.1-mini'] },
  });
  for (const body of [`data: ${HTML.replace(/\n/g, ' ')}\n\n`, Buffer.concat([Buffer.from('data: '), RANDOM, Buffer.from('\n\n')])]) {
    cloud.reset();
    cloud.setBehaviour({ mode: 'raw', status: 200, contentType: 'text/event-stream', body }, 'POST /v1/chat/completions');
    const r = await run(['ask', '--config', cfg, 'hi']);
    assert.equal(cloud.counts['POST /v1/chat/completions'], 1);
    assertClean(r, 'ask against SSE garbage');
  }
});

test('--verbose shows a library console line as one redacted debug line, never a stack', async () => {
  const cfg = configFile({
    'switchyard.providers': [{ id: 'o', kind: 'ollama', baseUrl: 'file:///etc/passwd', local: true }],
    'switchyard.tasks': { chat: ['o/llama3'] },
    'switchyard.privacy': 'allow',
  });
  const r = await run(['route', 'chat', '--config', cfg, '--verbose']);
  assert.doesNotMatch(r.stderr, STACK_LINE, r.stderr);
  assert.match(r.stderr, /^\[debug\] library output: error parsing url TypeError: Invalid URL$/m);
});

// ---- 4. Usage errors: the reason and a pointer, not the whole usage ----

test('usage errors print the reason and one line pointing to --help (exit 2)', async () => {
  for (const args of [
    ['frobnicate'],
    ['ask', '--bogus', 'x'],
    ['serve', '--port', 'abc'],
    ['search'],
    ['route'],
    ['pull'],
    ['index', path.join(dir, 'no-such-folder')],
  ]) {
    const r = await run(args, '');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 2, `${args.join(' ')}:\n${r.stderr}`);
    assert.match(lines[0]!, /^switchyard: \S/);
    assert.equal(lines[1], 'Run `switchyard --help` for the commands and their options.');
    assert.doesNotMatch(r.stderr, /Commands:/);
    assert.equal(r.stdout, '');
  }
  const help = await run(['ask', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: switchyard <command>/);
});

// ---- 5. Keys echoed back encoded; escaped file names ----

const KEY = 'hardening key+with/odd=chars~and-more_42';

test('redact catches a known key percent-encoded (either form, either case) and inside Basic auth', () => {
  const forms = [
    KEY,
    encodeURIComponent(KEY),
    encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), // lower-case hex
    new URLSearchParams({ k: KEY }).toString().slice(2), // application/x-www-form-urlencoded: space as +
    encodeURI(KEY),
  ];
  for (const f of forms) {
    const out = redact(`upstream said: invalid key "${f}" (check it)`, [KEY]);
    assert.equal(out, 'upstream said: invalid key "***" (check it)', `form ${f}`);
  }
  for (const user of ['', 'a', 'ab', 'abc', 'user@example.com']) {
    const b64 = Buffer.from(`${user}:${KEY}`).toString('base64');
    for (const text of [`echo: ${b64}`, `echo: ${b64.replace(/\+/g, '-').replace(/\//g, '_')}`, `Authorization: Basic ${b64}`]) {
      const out = redact(text, [KEY]);
      assert.ok(!out.includes(b64.slice(8, -4)), `base64 of "${user}:key" left in: ${out}`);
      assert.ok(
        !Buffer.from(out.replace(/^.*?: (Basic )?/, ''), 'base64')
          .toString('latin1')
          .includes(KEY.slice(4, -4)),
        `decodable: ${out}`,
      );
    }
  }
  // An sk- key a server percent-encoded, with no known value to go by.
  assert.equal(redact('key sk%2Dproj%2Dabcdefghijklmnop rejected'), 'key sk-*** rejected');
  assert.equal(redact('key sk-proj-abcd%2Befghijklmnop rejected'), 'key sk-*** rejected');
});

test('a key the server echoes URL-encoded in its error never reaches stderr', async () => {
  const cfg = configFile({
    'switchyard.providers': [
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false, apiKeyEnv: 'SY_HARD_KEY' },
    ],
    'switchyard.tasks': { chat: ['cloud/gpt-4.1-mini'] },
    'switchyard.privacy': 'allow',
  });
  for (const echoed of [encodeURIComponent(KEY), new URLSearchParams({ k: KEY }).toString().slice(2)]) {
    cloud.reset();
    cloud.setBehaviour(
      {
        mode: 'error',
        status: 401,
        body: {
          error: {
            message: `Incorrect API key provided: ${echoed}. See https://example.invalid/keys?key=${echoed}`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        },
      },
      'POST /v1/chat/completions',
    );
    const r = await runCli(['ask', '--config', cfg, 'hi'], { env: { ...env, SY_HARD_KEY: KEY } });
    assert.equal(r.code, 1);
    assert.equal(cloud.counts['POST /v1/chat/completions'], 1);
    assert.match(r.stderr, /auth/);
    assert.ok(!r.stderr.includes(echoed) && !r.stderr.includes(KEY), `key echoed on stderr:\n${r.stderr}`);
    assert.ok(!r.stderr.includes('key+with') && !r.stderr.includes('key%2Bwith'), r.stderr);
  }
});

test('search prints file names with control characters escaped, one line per hit', async () => {
  const folder = fs.mkdtempSync(path.join(dir, 'names-'));
  const evil = ['red\x1b[31malert.ts', 'two\nlines.ts', 'bell\x07.ts'];
  for (const n of evil) fs.writeFileSync(path.join(folder, n), 'export function frobnicateWidget() {\n  return 42;\n}\n');
  const db = path.join(dir, `names-${Date.now()}.sqlite`);
  const cfg = configFile({ 'switchyard.providers': [], 'switchyard.tasks': { embed: [] } });
  const idx = await run(['index', folder, '--db', db, '--config', cfg]);
  assert.equal(idx.code, 0, idx.stderr);
  const r = await run(['search', folder, 'frobnicateWidget', '--db', db, '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, CONTROL, JSON.stringify(r.stdout));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  const shown = lines.map((l) => l.slice(0, l.indexOf(':'))).sort();
  assert.deepEqual(shown, ['bell\\x07.ts', 'red\\x1b[31malert.ts', 'two\\nlines.ts']);
});

// ---- 6. Issue 12: any invalid --config value is a configuration error, exit 2, one line naming the key ----

test('an invalid privacy value is exit 2 with one line naming the key, for every command; nothing is contacted', async () => {
  const folder = fs.mkdtempSync(path.join(dir, 'cfg-'));
  fs.writeFileSync(path.join(folder, 'a.ts'), 'export const x = 1;\n');
  const cfg = configFile({
    'switchyard.providers': [
      { id: 'up', kind: 'ollama', baseUrl: ollama.url },
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
    ],
    'switchyard.tasks': { chat: ['cloud/gpt-4.1-mini'], embed: ['up/nomic-embed-text:latest'] },
    'switchyard.privacy': 'local_only',
  });
  const db = path.join(dir, `cfg-${Date.now()}.sqlite`);
  const commands: string[][] = [
    ['models', '--config', cfg],
    ['route', 'chat', '--config', cfg],
    ['ask', '--config', cfg, '--allow-cloud', 'hi'],
    ['index', folder, '--db', db, '--config', cfg],
    ['search', folder, 'x', '--db', db, '--config', cfg],
    ['serve', '--port', '0', '--config', cfg],
    ['pull', 'llama3', '--config', cfg],
    ['rm', 'llama3', '--config', cfg],
  ];
  for (const args of commands) {
    const s = spawnCli(args);
    const code = await exitOf(s, args[0]!);
    assert.equal(code, 2, `${args[0]}: exit ${code}\n${s.stderr()}`);
    const lines = s.stderr().trim().split('\n');
    assert.equal(lines.length, 1, `${args[0]}:\n${s.stderr()}`);
    assert.match(lines[0]!, /^switchyard: invalid setting in --config \S+: switchyard\.privacy: "local_only"/, args[0]);
    assert.equal(s.stdout(), '', `${args[0]} printed: ${s.stdout()}`);
  }
  assert.equal(ollama.counts.total, 0, 'no request to the local server');
  assert.equal(cloud.counts.total, 0, 'no request to the cloud server');
});

test('every kind of config problem is exit 2 naming its key: a number as privacy, a bad local flag, a bad localHosts entry, a bad number', async () => {
  const providers = [{ id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false }];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ 'switchyard.privacy': 42 }, /switchyard\.privacy/],
    [{ 'switchyard.providers': [{ ...providers[0], local: 'no' }] }, /switchyard\.providers\[0\]\.local/],
    [{ 'switchyard.localHosts': ['gpu box; rm -rf /'] }, /switchyard\.localHosts\[0\]/],
    [{ 'switchyard.index.maxFileSizeKb': 'big' }, /switchyard\.index\.maxFileSizeKb/],
    [{ 'switchyard.tasks': { chat: ['cloud/gpt-4.1-mini'], dance: ['cloud/x'] } }, /switchyard\.tasks/],
  ];
  for (const [settings, key] of cases) {
    const cfg = configFile({
      'switchyard.providers': providers,
      'switchyard.tasks': { chat: ['cloud/gpt-4.1-mini'] },
      'switchyard.privacy': 'allow',
      ...settings,
    });
    const r = await run(['ask', '--config', cfg, '--allow-cloud', 'hi']);
    assert.equal(r.code, 2, `${JSON.stringify(settings)}:\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^switchyard: invalid setting in --config /);
    assert.match(lines[0]!, key);
  }
  assert.equal(cloud.counts.total, 0);
});

test('serve keeps its settings when the --config file is edited into an invalid one', async () => {
  const cfg = configFile({
    'switchyard.providers': [{ id: 'up', kind: 'ollama', baseUrl: ollama.url }],
    'switchyard.tasks': { chat: ['up/qwen2.5-coder:7b'] },
  });
  const s = await startServe(['--config', cfg]);
  try {
    const warned = new Promise<void>((resolve) => {
      s.child.stderr.on('data', () => {
        if (/kept the previous settings: invalid setting/.test(s.stderr())) resolve();
      });
    });
    fs.writeFileSync(cfg, JSON.stringify({ 'switchyard.privacy': 'local_only' }));
    await within(warned, `serve's "kept the previous settings" line (stderr: ${s.stderr()})`);
    const client = new OpenAI({ baseURL: s.url, apiKey: 'hardening-token-123', maxRetries: 0 });
    const a = await client.chat.completions.create({ model: 'switchyard/chat', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(a.choices[0]!.message.content, 'Hello from the test server.');
  } finally {
    s.child.kill('SIGTERM');
  }
  assert.equal(await exitOf(s, 'serve'), 0, s.stderr());
});

test('a key-shaped value in a config problem is not echoed', async () => {
  const cfg = configFile({ 'switchyard.privacy': 'sk-live-abcdefghijklmnopqrstuvwx' });
  const r = await run(['route', 'chat', '--config', cfg]);
  assert.equal(r.code, 2);
  assert.ok(!r.stderr.includes('abcdefghijklmnop'), r.stderr);
});
