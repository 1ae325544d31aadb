// The commitMessage task's core (src/core/editorTasks/commitMessage.ts): git diffs parsed, fitted to the window of the
// model that answers (file list, most informative hunks, lock and generated files as one line, said so), the last
// commit subjects as examples with Conventional Commits detected, the answer cleaned; and the whole task through the
// chat turn against llama.cpp test servers of two window sizes.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { runTurn } from '../../src/core/chat/turn';
import { estimateMessagesTokens, estimateTokens } from '../../src/core/providers/tokenEstimate';
import type { ChatMessage } from '../../src/core/providers/types';
import {
  NothingToCommitError,
  cleanCommitMessage,
  commitMessageTurn,
  fitDiff,
  parseDiff,
  summarizedKind,
  usesConventionalCommits,
} from '../../src/core/editorTasks/commitMessage';
import { scriptedBackend, startLlamaCppServer, type FixtureServer } from '../fixtures';

/** A file's diff as git writes it, with `hunks` hunks of `lines` changed lines each. */
function fileDiff(path: string, hunks: number, lines: number, opts: { status?: 'added' | 'modified'; word?: string } = {}): string {
  const out = [`diff --git a/${path} b/${path}`];
  if (opts.status === 'added') out.push('new file mode 100644', 'index 0000000..1111111', '--- /dev/null', `+++ b/${path}`);
  else out.push('index 1111111..2222222 100644', `--- a/${path}`, `+++ b/${path}`);
  for (let h = 0; h < hunks; h++) {
    out.push(`@@ -${h * 100 + 1},${lines + 3} +${h * 100 + 1},${lines + 3} @@ function f${h}() {`);
    out.push(' context line');
    for (let l = 0; l < lines; l++) out.push(`-  old ${opts.word ?? 'value'} ${h}.${l}`, `+  new ${opts.word ?? 'value'} ${h}.${l}`);
    out.push(' context line');
  }
  return out.join('\n');
}

const LOCK = [
  'diff --git a/package-lock.json b/package-lock.json',
  'index 1..2 100644',
  '--- a/package-lock.json',
  '+++ b/package-lock.json',
  '@@ -1,3 +1,3 @@',
  '-    "version": "1.0.0",',
  '+    "version": "1.0.1",',
].join('\n');

test('parseDiff: files, statuses, renames, binaries and line counts as git writes them', () => {
  const diff = [
    fileDiff('src/a.ts', 2, 3),
    fileDiff('src/new.ts', 1, 2, { status: 'added' }),
    'diff --git a/old.txt b/new.txt',
    'similarity index 90%',
    'rename from old.txt',
    'rename to new.txt',
    'diff --git a/logo.png b/logo.png',
    'index 1..2 100644',
    'Binary files a/logo.png and b/logo.png differ',
    'diff --git a/gone.ts b/gone.ts',
    'deleted file mode 100644',
    '--- a/gone.ts',
    '+++ /dev/null',
    '@@ -1 +0,0 @@',
    '-bye',
    '',
  ].join('\n');
  const files = parseDiff(diff);
  assert.deepEqual(
    files.map((f) => [f.path, f.status, f.hunks.length, f.added, f.removed]),
    [
      ['src/a.ts', 'modified', 2, 6, 6],
      ['src/new.ts', 'added', 1, 2, 2],
      ['new.txt', 'renamed', 0, 0, 0],
      ['logo.png', 'modified', 0, 0, 0],
      ['gone.ts', 'deleted', 1, 0, 1],
    ],
  );
  assert.equal(files[2]!.from, 'old.txt');
  assert.equal(files[3]!.binary, true);
  assert.equal(summarizedKind(files[3]!), 'binary file');
});

test('fitDiff: a small diff goes in whole, with the file list and no notice', () => {
  const files = parseDiff(fileDiff('src/a.ts', 2, 3));
  const fitted = fitDiff(files, 10_000);
  assert.equal(fitted.notice, undefined);
  assert.equal(fitted.hunksShown, 2);
  assert.match(fitted.text, /^Files changed \(1\):\nM src\/a\.ts \(\+6 −6\)\n/);
  assert.match(fitted.text, /\+  new value 1\.2/);
});

test('fitDiff: a large diff fits the budget: every file listed, the most informative hunks of each file first, lock files one line, and it says so', () => {
  const diff = [
    fileDiff('src/big.ts', 30, 20, { word: 'big' }),
    fileDiff('src/small.ts', 1, 1, { word: 'small' }),
    LOCK,
    fileDiff('dist/bundle.min.js', 1, 50),
    [
      'diff --git a/src/whitespace.ts b/src/whitespace.ts',
      'index 1..2 100644',
      '--- a/src/whitespace.ts',
      '+++ b/src/whitespace.ts',
      '@@ -1,40 +1,40 @@',
      ...Array.from({ length: 40 }, () => ['-  ', '+    ']).flat(),
    ].join('\n'),
  ].join('\n');
  const files = parseDiff(diff);
  const budget = 2000;
  const fitted = fitDiff(files, budget, ['notes.md']);
  assert.ok(estimateTokens(fitted.text) <= budget, `${estimateTokens(fitted.text)} tokens`);
  for (const name of ['src/big.ts', 'src/small.ts', 'package-lock.json', 'dist/bundle.min.js', 'src/whitespace.ts', 'notes.md'])
    assert.ok(fitted.text.includes(name), name);
  assert.match(fitted.text, /M package-lock\.json \(\+1 −1\): lock file, not shown/);
  assert.match(fitted.text, /M dist\/bundle\.min\.js \(\+50 −50\): generated file, not shown/);
  assert.match(fitted.text, /\? notes\.md \(untracked, not in the diff\)/);
  assert.ok(!fitted.text.includes('"version": "1.0.1"'), "the lock file's lines are not shown");
  // Each source file is represented before the big one gets more of its hunks.
  assert.match(fitted.text, /\+  new small 0\.0/);
  assert.ok(fitted.hunksShown > 1 && fitted.hunksShown < fitted.hunksTotal, `${fitted.hunksShown}/${fitted.hunksTotal}`);
  assert.match(fitted.text, /# \d+ of 30 hunks of this file left out/);
  assert.match(
    fitted.notice!,
    /^The diff was fitted to the model's window: \d+ of 32 hunks shown; package-lock\.json \(lock file\), dist\/bundle\.min\.js \(generated file\) summarized as one line\.$/,
  );
  // Shown hunks keep their order in the file.
  const order = [...fitted.text.matchAll(/\+  new big (\d+)\.0/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
});

test('a generated file is recognised by its marker line', () => {
  const diff = fileDiff('src/api.ts', 1, 2, { status: 'added' }).replace('+  new value 0.0', '+// Code generated by protoc. DO NOT EDIT.');
  assert.equal(summarizedKind(parseDiff(diff)[0]!), 'generated file');
});

test('Conventional Commits is detected from the history; the answer is cleaned of fences, labels and quotes', () => {
  assert.equal(usesConventionalCommits(['feat(ui): add a button', 'fix: crash on start', 'chore: bump deps', 'Update README']), true);
  assert.equal(usesConventionalCommits(['Add a button', 'Fix the crash', 'fix: one', 'Bump deps']), false);
  assert.equal(usesConventionalCommits(['feat: one', 'fix: two']), false, 'too few to tell');
  assert.equal(
    cleanCommitMessage('```\nfix: crash on start\n\nThe handler was null.\n```'),
    'fix: crash on start\n\nThe handler was null.',
  );
  assert.equal(cleanCommitMessage('Commit message: "Add a button"'), 'Add a button');
  assert.equal(cleanCommitMessage('```text\nAdd a but'), 'Add a but', 'while it streams');
  assert.equal(cleanCommitMessage('  Add a button   \nBody  '), 'Add a button\nBody');
});

test('commitMessageTurn: subjects, the hint and "nothing staged" are in the prompt; an empty diff is refused', () => {
  const t = commitMessageTurn({
    diff: fileDiff('src/a.ts', 1, 1),
    staged: false,
    untracked: ['n.md'],
    subjects: ['feat: a', 'fix: b', 'docs: c'],
    hint: 'mention the cache',
  });
  assert.equal(t.task, 'commitMessage');
  assert.match(t.system!, /Conventional Commits/);
  const q = t.questionFor!(10_000);
  assert.match(q.text, /- feat: a\n- fix: b\n- docs: c/);
  assert.match(q.text, /mention the cache/);
  assert.match(q.text, /Nothing is staged: these are all the changes in the working tree\./);
  assert.match(q.text, /\? n\.md/);
  assert.throws(() => commitMessageTurn({ diff: '', staged: true, subjects: [] }), NothingToCommitError);
});

let small: FixtureServer;
let big: FixtureServer;
before(async () => {
  small = await startLlamaCppServer({
    contextSize: 2048,
    modelAlias: 'small',
    backend: scriptedBackend({ tokens: ['```\n', 'fix: small', '\n```'] }),
  });
  big = await startLlamaCppServer({ contextSize: 65536, modelAlias: 'big', backend: scriptedBackend({ tokens: ['fix: big'] }) });
});
after(async () => {
  await small.close();
  await big.close();
});
beforeEach(() => {
  small.reset();
  big.reset();
});

function setup(commitMessage: string[]): Switchyard {
  const { config } = parseConfig({
    'switchyard.providers': [
      { id: 'small', kind: 'llamacpp', baseUrl: small.url },
      { id: 'big', kind: 'llamacpp', baseUrl: big.url },
    ],
    'switchyard.tasks': { commitMessage },
  });
  return new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
}

test("through the turn: a large diff fits the small model's window and says so; the large model gets all of it", async () => {
  const diff = [fileDiff('src/big.ts', 40, 15), LOCK].join('\n');
  for (const [task, server, expectFitted] of [
    ['small/small', small, true],
    ['big/big', big, false],
  ] as const) {
    const sy = setup([task]);
    try {
      let text = '';
      const notices: string[] = [];
      for await (const ev of runTurn(
        { router: sy.router, providers: sy.registry },
        commitMessageTurn({ diff, staged: true, subjects: ['Add x', 'Fix y'] }),
      )) {
        if (ev.type === 'text') text += ev.text;
        if (ev.type === 'notice') notices.push(ev.text);
      }
      const sent = server.requests.find((r) => r.path === '/v1/chat/completions')!.body.messages as ChatMessage[];
      if (expectFitted) {
        assert.equal(cleanCommitMessage(text), 'fix: small');
        assert.ok(estimateMessagesTokens(sent) <= 2048 - 1024, `${estimateMessagesTokens(sent)} tokens`);
        assert.match(
          notices.join('\n'),
          /The diff was fitted to the model's window: \d+ of 40 hunks shown; package-lock\.json \(lock file\) summarized/,
        );
      } else {
        assert.equal(text, 'fix: big');
        assert.match(sent.at(-1)!.content, /\+  new value 39\.14/, 'the last hunk too');
        assert.deepEqual(
          notices,
          ["The diff was fitted to the model's window: package-lock.json (lock file) summarized as one line."],
          'every hunk shown',
        );
      }
    } finally {
      sy.dispose();
    }
  }
});
