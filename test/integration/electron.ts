// `npm run test:integration:electron`: the same test/integration/*.itest.ts, run by @vscode/test-electron in a
// downloaded desktop VS Code with the repository as the extension development path.
//
// NEEDS A DOWNLOAD: @vscode/test-electron fetches VS Code from update.code.visualstudio.com on first use. That fails
// on machines without that access (ours: see ENVIRONMENT.md), so this is NOT part of `npm test`; there, the same
// tests run inside code-server (test/e2e/integration.test.ts). Use it where VS Code can be downloaded, e.g. on a
// desktop or a CI with internet. On Linux without a display, run it under xvfb-run.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';

const repo = path.resolve(__dirname, '..', '..');
const itDir = __dirname;
const outDir = path.join(repo, 'out', 'integration-electron');

async function main(): Promise<void> {
  const files = fs
    .readdirSync(itDir)
    .filter((f) => f.endsWith('.itest.ts'))
    .sort();
  // The extensionTestsPath module: registers every test, then `run()` runs them and throws if any failed.
  const entry = [
    ...files.map((f) => `import ${JSON.stringify('./' + f)};`),
    "import { run as runAll } from './framework';",
    'export async function run() {',
    '  const results = await runAll((r) => process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.name}\\n${r.ok ? "" : r.error + "\\n"}`));',
    '  const failed = results.filter((r) => !r.ok);',
    '  if (results.length === 0) throw new Error("no integration tests registered");',
    '  if (failed.length > 0) throw new Error(`${failed.length} of ${results.length} integration tests failed`);',
    '}',
  ].join('\n');
  await esbuild.build({
    stdin: { contents: entry, resolveDir: itDir, loader: 'ts', sourcefile: 'electron-entry.ts' },
    outfile: path.join(outDir, 'index.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  await runTests({
    version: process.env.SWITCHYARD_VSCODE_VERSION ?? 'stable',
    extensionDevelopmentPath: repo,
    extensionTestsPath: path.join(outDir, 'index.js'),
    launchArgs: [path.join(repo, 'samples', 'workspace'), '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((e) => {
  process.stderr.write(`integration tests (test-electron) failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
