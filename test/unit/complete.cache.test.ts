// Completions (issue 15): the LRU cache keyed by (model, prefix, suffix), including the typed-ahead case (the user
// typed the first characters of the shown suggestion: the rest comes from the cache, no request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionCache } from '../../src/core/complete';

const M = 'ollama/qwen2.5-coder:1.5b';
const SUFFIX = '\n}\n';
const prefixOf = (n: number) => Array.from({ length: n }, (_, i) => `const v${i} = ${i};\n`).join('') + 'function f() {\n  ';

test('exact hits by model, prefix and suffix; anything different misses', () => {
  const c = new CompletionCache();
  const p = prefixOf(3);
  c.set(M, p, SUFFIX, 'return v0 + v1;');
  assert.deepEqual(c.lookup(M, p, SUFFIX), { completion: 'return v0 + v1;', typedAhead: 0 });
  assert.equal(c.get('ollama/other', p, SUFFIX), undefined);
  assert.equal(c.get(M, p, SUFFIX + ' '), undefined);
  assert.equal(c.get(M, p + 'x', SUFFIX), undefined, 'typed a character the suggestion does not start with');
  assert.equal(c.get(M, p.slice(0, -1), SUFFIX), undefined);
  // The length-prefixed digest keeps the parts apart.
  c.set('a', 'bc', '', 'X');
  assert.equal(c.get('ab', 'c', ''), undefined);
});

test('typed ahead: the new prefix is the old one plus the first characters of the suggestion', () => {
  const c = new CompletionCache();
  const p = prefixOf(30); // longer than the compared tail
  c.set(M, p, SUFFIX, 'return v0 + v1;');
  assert.deepEqual(c.lookup(M, p + 'r', SUFFIX), { completion: 'eturn v0 + v1;', typedAhead: 1 });
  assert.deepEqual(c.lookup(M, p + 'return v0', SUFFIX), { completion: ' + v1;', typedAhead: 9 });
  assert.equal(c.get(M, p + 'return v0 + v1;', SUFFIX), undefined, 'all of it typed: nothing left to show');
  assert.equal(c.get(M, p + 'return v2', SUFFIX), undefined, 'diverged from the suggestion');
  assert.equal(c.get(M, p + 'r', '\n}\n// changed\n'), undefined, 'a different suffix');
  // The prefix window dropped its first line meanwhile (token budget cut at a line boundary): still a hit.
  const shifted = p.slice(p.indexOf('\n') + 1);
  assert.deepEqual(c.lookup(M, shifted + 'ret', SUFFIX), { completion: 'urn v0 + v1;', typedAhead: 3 });
});

test('typed ahead with a short old prefix requires exactly that prefix before the typed characters', () => {
  const c = new CompletionCache();
  c.set(M, 'x = ', '\n', 'foo(1)');
  assert.equal(c.get(M, 'x = fo', '\n'), 'o(1)');
  assert.equal(c.get(M, 'y\nx = fo', '\n'), undefined);
  assert.equal(c.get(M, 'fo', '\n'), undefined);
});

test('LRU: the least recently used entry goes first; a lookup refreshes it', () => {
  const c = new CompletionCache(2);
  c.set(M, 'a', '', 'A');
  c.set(M, 'b', '', 'B');
  assert.equal(c.get(M, 'a', ''), 'A'); // refresh a
  c.set(M, 'c', '', 'C'); // evicts b
  assert.equal(c.size, 2);
  assert.equal(c.get(M, 'b', ''), undefined);
  assert.equal(c.get(M, 'a', ''), 'A');
  assert.equal(c.get(M, 'c', ''), 'C');
  // An evicted entry no longer serves typed-ahead either.
  c.set(M, 'd', '', 'D1');
  c.set(M, 'e', '', 'E1');
  assert.equal(c.get(M, 'aA', ''), undefined);
  // Setting the same key again replaces it.
  c.set(M, 'e', '', 'E2');
  assert.equal(c.get(M, 'e', ''), 'E2');
  assert.equal(c.get(M, 'eE', ''), '2');
  c.clear();
  assert.equal(c.size, 0);
});

test("'' records that the model had nothing for this context", () => {
  const c = new CompletionCache();
  c.set(M, 'p', 's', '');
  assert.deepEqual(c.lookup(M, 'p', 's'), { completion: '', typedAhead: 0 });
  assert.equal(c.lookup(M, 'px', 's'), undefined);
});
