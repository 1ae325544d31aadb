/**
 * `switchyard commit-message` (dist/cli.js) in a real git repository made for the test: the staged diff, or all
 * changes when nothing is staged (said on stderr), the last subjects as style examples, the message alone on stdout.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scriptedBackend, startLlamaCppServer, type FixtureServer } from '../fixtures';
import { runCli } from '../fixtures/cli';

let server: FixtureServer;
const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cli-commit-'));
const repo = path.join(dir, 'repo');
const cfg = path.join(dir, 'config.json');
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { encoding: 'utf8' });

before(async () => {
  server = await startLlamaCppServer({
    modelAlias: 'writer',
    backend: scriptedBackend({ tokens: ['```\n', 'feat(math): add', ' subtraction', '\n```'] }),
  });
  writeFileSync(
    cfg,
    JSON.stringify({
      'switchyard.providers': [{ id: 'writer', kind: 'llamacpp', baseUrl: server.url }],
      'switchyard.tasks': { commitMessage: ['writer/writer'] },
    }),
  );
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(path.join(repo, 'math.ts'), 'export const add = (a: number, b: number) => a + b;\n');
  git('add', '.');
  for (const s of ['feat: add math', 'fix(math): handle NaN', 'docs: explain add']) git('commit', '-q', '--allow-empty', '-m', s);
});
after(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const prompt = () => server.requests.find((r) => r.path === '/v1/chat/completions')!.body.messages as { role: string; content: string }[];

test('commit-message: the staged diff, the last subjects and Conventional Commits reach the model; the message alone on stdout', async () => {
  writeFileSync(
    path.join(repo, 'math.ts'),
    'export const add = (a: number, b: number) => a + b;\nexport const sub = (a: number, b: number) => a - b;\n',
  );
  git('add', 'math.ts');
  writeFileSync(path.join(repo, 'draft.md'), 'not staged\n');
  const r = await runCli(['commit-message', '--repo', repo, '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'feat(math): add subtraction\n');
  assert.match(r.stderr, /route: commitMessage answered by writer\/writer/);
  assert.doesNotMatch(r.stderr, /nothing is staged/);
  const [system, user] = prompt();
  assert.match(system!.content, /Conventional Commits/);
  assert.match(user!.content, /- docs: explain add\n- fix\(math\): handle NaN\n- feat: add math/);
  assert.match(user!.content, /\+export const sub/);
  assert.doesNotMatch(user!.content, /draft\.md/, 'only what is staged');
  git('commit', '-q', '-m', 'feat(math): add subtraction');
});

test('commit-message: nothing staged → all changes, untracked files by name, and it says so; --staged refuses', async () => {
  writeFileSync(path.join(repo, 'math.ts'), 'export const add = (a: number, b: number) => a + b; // sum\n');
  // The current folder by default.
  const all = await runCli(['commit-message', '--config', cfg], { cwd: repo });
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /note: nothing is staged: describing all changes in the working tree/);
  const user = prompt().at(-1)!.content;
  assert.match(user, /Nothing is staged/);
  assert.match(user, /\/\/ sum/);
  assert.match(user, /\? draft\.md \(untracked, not in the diff\)/);
  server.reset();
  const staged = await runCli(['commit-message', '--repo', repo, '--staged', '--config', cfg]);
  assert.equal(staged.code, 1);
  assert.match(staged.stderr, /^switchyard: Nothing is staged\./m);
  assert.equal(server.counts['POST /v1/chat/completions'], 0);
});

test('commit-message: outside a git repository is exit 2', async () => {
  const r = await runCli(['commit-message', '--repo', dir, '--config', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not a git repository/);
});
