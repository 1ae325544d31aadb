/**
 * Retrieval quality (issue 17), on real SQLite and FTS5 through the engine: stemming next to the code-aware
 * camelCase/snake_case splits, the prior that keeps prose and tests from crowding out code, per-file diversity, score
 * fusion with vectors, and the upgrade of a schema-2 database (its full-text index rebuilt, nothing else touched).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexEngine } from '../../src/core/index/engine';
import {
  blend,
  diversify,
  EXPANSION_WEIGHT,
  fileKind,
  fuse,
  LIFT_TO,
  LIFT_Z,
  MAX_PER_FILE,
  prior,
  queryAsks,
} from '../../src/core/index/rank';
import { SYNONYMS } from '../../src/core/index/synonyms';
import { expansionTerms, thesaurus } from '../../src/core/index/tokens';
import { fieldWeights, IndexStore, SCHEMA_VERSION } from '../../src/core/index/store';

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-${name}-`));
}

function write(root: string, rel: string, content: string): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

async function engine(files: Record<string, string>): Promise<IndexEngine> {
  const root = tmp('rank');
  for (const [rel, content] of Object.entries(files)) write(root, rel, content);
  const e = new IndexEngine({ root, dbPath: path.join(tmp('rank-db'), 'index.sqlite'), exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
  await e.sync();
  return e;
}

test('stemming: inflected words meet their stems, and camelCase, snake_case and plain words still meet', async () => {
  const e = await engine({
    'src/clone.ts': 'export function cloneDeep(value: unknown) {\n  // copy every nested array\n  return structuredClone(value);\n}\n',
    'src/http.ts': 'export function parseHttpHeader(line: string) {\n  return line.split(":");\n}\n',
    'src/py.py': 'def read_config_file(path):\n    return open(path).read()\n',
    'src/other.ts': 'export function unrelated() {\n  return 42;\n}\n',
  });
  try {
    const top = (q: string) => e.search({ query: q, k: 3 })[0]?.path;
    assert.equal(top('cloning arrays'), 'src/clone.ts', '"cloning" meets clone, "arrays" meets array');
    assert.equal(top('copies of nested arrays'), 'src/clone.ts');
    assert.equal(top('parsing http headers'), 'src/http.ts', 'a camelCase part ("Header") meets "headers"');
    assert.equal(top('parseHttpHeader'), 'src/http.ts');
    assert.equal(top('ParseHTTPHeader'), 'src/http.ts');
    assert.equal(top('reading config files'), 'src/py.py', 'snake_case parts are stemmed too');
    assert.equal(top('read_config_file'), 'src/py.py');
    // An identifier still finds its definition first.
    assert.equal(e.search({ query: 'cloneDeep', k: 1 })[0]?.symbol, 'cloneDeep');
  } finally {
    e.close();
  }
});

test('a sentence weighs a symbol like text: words it shares with a symbol by accident do not outrank the function whose text answers', async () => {
  const files: Record<string, string> = {
    'get.js': [
      '/**',
      ' * Gets the value at `path` of `object`. If the resolved value is',
      ' * missing, the `defaultValue` is returned in its place.',
      ' */',
      'function get(object, path, defaultValue) {',
      '  var result = object == null ? undefined : baseGet(object, path);',
      '  return result === undefined ? defaultValue : result;',
      '}',
      'module.exports = get;',
      '',
    ].join('\n'),
    // Its name shares "read", "by" and "path" with the question; its text says nothing about it.
    'wrap.js': 'function readByPath(object, path) {\n  return clone(object, path);\n}\n',
    'setValue.js': '/** Sets the value at `key`. */\nfunction setValue(object, key, value) {\n  object[key] = value;\n}\n',
  };
  for (let i = 0; i < 20; i++)
    files[`other${i}.js`] = `function other${i}(a, b) {\n  // returns the value of a plus b\n  return a + b + ${i};\n}\n`;
  const e = await engine(files);
  try {
    const hits = e.search({ query: 'read a value by its path and fall back to a default when it is missing', k: 3 });
    assert.equal(hits[0]?.path, 'get.js', `got ${hits.map((h) => `${h.path} ${h.score.toFixed(3)}`).join(', ')}`);
    // A query that names the identifier still finds it first (symbol 4, path 2).
    assert.equal(e.search({ query: 'readByPath', k: 1 })[0]?.path, 'wrap.js');
    assert.equal(e.search({ query: 'where is readByPath called', k: 1 })[0]?.path, 'wrap.js');
  } finally {
    e.close();
  }
  assert.equal(fieldWeights('read a value by its path'), '1.0, 1.0, 1.0');
  assert.equal(fieldWeights('readByPath'), '4.0, 1.0, 2.0');
  assert.equal(fieldWeights('parse_http_header'), '4.0, 1.0, 2.0');
  assert.equal(fieldWeights('debounce'), '4.0, 1.0, 2.0', 'a one-word query may name a symbol');
});

test('kinds of file and what a question asks for', () => {
  assert.equal(fileKind('README.md', 'markdown'), 'prose');
  assert.equal(fileKind('pkg/History.md'), 'prose');
  assert.equal(fileKind('LICENSE', 'text'), 'prose');
  assert.equal(fileKind('CHANGELOG'), 'prose');
  assert.equal(fileKind('tsconfig.json', 'json'), 'data');
  assert.equal(fileKind('pnpm-lock.yaml'), 'data');
  assert.equal(fileKind('src/router.test.ts', 'typescript'), 'test');
  assert.equal(fileKind('test/unit/x.ts', 'typescript'), 'test');
  assert.equal(fileKind('pkg/tests/parse.js', 'javascript'), 'test');
  assert.equal(fileKind('src/latest.ts', 'typescript'), 'code', '"latest" is not a test');
  assert.equal(fileKind('src/contest/index.ts', 'typescript'), 'code');
  assert.deepEqual([...queryAsks('how is the request body parsed')], ['code']);
  assert.ok(queryAsks('what does the changelog say about 4.18').has('prose'));
  assert.ok(queryAsks('where are the tests for the router').has('test'));
  assert.ok(queryAsks('which settings does the tsconfig turn on').has('data'));
  assert.equal(prior('prose', queryAsks('how is the body parsed')), 0.5);
  assert.equal(prior('prose', queryAsks('readme section on parsing')), 1);
  assert.equal(prior('code', new Set()), 1);
});

test('code questions find code before a changelog and a README that repeat their words; a question about the changelog finds it', async () => {
  const history = Array.from({ length: 30 }, (_, i) => `## 1.${i}.0\n\n- fix parsing of the request body when the body is empty\n`).join(
    '\n',
  );
  const e = await engine({
    'History.md': history,
    'README.md': '# Parse the request body\n\nParse the request body: parse request body.\n',
    'lib/read.js': [
      '/**',
      ' * Read the request body and parse it as JSON.',
      ' */',
      'function readBody(req, limit) {',
      '  const chunks = [];',
      '  req.on("data", (c) => chunks.push(c));',
      '  return new Promise((resolve) => req.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString()))));',
      '}',
      'module.exports = readBody;',
      '',
    ].join('\n'),
  });
  try {
    const hits = e.search({ query: 'parse the request body', k: 5 });
    assert.equal(hits[0]?.path, 'lib/read.js', `code first, got ${hits.map((h) => h.path).join(', ')}`);
    const asked = e.search({ query: 'changelog: when was parsing of an empty request body fixed', k: 5 });
    assert.equal(asked[0]?.path, 'History.md', 'a question that names the changelog gets it first');
  } finally {
    e.close();
  }
});

test('diversity: no more than MAX_PER_FILE chunks of one file before another file that matches', async () => {
  // One file with many sections that all match strongly, another that matches once, weaker.
  const sections = Array.from({ length: 8 }, (_, i) => `## Retry section ${i}\n\nretry backoff retry backoff jitter retry\n`).join('\n');
  const e = await engine({
    'docs/retry.md': sections,
    'src/retry.ts': 'export function withRetry(fn: () => Promise<unknown>) {\n  // retry with exponential backoff\n  return fn();\n}\n',
    'src/unrelated.ts': 'export const x = 1;\n',
  });
  try {
    const hits = e.search({ query: 'retry backoff jitter docs', k: MAX_PER_FILE + 1 });
    const fromDocs = hits.filter((h) => h.path === 'docs/retry.md').length;
    assert.ok(fromDocs <= MAX_PER_FILE, `${fromDocs} chunks of one file`);
    assert.ok(
      hits.some((h) => h.path === 'src/retry.ts'),
      hits.map((h) => h.path).join(', '),
    );
  } finally {
    e.close();
  }
  const items = ['a1', 'a2', 'a3', 'a4', 'b1', 'a5', 'c1'];
  assert.deepEqual(
    diversify(items, (s) => s[0]!, 1),
    ['a1', 'b1', 'c1', 'a2', 'a3', 'a4', 'a5'],
  );
  assert.deepEqual(
    diversify(items, (s) => s[0]!, 3),
    ['a1', 'a2', 'a3', 'b1', 'c1', 'a4', 'a5'],
  );
  assert.deepEqual(
    diversify(['a1', 'a2'], (s) => s[0]!, 1),
    ['a1', 'a2'],
    'one file only: all of it, in order',
  );
});

test("fusion: bm25 keeps its margin, synonyms weigh less than the question's words, the named symbol gets a bonus; scores stay within 0..1", () => {
  const words = [
    { id: 1, raw: -10 },
    { id: 2, raw: -4 },
    { id: 3, raw: -4 },
  ];
  const s = fuse({
    words,
    expanded: [
      { id: 4, raw: -10 },
      { id: 2, raw: -10 },
    ],
  });
  assert.ok(s.get(1)! > s.get(4)!, "a synonym as strong as the question's word counts less");
  assert.ok(s.get(2)! > s.get(3)!, 'a chunk with the words and a synonym passes one with the words only');
  assert.ok(Math.abs(s.get(4)! / s.get(1)! - EXPANSION_WEIGHT) < 1e-9, "a synonym's bm25 counts EXPANSION_WEIGHT of a word's");
  for (const x of s.values()) assert.ok(x >= 0 && x <= 1);
  const named = fuse({ words, symbols: [{ id: 3, raw: -1 }] });
  assert.ok(named.get(3)! > named.get(2)!, 'the chunk whose symbol the query names gets the bonus');
  assert.deepEqual([...fuse({ words: [], expanded: [{ id: 7, raw: -2 }] }).keys()], [7], 'synonyms alone still find');
});

const orderOf = (m: ReadonlyMap<number, number>) => [...m].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);

test("hybrid keeps the keyword order unless a vector chunk stands out; then keyword's first LIFT_TO - 1 stay first", () => {
  // Keyword: 1 just ahead of 2 (a near-tie), 3 and 4 tie exactly, then 5..30.
  const keyword = new Map<number, number>([
    [1, 0.9],
    [2, 0.89],
    [3, 0.5],
    [4, 0.5],
    ...Array.from({ length: 26 }, (_, i) => [i + 5, 0.4 - i * 0.01] as [number, number]),
  ]);
  // Vectors that agree with bm25 but prefer 2 over 1 and 4 over 3, spread evenly (nothing stands out), plus 99 they
  // alone found.
  const even = [2, 1, 4, 3, 99, ...Array.from({ length: 26 }, (_, i) => i + 5)].map((id, i) => ({ id, raw: 0.1 + i * 0.01 }));
  const b = orderOf(blend(keyword, even));
  assert.deepEqual(
    b.slice(0, 4),
    [1, 2, 4, 3],
    'a near-tie stands (the old weighted sum put 2 first); an exact tie goes to the nearer vector',
  );
  assert.deepEqual(
    b.filter((id) => id !== 99),
    orderOf(keyword).sort((x, y) => (x === 3 && y === 4 ? 1 : x === 4 && y === 3 ? -1 : 0)),
    'every keyword hit keeps its place',
  );
  assert.equal(b.at(-1), 99, 'a chunk only the vectors found comes after the keyword hits');

  // Random keyword scores (no exact ties) and vector lists with no outlier: the order is keyword-only's.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 50; round++) {
    const kw = new Map(Array.from({ length: 40 }, (_, i) => [i, rand()] as [number, number]));
    const ids = [...kw.keys()].sort(() => rand() - 0.5);
    const vec = ids.map((id, i) => ({ id, raw: 0.2 + i * 0.005 }));
    assert.deepEqual(orderOf(blend(kw, vec)), orderOf(kw), `round ${round}`);
  }

  // One chunk far nearer than the rest, which keyword ranked 20th: it comes in at position LIFT_TO.
  const ranks = new Map(Array.from({ length: 30 }, (_, i) => [i + 1, 0.9 - i * 0.01] as [number, number]));
  const outlier = [{ id: 20, raw: 0.01 }, ...Array.from({ length: 49 }, (_, i) => ({ id: 100 + i, raw: 0.6 + i * 0.001 }))];
  const lifted = orderOf(blend(ranks, outlier));
  assert.equal(lifted.indexOf(20), LIFT_TO - 1);
  assert.deepEqual(
    lifted.filter((id) => id !== 20 && id < 100),
    orderOf(ranks).filter((id) => id !== 20),
    'the rest keep their order',
  );
  assert.equal(
    orderOf(blend(ranks, [{ id: 999, raw: 0.01 }, ...outlier.slice(1)])).indexOf(999),
    LIFT_TO - 1,
    'also one keyword did not find',
  );
  // The same outlier already in keyword's first LIFT_TO stays where keyword put it.
  const high = [{ id: 2, raw: 0.01 }, ...outlier.slice(1)];
  assert.deepEqual(orderOf(blend(ranks, high)).slice(0, 30), orderOf(ranks));
  assert.ok(
    LIFT_Z >= 3 && LIFT_Z < Math.sqrt(49),
    'an outlier is several standard deviations out, and one alone among 50 (the search depth) can be',
  );

  // No keyword hit: the vectors' order.
  assert.deepEqual(orderOf(blend(new Map(), even)).slice(0, 3), [2, 1, 4]);
  for (const x of blend(keyword, outlier).values()) assert.ok(x >= 0 && x <= 1);
});

test("thesaurus: a question's word finds the code that says it otherwise (copy → clone, leaving out → omit), by stem and camelCase part, below code with the word itself", async () => {
  const e = await engine({
    'src/cloneObject.js': 'export function cloneObject(source) {\n  return structuredClone(source);\n}\n',
    'src/omit.js':
      'export function omitKeys(source, keys) {\n  return Object.fromEntries(Object.entries(source).filter(([k]) => !keys.includes(k)));\n}\n',
    'src/copyFile.js': 'export function copyObject(source) {\n  return { ...source };\n}\n',
    'src/other.js': 'export function unrelatedHelper(source) {\n  return source;\n}\n',
  });
  try {
    const paths = (q: string) => e.search({ query: q, k: 4 }).map((h) => h.path);
    const copies = paths('make a copy of an object');
    assert.deepEqual(copies.slice(0, 2), ['src/copyFile.js', 'src/cloneObject.js'], 'the word itself first, then its synonym');
    assert.ok(paths('copying the source').includes('src/cloneObject.js'), '"copying" is stemmed to copy, which expands to clone');
    assert.ok(paths('duplicateSource').includes('src/cloneObject.js'), 'a camelCase part ("duplicate") expands too');
    assert.equal(paths('keys leaving out some')[0], 'src/omit.js', 'a two-word entry ("leave out") matches by stem');
    assert.ok(!paths('make a copy of an object').includes('src/other.js'));
  } finally {
    e.close();
  }
});

test('thesaurus entries: general words, several dozen groups, each word of three or more letters, matched by stem', () => {
  assert.ok(SYNONYMS.length >= 60, `${SYNONYMS.length} groups`);
  for (const g of SYNONYMS) {
    assert.ok(g.length >= 2, g.join(','));
    for (const w of g) assert.match(w, /^[a-z0-9]{3,}( [a-z0-9]+)?$/, w);
  }
  // A toy stemmer (strip -ing/-s) is enough to show the lookup: stems on both sides, the query's own words left out.
  const stem = (ws: readonly string[]) => new Map(ws.map((w) => [w, w.replace(/(ing|s)$/, '')]));
  const th = thesaurus(
    [
      ['copy', 'clone', 'duplicate'],
      ['omit', 'leave out'],
    ],
    stem,
  );
  assert.deepEqual(expansionTerms('copying clones', th, stem), ['duplicate'], "copy and clone are the query's own");
  assert.deepEqual(expansionTerms('leave out keys', th, stem), ['omit']);
  assert.deepEqual(expansionTerms('deepCopy', th, stem), ['clone', 'duplicate']);
  assert.deepEqual(expansionTerms('nothing here', th, stem), []);
});

test('a schema-2 database is upgraded in place: files, chunks and vectors kept, the full-text index rebuilt with stemming', async () => {
  const root = tmp('upgrade');
  write(
    root,
    'src/clone.ts',
    'export function cloneDeep(value: unknown) {\n  // copy every nested array\n  return structuredClone(value);\n}\n',
  );
  const db = path.join(tmp('upgrade-db'), 'index.sqlite');
  const e = new IndexEngine({ root, dbPath: db, exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
  await e.sync();
  const pending = e.pending(10);
  e.putVectors(
    'test/model',
    4,
    pending.map((p) => ({ hash: p.hash, vector: [1, 0, 0, 0] })),
  );
  e.close();
  // Make it what schema 2 wrote: the full-text index without stemming, and the version.
  const raw = new Database(db);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('sqlite-vec') as { load(d: unknown): void }).load(raw);
  const rows = raw.prepare('select c.id, c.symbol, c.text, f.path from chunks c join files f on f.id = c.file_id').all() as {
    id: number;
    symbol: string | null;
    text: string;
    path: string;
  }[];
  raw.exec(
    "drop table chunks_fts; create virtual table chunks_fts using fts5(symbol, body, path, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')",
  );
  for (const r of rows)
    raw.prepare('insert into chunks_fts(rowid, symbol, body, path) values (?, ?, ?, ?)').run(r.id, r.symbol ?? '', r.text, r.path);
  raw.prepare("update meta set value = '2' where key = 'schema'").run();
  raw.close();

  const before = new IndexEngine({ root, dbPath: db, exclude: [], maxFileSizeKb: 512, chunkTokens: 400 });
  try {
    assert.equal(before.store.meta('schema'), String(SCHEMA_VERSION));
    assert.match(before.messages.join('\n'), /upgraded to stem words .* rebuilt from 1 stored chunks, nothing re-embedded/);
    const counts = before.counts();
    assert.equal(counts.files, 1);
    assert.equal(counts.chunks, 1);
    assert.equal(counts.vectors, 1, 'vectors survive the upgrade');
    assert.equal(counts.model, 'test/model');
    assert.deepEqual(before.store.verify(), []);
    assert.equal(before.search({ query: 'cloning arrays', k: 1 })[0]?.path, 'src/clone.ts', 'the rebuilt index stems');
    const again = await before.sync();
    assert.equal(again.indexed, 0, 'no file is re-chunked');
  } finally {
    before.close();
  }
  // Opening it again is a plain open.
  const third = IndexStore.open(db);
  try {
    assert.deepEqual(third.messages, []);
  } finally {
    third.close();
  }
});
