// One build script, two targets: the extension and CLI (Node, CommonJS) and the webviews (browser).
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// Native modules and anything that must be loaded from node_modules at run time.
const nodeExternals = ['vscode', 'better-sqlite3', 'sqlite-vec', 'node-llama-cpp'];

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'info',
};

// web-tree-sitter reads import.meta.url, which is empty in CommonJS: define it from __filename.
const importMetaUrl = "const importMetaUrl = require('url').pathToFileURL(__filename).href;";

/** A Node bundle (CommonJS, natives external) written to dist/<name>.js. */
function nodeTarget(name, entry, { importMeta = true, shebang = false } = {}) {
  return {
    ...common,
    entryPoints: { [name]: entry },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: nodeExternals,
    ...(importMeta
      ? { define: { 'import.meta.url': 'importMetaUrl' }, banner: { js: `${shebang ? '#!/usr/bin/env node\n' : ''}${importMetaUrl}` } }
      : {}),
  };
}

const targets = [
  nodeTarget('extension', 'src/vscode/extension.ts'),
  nodeTarget('cli', 'src/cli/main.ts', { shebang: true }),
  // The embedded llama.cpp provider's child process (src/core/providers/embedded/runtime.ts forks it): its own
  // entry so a native crash there never reaches the extension host. node-llama-cpp stays external (imported).
  nodeTarget('embeddedWorker', 'src/core/providers/embedded/worker.ts', { importMeta: false }),
  // The workspace index's worker thread (src/core/index/service.ts starts it): parsing, hashing and SQL off the
  // extension host's thread. web-tree-sitter inside it reads import.meta.url, as in the extension bundle.
  nodeTarget('indexWorker', 'src/core/index/worker.ts'),
  // The usage ledger's writer thread (src/core/usage/ledgerWriter.ts starts it): SQLite writes off the serving thread.
  nodeTarget('ledgerWorker', 'src/core/usage/ledgerWorker.ts', { importMeta: false }),
];

const webviewDir = path.join(__dirname, 'webview-ui');
const webviewEntries = fs
  .readdirSync(webviewDir)
  .filter((f) => /^[a-z-]+\.main\.ts$/.test(f))
  .map((f) => path.join('webview-ui', f));
if (webviewEntries.length > 0) {
  targets.push({
    ...common,
    entryPoints: webviewEntries,
    outdir: 'dist/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    // The codicon font, imported by the webviews' CSS, lands next to the bundles (inside localResourceRoots).
    loader: { '.ttf': 'file' },
  });
}

// web-tree-sitter's runtime .wasm next to the bundles, and the grammars (@vscode/tree-sitter-wasm) in dist/grammars:
// src/core/index/chunker.ts looks there first.
function copyTreeSitterWasm() {
  const grammars = path.join(__dirname, 'dist', 'grammars');
  fs.mkdirSync(grammars, { recursive: true });
  fs.copyFileSync(
    path.join(__dirname, 'node_modules', 'web-tree-sitter', 'tree-sitter.wasm'),
    path.join(__dirname, 'dist', 'tree-sitter.wasm'),
  );
  const from = path.join(__dirname, 'node_modules', '@vscode', 'tree-sitter-wasm', 'wasm');
  for (const f of fs.readdirSync(from)) {
    if (/^tree-sitter-.+\.wasm$/.test(f)) fs.copyFileSync(path.join(from, f), path.join(grammars, f));
  }
}

async function main() {
  copyTreeSitterWasm();
  if (watch) {
    const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(targets.map((t) => esbuild.build(t)));
  fs.chmodSync(path.join(__dirname, 'dist', 'cli.js'), 0o755);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
