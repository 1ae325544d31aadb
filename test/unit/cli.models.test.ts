/**
 * `switchyard pull` and `switchyard rm`, run as the built dist/cli.js against the Ollama test server and a local
 * file server with a real GGUF.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  scriptedBackend,
  sha256Hex,
  startFileServer,
  startOllamaServer,
  tinyModelBytes,
  type FileServer,
  type FixtureServer,
} from '../fixtures';
import { runCli, type CliResult } from '../fixtures/cli';

const MODEL = tinyModelBytes();
let ollama: FixtureServer;
let files: FileServer;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-models-'));
const modelsDir = path.join(dir, 'models');
let config: string;

before(async () => {
  ollama = await startOllamaServer({ backend: scriptedBackend(), pullable: ['tinyllama:latest'] });
  files = await startFileServer({ files: { '/m/tiny.gguf': MODEL } });
  config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ 'switchyard.providers': [{ id: 'ol', kind: 'ollama', baseUrl: ollama.url }] }));
});
after(async () => {
  await ollama.close();
  await files.close();
});

function run(args: string[]): Promise<CliResult> {
  return runCli(args, { env: { SWITCHYARD_MODELS_DIR: modelsDir } });
}

test('pull <ollama model> shows progress on stderr in order and prints the model on stdout', async () => {
  const r = await run(['pull', 'tinyllama', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ol/tinyllama\n');
  const manifest = r.stderr.indexOf('pulling manifest');
  const verifying = r.stderr.indexOf('verifying sha256 digest');
  const success = r.stderr.indexOf('success');
  assert.ok(manifest >= 0 && verifying > manifest && success > verifying, r.stderr);
  assert.match(r.stderr, /\(100 %\)/);
});

test("pull of a model the registry lacks fails with exit 1 and Ollama's words", async () => {
  const r = await run(['pull', 'no-such-model', '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /file does not exist/);
});

test('pull <url> downloads a GGUF into the models folder with a sha256 check; the embedded provider then lists it', async () => {
  const r = await run(['pull', `${files.url}/m/tiny.gguf`, '--sha256', sha256Hex(MODEL), '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), path.join(modelsDir, 'tiny.gguf'));
  assert.ok(readFileSync(path.join(modelsDir, 'tiny.gguf')).equals(MODEL));
  assert.match(r.stderr, /done: tiny \(/);
  const withEmbedded = path.join(dir, 'embedded.json');
  writeFileSync(withEmbedded, JSON.stringify({ 'switchyard.providers': [{ id: 'emb', kind: 'embedded' }] }));
  const models = await run(['models', '--json', '--config', withEmbedded]);
  const rows = JSON.parse(models.stdout) as { id: string; models: { id: string }[] }[];
  assert.deepEqual(
    rows.find((x) => x.id === 'emb')!.models.map((m) => m.id),
    ['tiny'],
  );
});

test('a wrong --sha256 exits 1 and leaves no file; a malformed one is a usage error', async () => {
  const r = await run(['pull', `${files.url}/m/tiny.gguf`, '--name', 'other.gguf', '--sha256', 'f'.repeat(64), '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sha256 .* not the expected/);
  assert.equal(existsSync(path.join(modelsDir, 'other.gguf')), false);
  assert.equal(existsSync(path.join(modelsDir, 'other.gguf.partial')), false);
  const bad = await run(['pull', `${files.url}/m/tiny.gguf`, '--sha256', 'xyz', '--config', config]);
  assert.equal(bad.code, 2);
});

test('rm deletes a GGUF by name, or an Ollama model; unknown names exit 1', async () => {
  const gguf = await run(['rm', 'tiny', '--config', config]);
  assert.equal(gguf.code, 0, gguf.stderr);
  assert.equal(existsSync(path.join(modelsDir, 'tiny.gguf')), false);
  const ol = await run(['rm', 'tinyllama', '--config', config]);
  assert.equal(ol.code, 0, ol.stderr);
  assert.match(ol.stderr, /deleted tinyllama from ol/);
  const again = await run(['rm', 'tinyllama', '--config', config]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no model "tinyllama"/);
  const usage = await run(['rm']);
  assert.equal(usage.code, 2);
});
