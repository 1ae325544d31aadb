/**
 * `switchyard complete --file F --line L --column C` (issue 15), the built command run as a user would, against the
 * Ollama test server: the suggestion on stdout, the route on stderr, --json, and the exit codes (2 for usage and
 * configuration, 1 when no model could answer).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { closedPort, scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';
import { runCli } from '../fixtures/cli';

let ollama: FixtureServer;
let refused: number;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-complete-'));
const SOURCE = ['export function mul(a: number, b: number): number {', '  return ', '}', ''].join('\n');
const file = path.join(dir, 'ops.ts');
writeFileSync(file, SOURCE);

before(async () => {
  ollama = await startOllamaServer({
    backend: scriptedBackend({ tokens: ['a', ' *', ' b;'] }),
    models: [{ name: 'qwen2.5-coder:7b', insert: true }, { name: 'llama3.2:3b' }],
  });
  refused = await closedPort();
});
after(() => ollama.close());
beforeEach(() => ollama.reset());

function configFile(complete: string[], extra: Record<string, unknown> = {}): string {
  const cfg = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    cfg,
    JSON.stringify({
      'switchyard.providers': [
        { id: 'up', kind: 'ollama', baseUrl: ollama.url },
        { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      ],
      'switchyard.tasks': { complete },
      'switchyard.privacy': 'local-only',
      ...extra,
    }),
  );
  return cfg;
}

test('prints the suggestion at line 2, column 10 (after "  return "), through a fallback; the route on stderr', async () => {
  const r = await runCli([
    'complete',
    '--file',
    file,
    '--line',
    '2',
    '--column',
    '10',
    '--config',
    configFile(['gone/qwen2.5-coder:7b', 'up/qwen2.5-coder:7b']),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'a * b;\n');
  assert.match(r.stderr, /^route: complete answered by up\/qwen2\.5-coder:7b \(local\) in \d+ ms$/m);
  const body = ollama.requests.find((q) => q.path === '/api/generate')!.body;
  assert.equal(body.prompt, 'export function mul(a: number, b: number): number {\n  return ');
  assert.equal(body.suffix, '\n}\n');
});

test('--json: text, source, route and latency; null text with the reason when there is nothing to show', async () => {
  const r = await runCli([
    'complete',
    '--file',
    file,
    '--line',
    '2',
    '--column',
    '10',
    '--config',
    configFile(['up/qwen2.5-coder:7b']),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.text, 'a * b;');
  assert.equal(out.source, 'model');
  assert.deepEqual(out.route, { providerId: 'up', model: 'qwen2.5-coder:7b', local: true });
  assert.equal(typeof out.latencyMs, 'number');

  const off = await runCli([
    'complete',
    '--file',
    file,
    '--line',
    '2',
    '--column',
    '10',
    '--json',
    '--config',
    configFile(['up/qwen2.5-coder:7b'], { 'switchyard.completion.enabled': false }),
  ]);
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(JSON.parse(off.stdout), { text: null, reason: 'completions are off (switchyard.completion.enabled is false)' });
  assert.equal(ollama.counts['POST /api/generate'], 1, 'nothing asked while off');
});

test('usage errors exit 2: a line or column past the end, a missing option', async () => {
  const cfg = configFile(['up/qwen2.5-coder:7b']);
  const pastLine = await runCli(['complete', '--file', file, '--line', '9', '--column', '1', '--config', cfg]);
  assert.equal(pastLine.code, 2);
  assert.match(pastLine.stderr, /--line 9 is past the end .*\(3 lines\)/);
  const pastColumn = await runCli(['complete', '--file', file, '--line', '2', '--column', '11', '--config', cfg]);
  assert.equal(pastColumn.code, 2);
  assert.match(pastColumn.stderr, /the last column is 10/);
  const zero = await runCli(['complete', '--file', file, '--line', '0', '--column', '1', '--config', cfg]);
  assert.equal(zero.code, 2);
  const missing = await runCli(['complete', '--file', file, '--line', '2', '--config', cfg]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs --column/);
  assert.equal(ollama.counts.total ?? 0, 0);
});

test('no model: only an instruct model exits 1 with the reason; an empty task is a configuration error (exit 2)', async () => {
  const instruct = await runCli(['complete', '--file', file, '--line', '2', '--column', '10', '--config', configFile(['up/llama3.2:3b'])]);
  assert.equal(instruct.code, 1);
  assert.match(instruct.stderr, /skipped up\/llama3\.2:3b: unsupported: no fill-in-the-middle/);
  const none = await runCli(['complete', '--file', file, '--line', '2', '--column', '10', '--config', configFile([])]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No model for completions/);
  assert.equal(ollama.counts['POST /api/generate'] ?? 0, 0);
});
