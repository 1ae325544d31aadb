/**
 * `switchyard commit-message [--repo DIR] [--staged]`: a commit message for the staged changes (all changes when
 * nothing is staged, unless --staged), printed on stdout for terminals and git hooks; the route, notices and usage on
 * stderr. The same core as the editor's Generate Commit Message (core/editorTasks/commitMessage.ts); git is run
 * here through child_process.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { runTurn } from '../../core/chat/turn';
import {
  COMMIT_SUBJECTS,
  NothingToCommitError,
  cleanCommitMessage,
  commitMessageTurn,
  type CommitMessageInput,
} from '../../core/editorTasks/commitMessage';
import { RouteError } from '../../core/routing/router';
import { describeCandidate } from '../../core/describe';
import { formatUsage } from '../../core/usage/ledger';
import { COMMON_OPTIONS, ConfigError, attemptLines, build, loadConfig, printable, type Io } from '../common';

const run = promisify(execFile);

async function git(repo: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

/** What git says of the repository: the staged diff, or all changes when nothing is staged (and `stagedOnly` is off). */
export async function gitCommitInput(repo: string, stagedOnly: boolean): Promise<CommitMessageInput> {
  try {
    await git(repo, ['rev-parse', '--git-dir']);
  } catch {
    throw new ConfigError(`not a git repository: ${repo}`);
  }
  const flags = ['--no-color', '--no-ext-diff'];
  const staged = await git(repo, ['diff', '--cached', ...flags]);
  const subjects = (await git(repo, ['log', `-${COMMIT_SUBJECTS}`, '--format=%s']).catch(() => '')).split('\n').filter(Boolean);
  if (staged.trim() || stagedOnly) return { diff: staged, staged: true, subjects };
  // Nothing staged: everything since the last commit (a repository without commits has only the working tree).
  const all = await git(repo, ['diff', 'HEAD', ...flags]).catch(() => git(repo, ['diff', ...flags]));
  const untracked = (await git(repo, ['ls-files', '--others', '--exclude-standard'])).split('\n').filter(Boolean);
  return { diff: all, staged: false, untracked, subjects };
}

export async function commitMessage(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: { ...COMMON_OPTIONS, repo: { type: 'string' }, staged: { type: 'boolean' } },
    strict: true,
  });
  const repo = resolve(values.repo ?? process.cwd());
  const input = await gitCommitInput(repo, values.staged ?? false);
  let turn;
  try {
    turn = commitMessageTurn(input);
  } catch (e) {
    if (e instanceof NothingToCommitError) throw new Error(`${e.message} (${printable(repo)})`);
    throw e;
  }
  if (!input.staged) io.stderr.write('note: nothing is staged: describing all changes in the working tree\n');
  const sy = build(loadConfig(values.config, io), io, { allowCloud: values['allow-cloud'] ?? false, verbose: values.verbose ?? false });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let text = '';
  try {
    for await (const ev of runTurn({ router: sy.router, providers: sy.registry }, { ...turn, signal: controller.signal })) {
      if (ev.type === 'text') text += ev.text;
      else if (ev.type === 'notice') io.stderr.write(`note: ${ev.text}\n`);
      else if (ev.type === 'route') {
        const r = ev.route;
        io.stderr.write(
          `route: ${r.requested} answered by ${describeCandidate(r)}${r.fallback ? ' after fallback' : ''}\n${attemptLines(r.attempts)}`,
        );
      } else if (ev.type === 'done') io.stderr.write(`${formatUsage(ev.usage)}\n`);
    }
  } catch (e) {
    if (e instanceof RouteError) {
      io.stderr.write(`route: commitMessage failed\n${attemptLines(e.attempts)}`);
      throw new Error(e.kind === 'canceled' ? 'canceled' : `${e.kind}: ${e.message}`);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
  const message = cleanCommitMessage(text);
  if (!message) throw new Error('the model answered with an empty message');
  io.stdout.write(`${message}\n`);
  return 0;
}
