// Completions (issue 15): post-processing of a model's raw infill, each rule with a case it changes and cases it
// must leave unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIM_TEMPLATES, allowsMultiline, cutAtStop, postProcess, trimSuffixOverlap } from '../../src/core/complete';
import type { PostProcessInput } from '../../src/core/complete';

const pp = (completion: string, prefix: string, suffix: string, over: Partial<PostProcessInput> = {}) =>
  postProcess({ completion, prefix, suffix, ...over });

test('stops at the first stop token of the family', () => {
  const stop = FIM_TEMPLATES['qwen-coder'].stop;
  assert.equal(pp('return a + b<|endoftext|>garbage', 'def f(a, b):\n    ', '\n', { stop }), 'return a + b');
  assert.equal(pp('x<|file_sep|>y<|endoftext|>', 'v = ', '\n', { stop }), 'x');
  assert.equal(cutAtStop('abc', []), 'abc');
  assert.equal(cutAtStop('a[SUFFIX]b[PREFIX]c', FIM_TEMPLATES.codestral.stop), 'a');
});

test('single-line: mid-line cursor or policy never stops at the end of the line', () => {
  // Mid-line (the suffix has code on the cursor's line): one line only.
  assert.equal(pp('x + 1\nfoo()\nbar()', 'let y = ', ' // sum\n'), 'x + 1');
  // Policy never, even where multi-line would be allowed.
  assert.equal(pp('  return 1;\n}', 'function f() {', '\n', { multiline: 'never' }), '  return 1;');
  assert.equal(pp('\n  return 1;', 'function f() {', '\n', { multiline: 'never' }), undefined, 'only a newline left');
});

test('multi-line where allowed (after a block opener, on an empty line), capped at maxLines', () => {
  const body = '\n  const x = 1;\n  const y = 2;\n  return x + y;';
  assert.equal(pp(body, 'function f() {', '\n'), body);
  assert.equal(pp(body, 'function f() {', '\n', { maxLines: 2 }), '\n  const x = 1;');
  assert.equal(pp('a()\nb()\n', 'x\n', '\n'), 'a()\nb()', 'empty line: multi-line, trailing blank line dropped');
  assert.equal(pp('a()\nb()', 'x = ', '\n'), 'a()', 'after a plain expression start: one line');
  assert.equal(pp('a()\nb()', 'x = ', '\n', { multiline: 'always' }), 'a()\nb()');
  assert.equal(allowsMultiline('if (x) {', ')}\n'), true, 'only closers after the cursor');
  assert.equal(allowsMultiline('if (x) {', 'y\n'), false);
  assert.equal(allowsMultiline('def f():', '\n'), true);
  assert.equal(allowsMultiline('xs.map((x) =>', '\n'), true);
});

test("drops a suggestion that repeats the suffix's next line, cuts one that runs into it", () => {
  // Cursor on an empty line, the model writes the next line again.
  assert.equal(pp('  return a + b', 'def f(a, b):\n', '\n  return a + b\n'), undefined);
  // Multi-line body that runs into the closing brace the suffix already has.
  assert.equal(pp('\n  return 1;\n}', 'function f() {', '\n}\n'), '\n  return 1;');
  // Unchanged: the cursor's line already equals the next line and the suggestion starts a new line.
  assert.equal(pp('\n  x++;', 'if (a) {\n  x++;\n}', '\n}\n', { multiline: 'always' }), '\n  x++;');
  // Unchanged: a different next line.
  assert.equal(pp('\n  return 1;', 'function f() {', '\n}\n'), '\n  return 1;');
});

test('drops a suggestion that repeats the line above', () => {
  assert.equal(pp('import os', 'import os\n', '\n'), undefined);
  assert.equal(pp('os', 'import os\nimport ', '\n'), undefined, 'the line with the typed part equals the line above');
  // Unchanged: the cursor's line equals the one above, the suggestion starts a new line.
  assert.equal(pp('\n  x++;', '  x++;\n  x++;', '\n', { multiline: 'always' }), '\n  x++;');
  // Unchanged: a line like the one above but different.
  assert.equal(pp('import sys', 'import os\n', '\n'), 'import sys');
});

test('does not insert a closing bracket the suffix already has', () => {
  assert.equal(pp('a, b)', 'foo(', ')\n'), 'a, b');
  assert.equal(pp('a, b);', 'foo(', ')\n'), 'a, b', 'the closer and what follows it belong after the suffix');
  assert.equal(pp('items[0]]', 'const x = ', ']\n'), 'items[0]');
  assert.equal(pp('bar(x))', 'foo(', ')\n'), 'bar(x)');
  // Unchanged: the closer matches an opener inside the suggestion.
  assert.equal(pp('bar()', 'foo(', ')\n'), 'bar()');
  // Unchanged: the suffix does not have that closer.
  assert.equal(pp('a, b)', 'foo(', '\n'), 'a, b)');
  assert.equal(pp('a, b}', 'foo(', ')\n'), 'a, b}');
  // A bracket inside a string is not a bracket.
  assert.equal(pp('")"', 'print(', ')\n'), '")"');
});

test('trims the end that overlaps the start of the suffix', () => {
  assert.equal(pp('bar();', 'foo = ', ';\n'), 'bar()');
  assert.equal(pp('hello world', 'say("', '" + name)\n'), 'hello world');
  assert.equal(pp('hello"', 'say("', '")\n'), 'hello');
  assert.equal(pp('value, other', 'f(', 'other)\n'), 'value, ', 'three characters or more of any text');
  // Unchanged: one letter of overlap is a coincidence, not a repeat.
  assert.equal(pp('foo', 'x = ', 'o\n'), 'foo');
  // Unchanged: a quote the suggestion opened and closed.
  assert.equal(trimSuffixOverlap('"a"', '"'), '"a"');
  // The whole suffix line repeated: nothing left.
  assert.equal(pp('b + c)', 'f(a, ', 'b + c)\n'), undefined);
});

test('never returns only whitespace; trailing spaces go at the end of a line but stay before code', () => {
  assert.equal(pp('   ', 'x = ', '\n'), undefined);
  assert.equal(pp('\n\n  \n', 'f() {', '\n'), undefined);
  assert.equal(pp('', 'x', ''), undefined);
  assert.equal(pp('1   ', 'x = ', '\n'), '1');
  assert.equal(pp('a + ', 'x = ', 'b\n'), 'a + ');
});

test('cases that must stay unchanged', () => {
  const cases: Array<[string, string, string]> = [
    ['return a + b', 'def add(a, b):\n    ', '\n\nprint(add(1, 2))\n'],
    ['console.log(x);', 'function f(x) {\n  ', '\n}\n'],
    ['\n    total += x\n    return total', 'def s(xs):\n    total = 0\n    for x in xs:', '\n'],
    ['length > 0 ? items[0] : null', 'const first = items.', ''],
    ['(a, b) => a + b', 'const add = ', ';\n'.slice(1)],
  ];
  for (const [completion, prefix, suffix] of cases) assert.equal(pp(completion, prefix, suffix), completion, completion);
});
