import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(__dirname, '../..');

test('the index worker bundle carries no provider, router or HTTP client code (only the token estimate)', async () => {
  // As esbuild.js builds dist/indexWorker.js, with a metafile instead of output.
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/core/index/worker.ts'],
    bundle: true,
    write: false,
    metafile: true,
    outfile: 'indexWorker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['vscode', 'better-sqlite3', 'sqlite-vec', 'node-llama-cpp'],
    define: { 'import.meta.url': 'importMetaUrl' },
    logLevel: 'silent',
  });
  // What the bundle holds (an input tree-shaken away to nothing, such as a module of types, does not count).
  const output = Object.values(result.metafile.outputs)[0]!;
  const inputs = Object.entries(output.inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .map(([f]) => f);
  assert.ok(inputs.includes('src/core/index/engine.ts'), inputs.join('\n'));
  const carried = inputs.filter((f) =>
    /node_modules\/(openai|ollama)\/|src\/core\/(routing|usage|gateway|chat)\/|src\/core\/providers\/(?!tokenEstimate\.ts|types\.ts)/.test(
      f,
    ),
  );
  assert.deepEqual(carried, []);
});
