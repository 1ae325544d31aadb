/**
 * The index store on real SQLite (better-sqlite3), sqlite-vec and FTS5, and the engine over real folders: code-aware
 * keyword search, vectors keyed by content, model changes, a corrupt file moved aside, incremental updates, and the
 * awkward inputs (binary, 50 MB, non-UTF-8, UTF-16, symlink loops, minified, .gitignore'd).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexEngine } from '../../src/core/index/engine';
import { IndexStore, SCHEMA_VERSION } from '../../src/core/index/store';
import { ftsQuery, identifierParts } from '../../src/core/index/tokens';
import { hashEmbedding } from '../fixtures';

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-${name}-`));
}

function write(root: string, rel: string, content: string | Buffer): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

function engine(
  root: string,
  db = path.join(tmp('db'), 'index.sqlite'),
  extra: Partial<ConstructorParameters<typeof IndexEngine>[0]> = {},
): IndexEngine {
  return new IndexEngine({ root, dbPath: db, exclude: [], maxFileSizeKb: 512, chunkTokens: 400, ...extra });
}

test('identifier parts and FTS queries', () => {
  assert.deepEqual(identifierParts('parseHTTPHeader2'), ['parse', 'http', 'header', '2']);
  assert.deepEqual(identifierParts('parse_http_header'), ['parse', 'http', 'header']);
  assert.equal(ftsQuery('  '), undefined);
  assert.equal(ftsQuery('parseHttpHeader'), '"parsehttpheader" OR "parse" OR "http" OR "header"');
});

test('parseHttpHeader, parse_http_header and "parse http header" meet in keyword search', async () => {
  const root = tmp('fts');
  write(root, 'a.ts', 'export function parseHttpHeader(line: string) {\n  return line.split(":");\n}\n');
  write(root, 'b.py', 'def parse_http_header(line):\n    return line.split(":")\n');
  write(root, 'c.md', '# Notes\nWe parse the HTTP header by hand.\n');
  write(root, 'd.ts', 'export function unrelated() {\n  return 42;\n}\n');
  const e = engine(root);
  try {
    await e.sync();
    for (const q of ['parseHttpHeader', 'parse_http_header', 'parse http header', 'ParseHTTPHeader']) {
      const paths = e
        .search({ query: q, k: 10 })
        .map((h) => h.path)
        .sort();
      assert.deepEqual(paths, ['a.ts', 'b.py', 'c.md'], `query ${q}`);
    }
    // Filters: language and path globs.
    assert.deepEqual(
      e.search({ query: 'parse http header', k: 10, languages: ['python'] }).map((h) => h.path),
      ['b.py'],
    );
    assert.deepEqual(
      e.search({ query: 'parse http header', k: 10, paths: ['**/*.md'] }).map((h) => h.path),
      ['c.md'],
    );
    // The token budget stops adding chunks.
    assert.equal(e.search({ query: 'parse http header', k: 10, tokenBudget: 30 }).length, 1);
  } finally {
    e.close();
  }
});

test('vectors: keyed by chunk hash, exact and binary-quantized KNN agree on the nearest, a model change drops them', async () => {
  const root = tmp('vec');
  const topics = [
    'router fallback timeout provider',
    'sqlite vector index search',
    'webview chat message render',
    'gguf model download resume',
  ];
  topics.forEach((t, i) => write(root, `f${i}.ts`, `export function f${i}() {\n  return '${t}';\n}\n`));
  const e = engine(root);
  try {
    await e.sync();
    const pending = e.pending(100);
    assert.equal(pending.length, 4);
    assert.equal(e.pending(100).length, 0, 'handed-out chunks are not handed out twice');
    assert.equal(
      e.putVectors(
        'srv/embed-a',
        64,
        pending.map((p) => ({ hash: p.hash, vector: hashEmbedding(p.text, 64) })),
      ),
      undefined,
    );
    assert.equal(e.counts().vectors, 4);
    assert.equal(e.counts().pending, 0);
    const q = hashEmbedding("return 'sqlite vector index search'", 64);
    const exact = e.store.nearest(q, 4, undefined, 'exact');
    const binary = e.store.nearest(q, 4, undefined, 'binary');
    const top = e.store.chunksById([exact[0]!.id]).get(exact[0]!.id)!;
    assert.equal(top.path, 'f1.ts');
    assert.equal(binary[0]!.id, exact[0]!.id);
    const hybrid = e.search({ query: 'vector index', vector: q, k: 2 });
    assert.equal(hybrid[0]!.path, 'f1.ts');

    // Another model: the old vectors are dropped (never mixed), everything is pending again.
    const message = e.putVectors('srv/embed-b', 32, []);
    assert.match(message!, /embedding model changed from srv\/embed-a to srv\/embed-b/);
    assert.equal(e.counts().vectors, 0);
    assert.equal(e.counts().pending, 4);
  } finally {
    e.close();
  }
});

test('incremental: only changed files are re-chunked, only changed chunks need new vectors, deletions and renames apply', async () => {
  const root = tmp('inc');
  for (let i = 0; i < 20; i++)
    write(
      root,
      `src/m${i}.ts`,
      `export function m${i}(x: number) {\n  return x + ${i};\n}\n\nexport function n${i}() {\n  return ${i};\n}\n`,
    );
  const e = engine(root);
  try {
    const first = await e.sync();
    assert.equal(first.indexed, 20);
    const all = e.pending(1000);
    e.putVectors(
      'srv/m',
      16,
      all.map((p) => ({ hash: p.hash, vector: hashEmbedding(p.text, 16) })),
    );
    assert.equal(e.counts().pending, 0);

    const again = await e.sync();
    assert.deepEqual([again.indexed, again.unchanged], [0, 20], 'nothing changed: nothing re-read');

    // Touch without change: mtime differs, content hash equal → not re-chunked.
    const f3 = path.join(root, 'src/m3.ts');
    fs.utimesSync(f3, new Date(), new Date(Date.now() + 5000));
    assert.deepEqual((await e.sync()).indexed, 0);

    // Change one function of one file: one file re-chunked, one chunk pending.
    fs.writeFileSync(f3, fs.readFileSync(f3, 'utf8').replace('return x + 3;', 'return x * 3;'));
    const upd = await e.update(['src/m3.ts']);
    assert.deepEqual(upd, { indexed: 1, removed: 0, unchanged: 0 });
    assert.equal(e.counts().pending, 1, 'the unchanged function kept its vector');

    // Rename = delete + create; the moved chunks keep their vectors (content-keyed).
    fs.renameSync(path.join(root, 'src/m4.ts'), path.join(root, 'src/moved.ts'));
    await e.update(['src/m4.ts', 'src/moved.ts']);
    assert.equal(e.search({ query: 'm4', k: 5 })[0]?.path, 'src/moved.ts');
    assert.equal(e.counts().pending, 1);

    // A deleted folder removes its files.
    fs.rmSync(path.join(root, 'src'), { recursive: true });
    const gone = await e.update(['src']);
    assert.equal(gone.removed, 20);
    assert.equal(e.counts().chunks, 0);
    assert.deepEqual(e.store.verify(), []);
  } finally {
    e.close();
  }
});

test('awkward inputs: binary, 50 MB, non-UTF-8, UTF-16, minified, lock files, symlink loops, nested .gitignore, excludes', async () => {
  const root = tmp('inputs');
  write(root, 'ok.ts', 'export const ok = () => 1;\n');
  write(root, 'image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]));
  const huge = path.join(root, 'huge.log');
  const fd = fs.openSync(huge, 'w');
  const block = Buffer.alloc(1024 * 1024, 'all work and no play makes a huge log file\n');
  for (let i = 0; i < 50; i++) fs.writeSync(fd, block);
  fs.closeSync(fd);
  write(root, 'latin1.txt', Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e recipe\n', 'latin1'));
  write(root, 'utf16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('wide characters sixteen\n', 'utf16le')]));
  write(root, 'bundle.js', `var a=${'1+'.repeat(6000)}1;\n`);
  write(root, 'package-lock.json', '{"lockfileVersion": 3}\n');
  write(root, 'gen.ts', '// @generated by protoc. DO NOT EDIT.\nexport const x = 1;\n');
  fs.mkdirSync(path.join(root, 'loop'));
  fs.symlinkSync(root, path.join(root, 'loop', 'again'));
  write(root, '.gitignore', 'build/\n*.tmp\n');
  write(root, 'build/out.ts', 'export const built = 1;\n');
  write(root, 'x.tmp', 'temporary\n');
  write(root, 'pkg/.gitignore', 'secret.ts\n');
  write(root, 'pkg/secret.ts', 'export const hidden = 1;\n');
  write(root, 'pkg/visible.ts', 'export const visible = 1;\n');
  write(root, 'vendor/lib.ts', 'export const vendored = 1;\n');
  write(root, 'node_modules/dep/index.js', 'module.exports = 1;\n');

  const e = engine(root, undefined, { exclude: ['vendor/**'] });
  try {
    const s = await e.sync();
    const reasons = Object.fromEntries(s.skipped.map((x) => [x.rel, x.reason]));
    assert.match(reasons['image.png']!, /binary/);
    assert.match(reasons['huge.log']!, /larger than 512 KB/);
    assert.match(reasons['bundle.js']!, /minified/);
    assert.match(reasons['package-lock.json']!, /generated/);
    assert.match(reasons['gen.ts']!, /generated/);
    assert.match(reasons['loop/again']!, /symlink loop/);
    const decoded = Object.fromEntries(s.decoded.map((x) => [x.rel, x.reason]));
    assert.match(decoded['latin1.txt']!, /Windows-1252/);
    assert.match(decoded['utf16.txt']!, /UTF-16LE/);
    const indexed = [...e.store.files().values()]
      .filter((f) => !f.skipped)
      .map((f) => f.path)
      .sort();
    assert.deepEqual(indexed, ['.gitignore', 'latin1.txt', 'ok.ts', 'pkg/.gitignore', 'pkg/visible.ts', 'utf16.txt']);
    assert.equal(e.search({ query: 'crème brûlée', k: 3 })[0]?.path, 'latin1.txt', 'decoded text is searchable');
    assert.equal(e.search({ query: 'wide characters', k: 3 })[0]?.path, 'utf16.txt');
    // A file event for an ignored path does not index it.
    assert.deepEqual(await e.update(['pkg/secret.ts', 'build/out.ts', 'vendor/lib.ts']), { indexed: 0, removed: 0, unchanged: 0 });
  } finally {
    e.close();
  }
});

test('a corrupt or unreadable database is moved aside and rebuilt, with a message; an old schema is rebuilt', async () => {
  const dir = tmp('corrupt');
  const db = path.join(dir, 'index.sqlite');
  fs.writeFileSync(db, Buffer.concat([Buffer.from('this is not a database'), Buffer.alloc(8192, 7)]));
  const store = IndexStore.open(db);
  try {
    assert.equal(store.messages.length, 1);
    assert.match(store.messages[0]!, /could not be read .*moved aside to .*index\.sqlite\.corrupt-.* rebuilt/);
    assert.deepEqual(store.verify(), []);
  } finally {
    store.close();
  }
  const aside = fs.readdirSync(dir).filter((f) => f.includes('.corrupt-'));
  assert.equal(aside.length, 1, 'the unreadable file is kept, not deleted');
  assert.match(fs.readFileSync(path.join(dir, aside[0]!), 'utf8'), /^this is not a database/);

  // A database written by another schema version is rebuilt.
  const s2 = IndexStore.open(db);
  s2.setMeta('schema', String(SCHEMA_VERSION + 1));
  s2.putFile({ path: 'x.ts', hash: 'h', size: 1, mtimeMs: 1, language: 'typescript' }, []);
  s2.close();
  const s3 = IndexStore.open(db);
  try {
    assert.match(s3.messages[0]!, /another version of Switchyard/);
    assert.equal(s3.files().size, 0);
    assert.equal(s3.meta('schema'), String(SCHEMA_VERSION));
  } finally {
    s3.close();
  }
});
