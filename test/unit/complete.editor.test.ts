/**
 * The editor half of inline completions (issue 15) that runs without VS Code: where the item goes on the line
 * (range.ts), the shown/accepted bookkeeping (tracker.ts), the recent files and index snippets a request carries
 * (context.ts), and the status bar's words (statusText.ts). The VS Code wiring itself is exercised by
 * test/e2e/complete.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildContext } from '../../src/core/complete/context';
import { postProcess } from '../../src/core/complete/postprocess';
import {
  IndexSnippets,
  RecentFiles,
  linesAround,
  nearbyIdentifiers,
  recentSnippets,
  type IndexHit,
} from '../../src/vscode/complete/context';
import { contextAround, inlineEdit } from '../../src/vscode/complete/range';
import { nextStep, statusView } from '../../src/vscode/complete/statusText';
import { SuggestionTracker, type TrackedCompletion } from '../../src/vscode/complete/tracker';

/** Applies an edit to a line the way VS Code applies an accepted item. */
function apply(line: string, e: { startCharacter: number; endCharacter: number; insertText: string }): string {
  return line.slice(0, e.startCharacter) + e.insertText + line.slice(e.endCharacter);
}

describe('inlineEdit: the item replaces the line up to the cursor and never the text after it', () => {
  it('at the end of a line: the line start is repeated, so the covered text is a prefix of the item (VS Code shows it)', () => {
    const e = inlineEdit('  return a', 10, ' + b;');
    assert.deepEqual(e, { startCharacter: 0, endCharacter: 10, insertText: '  return a + b;' });
    assert.ok(e.insertText.startsWith('  return a'));
  });

  it("before a closer the suffix already has: post-processing dropped the model's copy, the line ends balanced", () => {
    const line = 'console.log(';
    const suffix = ')';
    const text = postProcess({ completion: '"hello")', prefix: line, suffix })!;
    assert.equal(text, '"hello"');
    const e = inlineEdit(line + suffix, line.length, text);
    assert.equal(apply(line + suffix, e), 'console.log("hello")');
  });

  it('a suggestion of several lines before closers on the same line puts the closer back on its own line', () => {
    const line = '  if (x) {}';
    const cursor = line.indexOf('}');
    // The model wrote the closer too: post-processing cuts it and keeps the line break before it.
    const withCloser = postProcess({ completion: '\n    go();\n  }', prefix: '  if (x) {', suffix: '}\n', multiline: 'always' })!;
    assert.equal(withCloser, '\n    go();\n  ');
    assert.equal(apply(line, inlineEdit(line, cursor, withCloser)), '  if (x) {\n    go();\n  }');
    // The model stopped before the closer: post-processing drops the trailing line break, the edit puts it back.
    const suggestion = postProcess({ completion: '\n    go();\n', prefix: '  if (x) {', suffix: '}\n', multiline: 'always' })!;
    assert.equal(suggestion, '\n    go();');
    const e = inlineEdit(line, cursor, suggestion);
    assert.equal(apply(line, e), '  if (x) {\n    go();\n  }');
    // At the end of a line nothing is added.
    assert.equal(apply('  if (x) {', inlineEdit('  if (x) {', 10, '\n    go();')), '  if (x) {\n    go();');
  });

  it("with the suggest widget open the item keeps the widget item's range and extends its text", () => {
    // `console.lo|` with "log" selected, replacing "lo".
    const line = 'console.lo';
    const e = inlineEdit(line, 10, '("hi");', { startCharacter: 8, endCharacter: 10, text: 'log' });
    assert.deepEqual(e, { startCharacter: 8, endCharacter: 10, insertText: 'log("hi");' });
    assert.equal(apply(line, e), 'console.log("hi");');
    const around = contextAround('a\nconsole.lo\nb', 12, { start: 10, end: 12, text: 'log' });
    assert.deepEqual(around, { prefix: 'a\nconsole.log', suffix: '\nb' });
  });
});

interface C extends TrackedCompletion {
  latencyMs: number;
}

function tracked() {
  const events: string[] = [];
  const tracker = new SuggestionTracker<C>({
    shown: (c) => events.push(`shown ${c.id}`),
    accepted: (c, text) => events.push(text === undefined ? `accepted ${c.id}` : `partial ${c.id} ${JSON.stringify(text)}`),
  });
  return { tracker, events };
}
const c = (id: string, text: string, source: C['source'] = 'model'): C => ({ id, text, source, latencyMs: 10 });

describe('SuggestionTracker: one shown per suggestion, at most one accept', () => {
  it('Tab: the item replaces the line start with itself plus the suggestion, then its command runs', () => {
    const { tracker, events } = tracked();
    assert.equal(tracker.offer(c('c1', ' + b;'), 'doc', 20), true);
    // VS Code asks again for the same place: the same showing.
    assert.equal(tracker.offer(c('c2', ' + b;', 'cache'), 'doc', 20), false);
    tracker.changed('doc', [{ offset: 10, removed: 10, text: '  return a + b;' }]);
    tracker.acceptedWhole('c2');
    tracker.end();
    assert.deepEqual(events, ['shown c1', 'accepted c1']);
  });

  it('typing the first characters is not an accept; the rest from the cache continues the same showing', () => {
    const { tracker, events } = tracked();
    tracker.offer(c('c1', 'foo(bar)'), 'doc', 5);
    tracker.changed('doc', [{ offset: 5, removed: 0, text: 'f' }]);
    assert.equal(tracker.offer(c('c2', 'oo(bar)', 'typedAhead'), 'doc', 6), false);
    tracker.acceptedWhole('c2');
    assert.deepEqual(events, ['shown c1', 'accepted c1']);
  });

  it('accept word by word: recorded once, as the part taken, when the suggestion ends', () => {
    const { tracker, events } = tracked();
    tracker.offer(c('c1', 'const total = sum(items);'), 'doc', 0);
    tracker.changed('doc', [{ offset: 0, removed: 0, text: 'const ' }]);
    tracker.changed('doc', [{ offset: 6, removed: 0, text: 'total ' }]);
    assert.deepEqual(events, ['shown c1']);
    // The user types something else: the suggestion is over.
    tracker.changed('doc', [{ offset: 12, removed: 0, text: '!' }]);
    assert.deepEqual(events, ['shown c1', 'partial c1 "const total "']);
  });

  it('partial accepts then Tab: one whole accept', () => {
    const { tracker, events } = tracked();
    tracker.offer(c('c1', 'alpha beta'), 'doc', 0);
    tracker.changed('doc', [{ offset: 0, removed: 0, text: 'alpha ' }]);
    tracker.changed('doc', [{ offset: 6, removed: 0, text: 'beta' }]);
    tracker.acceptedWhole('c1');
    tracker.end();
    assert.deepEqual(events, ['shown c1', 'accepted c1']);
  });

  it('a new suggestion elsewhere, another document, or an unknown id ends or ignores without an accept', () => {
    const { tracker, events } = tracked();
    tracker.offer(c('c1', 'x'), 'doc', 0);
    tracker.changed('other', [{ offset: 0, removed: 0, text: 'xy' }]);
    tracker.acceptedWhole('nope');
    tracker.offer(c('c2', 'y'), 'doc', 9);
    tracker.acceptedWhole('c1');
    assert.deepEqual(events, ['shown c1', 'shown c2']);
  });
});

describe('recent files and index snippets', () => {
  it('edited files first (newest first), then merely visible ones; the current document left out', () => {
    const r = new RecentFiles(3);
    r.seen('a', 'a.ts', 0);
    r.edited('b', 'b.ts', 4);
    r.seen('c', 'c.ts', 1);
    r.edited('d', 'd.ts', 2);
    assert.deepEqual(
      r.list().map((f) => f.key),
      ['d', 'b', 'c'],
      'capacity 3 dropped the oldest',
    );
    assert.deepEqual(
      r.list('d').map((f) => f.key),
      ['b', 'c'],
    );
    r.seen('b', 'b.ts', 99);
    assert.equal(r.list().find((f) => f.key === 'b')!.line, 4, "seeing an edited file keeps the edit's place");
    r.forget('b');
    assert.deepEqual(
      r.list().map((f) => f.key),
      ['d', 'c'],
    );
  });

  it('a snippet is the lines around the last edit, and the core fits the snippets to its budget', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    assert.equal(linesAround(text, 50, 2, 2), 'line 48\nline 49\nline 50\nline 51\nline 52');
    assert.equal(linesAround(text, 0, 2, 1), 'line 0\nline 1');
    const r = new RecentFiles();
    r.edited('file:///w/util.ts', 'util.ts', 50);
    r.edited('file:///w/gone.ts', 'gone.ts', 1);
    r.edited('file:///w/cur.ts', 'cur.ts', 3);
    const texts: Record<string, string> = { 'file:///w/util.ts': text, 'file:///w/cur.ts': 'current' };
    const snippets = recentSnippets(r, (k) => texts[k], 'file:///w/cur.ts');
    assert.deepEqual(
      snippets.map((s) => s.filename),
      ['util.ts'],
      'the current file and a closed one are left out',
    );
    assert.match(snippets[0]!.text, /^line 38\n[\s\S]*\nline 62$/);
    const ctx = buildContext({ text: 'const x = ', offset: 10, extra: snippets, maxExtraTokens: 40 });
    assert.ok(ctx.extra.length === 1 && ctx.extra[0]!.text.length < snippets[0]!.text.length && ctx.extra[0]!.text.startsWith('line 38'));
  });

  it('identifiers near the cursor, nearest first, common words left out', () => {
    const prefix =
      'import { parseConfig } from "./config";\nfunction loadSettings(path: string) {\n  const raw = readFile(path);\n  return parse';
    assert.deepEqual(nearbyIdentifiers(prefix, 'Config(raw);\n}\n'), ['parse', 'path', 'readFile', 'raw']);
    assert.deepEqual(nearbyIdentifiers('x = ', 'computeTotal(items)\n'), ['computeTotal', 'items']);
    assert.deepEqual(nearbyIdentifiers('', ''), []);
  });

  it('index snippets: a new query searches in the background (one at a time, the newest next) and answers from then on', async () => {
    const queries: string[] = [];
    const hits: IndexHit[] = [
      { path: 'src/cur.ts', text: 'same file' },
      { path: 'src/a.ts', text: 'function parseConfig() {}' },
      { path: 'src/b.ts', text: 'b' },
      { path: 'src/c.ts', text: 'c' },
    ];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const index = new IndexSnippets(() => async (q) => {
      queries.push(q);
      await gate;
      return hits;
    });
    assert.deepEqual(index.get(['parseConfig'], 'src/cur.ts'), [], 'nothing yet: the keystroke is not held up');
    assert.deepEqual(index.get(['parseConfig'], 'src/cur.ts'), [], 'the same query is not searched twice');
    index.get(['one'], 'src/cur.ts');
    index.get(['two'], 'src/cur.ts');
    release();
    await index.idle();
    assert.deepEqual(queries, ['parseConfig', 'two'], 'a query overtaken while waiting is never searched');
    assert.deepEqual(index.get(['parseConfig'], 'src/cur.ts'), [
      { filename: 'src/a.ts', text: 'function parseConfig() {}' },
      { filename: 'src/b.ts', text: 'b' },
    ]);
    assert.equal(index.searches, 2);

    const failing = new IndexSnippets(
      () => () => Promise.reject(new Error('index closed')),
      (m) => queries.push(`error: ${m}`),
    );
    failing.get(['x1y'], 'f');
    await failing.idle();
    assert.deepEqual(failing.get(['x1y'], 'f'), []);
    assert.equal(queries.at(-1), 'error: index closed');
    assert.deepEqual(new IndexSnippets(() => undefined).get(['abc'], 'f'), [], 'no index: nothing');
  });
});

describe('status bar words', () => {
  const route = { providerId: 'box', model: 'qwen2.5-coder:7b', local: true };
  it('on with its model, off, snoozed, no model, and a failure with a next step', () => {
    assert.match(statusView({ state: 'enabled', route, debounceMs: 250 }).text, /qwen2\.5-coder:7b/);
    assert.match(statusView({ state: 'enabled', route, debounceMs: 250 }).tooltip[0]!, /box\/qwen2\.5-coder:7b \(local\)/);
    assert.match(statusView({ state: 'enabled', route: { ...route, local: false }, debounceMs: 250 }).text, /\$\(cloud\)/);
    assert.match(statusView({ state: 'disabled' }).text, /off/);
    const until = new Date(2026, 11, 2, 14, 5).getTime();
    assert.match(statusView({ state: 'snoozed', until }).tooltip[0]!, /until 14:05/);
    const none = statusView({ state: 'noModel', reason: 'box/llama3.2: no fill-in-the-middle: instruct-only' });
    assert.equal(none.warning, false, 'no code model is a state, not an alarm');
    assert.match(none.text, /no model/);
    assert.match(none.tooltip[0]!, /instruct-only/);
    const failed = statusView(
      { state: 'enabled', route, debounceMs: 250 },
      { kind: 'unreachable', message: 'box/qwen2.5-coder:7b failed' },
    );
    assert.equal(failed.warning, true);
    assert.match(failed.tooltip[0]!, /server not reachable/);
    assert.match(failed.tooltip[1]!, /Start the model server/);
    assert.doesNotMatch(failed.tooltip.join('\n'), /unreachable/, 'the kind in words, not its identifier');
  });

  it('every error kind has its own next step', () => {
    const kinds = ['unreachable', 'timeout', 'modelMissing', 'unsupported', 'config', 'policy', 'auth', 'rateLimited', 'contextOverflow'];
    assert.equal(new Set(kinds.map(nextStep)).size, kinds.length);
    assert.match(nextStep('server'), /Show Logs/);
  });
});
