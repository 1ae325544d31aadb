#!/usr/bin/env node
// Builds the test-only extension "switchyard-integration-tests" (test/integration/runner) into
// dist/switchyard-integration-tests.vsix: esbuild bundles runner/main.ts together with every
// test/integration/*.itest.ts, then vsce packages it from a staging folder. code-server installs it next to
// dist/switchyard.vsix, and it runs the tests inside the real extension host (test/e2e/integration.test.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const itDir = path.join(repo, 'test', 'integration');
const runnerDir = path.join(itDir, 'runner');
const out = path.join(repo, 'dist', 'switchyard-integration-tests.vsix');

const testFiles = fs
  .readdirSync(itDir)
  .filter((f) => f.endsWith('.itest.ts'))
  .sort();
if (testFiles.length === 0) {
  console.error('no test/integration/*.itest.ts found');
  process.exit(1);
}

// The runner imports './all-tests.generated'; this virtual module imports every *.itest.ts.
const allTests = {
  name: 'all-itests',
  setup(build) {
    build.onResolve({ filter: /all-tests\.generated$/ }, () => ({ path: 'all-tests', namespace: 'itests' }));
    build.onLoad({ filter: /.*/, namespace: 'itests' }, () => ({
      contents: testFiles.map((f) => `import ${JSON.stringify('./' + f)};`).join('\n'),
      resolveDir: itDir,
      loader: 'ts',
    }));
  },
};

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-itest-'));
try {
  await esbuild.build({
    entryPoints: [path.join(runnerDir, 'main.ts')],
    outfile: path.join(stage, 'dist', 'runner.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    sourcemap: 'inline',
    external: ['vscode'],
    plugins: [allTests],
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(runnerDir, 'package.json'), path.join(stage, 'package.json'));
  fs.writeFileSync(path.join(stage, 'README.md'), '# switchyard-integration-tests\n\nTest-only extension; see test/integration.\n');
  fs.writeFileSync(path.join(stage, '.vscodeignore'), '');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const vsce = path.join(repo, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--allow-star-activation', '-o', out],
    { cwd: stage, encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(1);
  }
  console.log(`built ${path.relative(repo, out)} with ${testFiles.length} test file(s): ${testFiles.join(', ')}`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
