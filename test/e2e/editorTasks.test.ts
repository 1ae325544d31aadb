// End to end (issue 16): the tasks the router names, where VS Code users look for them, in code-server against an
// Ollama test server. A git repository is the test workspace: a staged change → the Source Control sparkle button →
// the commit message streams into the input box; Edit Selection → the diff → Accept changes the file (one undo step),
// Reject leaves it; a long chat with a small model shows the summary notice. Screenshots in test-results/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startOllamaServer, type Backend, type FixtureServer } from '../fixtures';
import { openChat, sendChat } from './webviews';

/** One model server for every task: the answer follows the task's system prompt. */
function byTask(): Backend {
  const commit = scriptedBackend({ tokens: ['feat(math)', ': add', ' subtraction', '\n\nSubtract', ' two numbers.'], intervalMs: 150 });
  const edit = scriptedBackend({
    tokens: [
      'Here it is:\n',
      '```ts\n',
      'export function add(a: number, b: number): number {\n',
      '  return b + a; // EDITED\n',
      '}\n',
      '```\n',
      'Swapped.',
    ],
    intervalMs: 120,
  });
  const summary = scriptedBackend({ tokens: ['The user', ' sent', ' long', ' messages', ' about', ' widgets.'] });
  const chat = scriptedBackend({ tokens: ['Noted', '.'] });
  const pick = (messages: { role: string; content: string }[]) => {
    const system = messages.find((m) => m.role === 'system')?.content ?? '';
    if (/git commit messages/.test(system)) return commit;
    if (/rewrites code/.test(system)) return edit;
    if (/summarize a conversation/.test(system)) return summary;
    return chat;
  };
  return {
    dims: 8,
    chat: (m, o) => pick(m).chat(m, o),
    embed: (x) => chat.embed(x),
    countTokens: (x) => chat.countTokens(x),
  };
}

let ollama: FixtureServer;
let vs: VSCode;
let workspace: string;
const MATH = 'export function add(a: number, b: number): number {\n  return a + b; // ORIGINAL\n}\n';
const git = (...args: string[]) =>
  execFileSync('git', ['-C', workspace, '-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { encoding: 'utf8' });

before(async () => {
  ollama = await startOllamaServer({
    backend: byTask(),
    models: [
      { name: 'qwen2.5-coder:7b', contextLength: 32768 },
      { name: 'tiny:1b', contextLength: 2048 },
    ],
  });
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-tasks-ws-'));
  execFileSync('git', ['init', '-q', '-b', 'main', workspace]);
  fs.writeFileSync(path.join(workspace, 'math.ts'), MATH);
  fs.writeFileSync(path.join(workspace, 'README.md'), '# Math\n');
  git('add', '.');
  for (const s of ['feat: add math', 'fix(math): handle NaN', 'docs: explain add']) git('commit', '-q', '--allow-empty', '-m', s);
  // The staged change the commit message is for.
  fs.writeFileSync(path.join(workspace, 'README.md'), '# Math\n\nAdds and subtracts numbers.\n');
  git('add', 'README.md');
  vs = await launchVSCode({
    workspace,
    settings: {
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
      'switchyard.tasks': {
        chat: ['box/tiny:1b'],
        summarize: ['box/qwen2.5-coder:7b'],
        commitMessage: ['box/qwen2.5-coder:7b'],
        edit: ['box/qwen2.5-coder:7b'],
        embed: [],
      },
      'switchyard.privacy': 'local-only',
      'workbench.colorTheme': 'Default Dark Modern',
      'git.enabled': true,
      'scm.defaultViewMode': 'list',
      // VS Code in a browser auto-saves 1 s after an edit: off, so the accepted edit is seen as an unsaved change.
      '[typescript]': { 'files.autoSave': 'off' },
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

async function failureShot(name: string, e: unknown): Promise<never> {
  await vs.screenshot(`${name}-failure`).catch(() => {});
  throw e;
}

const lastChat = () =>
  ollama.requests.filter((r) => r.path === '/api/chat').at(-1)?.body as
    { model: string; messages: { role: string; content: string }[] } | undefined;

test(
  'Source Control: the sparkle button streams a commit message for the staged change into the input box',
  { timeout: t(180_000) },
  async () => {
    try {
      await vs.page.locator('.monaco-workbench').click({ position: { x: 700, y: 300 } });
      await vs.page.keyboard.press('Control+Shift+G');
      const button = vs.page.locator('.action-label[aria-label*="Generate Commit Message"]').first();
      await button.waitFor({ state: 'visible', timeout: t(60_000) });
      const box = vs.page.locator('.scm-editor .view-lines').first();
      await box.waitFor({ timeout: t(20_000) });
      await button.click();
      const partials = new Set<string>();
      const message = await waitFor(
        'the message in the input box',
        async () => {
          const text = (await box.innerText()).replace(/\u00a0/g, ' ').trim();
          if (text) partials.add(text);
          return /Subtract two numbers\./.test(text) ? text : undefined;
        },
        t(60_000),
        50,
      );
      assert.match(message, /^feat\(math\): add subtraction\n+Subtract two numbers\.$/);
      assert.ok(partials.size >= 2, `streamed: ${JSON.stringify([...partials])}`);
      const sent = lastChat()!;
      assert.equal(sent.model, 'qwen2.5-coder:7b');
      const prompt = sent.messages.at(-1)!.content;
      assert.match(prompt, /Adds and subtracts numbers\./, 'the staged diff');
      assert.match(prompt, /- docs: explain add\n- fix\(math\): handle NaN\n- feat: add math/, 'the last subjects');
      assert.match(sent.messages[0]!.content, /Conventional Commits/);
      assert.doesNotMatch(prompt, /Nothing is staged/);
      await vs.screenshot('scm-commit-message');
    } catch (e) {
      await failureShot('scm-commit-message', e);
    }
  },
);

async function openMath() {
  await vs.page.keyboard.press('Control+P');
  await vs.page.locator('.quick-input-widget input').fill('math.ts');
  await vs.page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'math.ts' })
    .first()
    .waitFor({ timeout: t(15_000) });
  await vs.page.keyboard.press('Enter');
  const editor = vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function add' }).first();
  await editor.waitFor({ timeout: t(15_000) });
  return editor;
}

/** Edit Selection… on all of math.ts with an instruction; resolves once the proposal is complete in the diff. */
async function editAll(instruction: string) {
  const editor = await openMath();
  await editor.click();
  await vs.page.keyboard.press('Control+A');
  await vs.page.keyboard.press('Control+Alt+K');
  const input = vs.page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: t(15_000) });
  await input.fill(instruction);
  await vs.page.keyboard.press('Enter');
  const diff = vs.page.locator('.monaco-diff-editor').first();
  await diff.waitFor({ timeout: t(20_000) });
  await vs.waitForNotification(/editing math\.ts: ready: Accept \(Ctrl\+Enter\) or Reject/, t(60_000));
  const modified = diff.locator('.editor.modified .view-lines:not(.line-delete)');
  await waitFor('the proposal in the diff', async () => /EDITED/.test(await modified.innerText()), t(20_000));
  return { diff, modified };
}

const textOf = async (l: { innerText(): Promise<string> }) => (await l.innerText()).replace(/\u00a0/g, ' ');

const editorText = async () =>
  (await vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function add' }).first().innerText()).replace(/\u00a0/g, ' ');

test(
  'Edit Selection: the rewrite streams into a diff; Accept (Ctrl+Enter) changes the file in one undo step, Reject leaves it',
  { timeout: t(180_000) },
  async () => {
    try {
      const { diff, modified } = await editAll('swap the operands');
      assert.match(await textOf(modified), /return b \+ a; \/\/ EDITED/);
      assert.doesNotMatch(await textOf(modified), /Here it is|Swapped/, 'only the code block');
      assert.match(await textOf(diff.locator('.editor.original .view-lines:not(.line-delete)')), /ORIGINAL/);
      assert.match(lastChat()!.messages.at(-1)!.content, /Instruction: swap the operands/);
      assert.equal(
        await diff.locator('.editor.modified .view-lines:not(.line-delete) .view-line').count(),
        await diff.locator('.editor.original .view-lines:not(.line-delete) .view-line').count(),
        'as many lines on both sides',
      );
      await vs.screenshot('edit-selection-diff');
      await modified.click();
      await vs.page.keyboard.press('Control+Enter');
      await diff.waitFor({ state: 'detached', timeout: t(15_000) });
      await waitFor(
        "the edit's notification to close",
        async () => !(await vs.notifications()).some((n) => /editing math\.ts/.test(n)),
        t(10_000),
      );
      await waitFor('the accepted edit in the editor', async () => /return b \+ a; \/\/ EDITED/.test(await editorText()), t(15_000));
      assert.doesNotMatch(await editorText(), /ORIGINAL/);
      const file = path.join(workspace, 'math.ts');
      assert.equal(fs.readFileSync(file, 'utf8'), MATH, 'not saved: the user decides');
      // Saved, it is exactly the file with the code block in place of the selection (its final newline kept).
      await vs.page.locator('.monaco-editor .view-lines', { hasText: 'export function add' }).first().click();
      await vs.page.keyboard.press('Control+S');
      await waitFor('the saved edit', () => fs.readFileSync(file, 'utf8') !== MATH || undefined, t(10_000), 100);
      assert.equal(fs.readFileSync(file, 'utf8'), MATH.replace('return a + b; // ORIGINAL', 'return b + a; // EDITED'));
      // One undo step brings the original back.
      await vs.page.keyboard.press('Control+Z');
      await waitFor('the undone edit', async () => /ORIGINAL/.test(await editorText()), t(10_000));
      assert.doesNotMatch(await editorText(), /EDITED/);
      await vs.page.keyboard.press('Control+S');
      await waitFor('the original saved again', () => fs.readFileSync(file, 'utf8') === MATH || undefined, t(10_000), 100);

      // Reject: the diff closes, the file is as it was.
      const again = await editAll('swap the operands again');
      await vs.screenshot('edit-selection-before-reject');
      await vs.runCommand('Switchyard: Reject Edit');
      await again.diff.waitFor({ state: 'detached', timeout: t(15_000) });
      await waitFor(
        "the edit's notification to close",
        async () => !(await vs.notifications()).some((n) => /editing math\.ts/.test(n)),
        t(10_000),
      );
      assert.match(await editorText(), /ORIGINAL/);
      assert.doesNotMatch(await editorText(), /EDITED/);
      assert.equal(fs.readFileSync(path.join(workspace, 'math.ts'), 'utf8'), MATH);
    } catch (e) {
      await failureShot('edit-selection', e);
    }
  },
);

test(
  "a chat longer than the model's window: older turns are summarized (notice names the summarize model), not dropped",
  { timeout: t(180_000) },
  async () => {
    try {
      const chat = await openChat(vs);
      const long = (n: number) => `Message ${n} about widgets: ${Array.from({ length: 220 }, (_, i) => `w${n}x${i}`).join(' ')}`;
      let turn;
      for (let n = 1; n <= 4; n++) {
        turn = await sendChat(chat, long(n));
        await waitFor(`answer ${n}`, async () => (await turn!.getAttribute('data-status')) === 'done', t(30_000), 100);
      }
      const notices = await turn!.locator('.notice').allInnerTexts();
      assert.ok(
        notices.some((n) => /Earlier turns summarized by box\/qwen2\.5-coder:7b \(\d+ messages\)/.test(n)),
        JSON.stringify(notices),
      );
      const sent = lastChat()!;
      assert.equal(sent.model, 'tiny:1b');
      assert.match(sent.messages[0]!.content, /The user sent long messages about widgets\./, 'the summary stands for the older turns');
      assert.ok(!sent.messages.some((m) => m.content.startsWith('Message 1 about')), 'the first message itself is not sent');
      await turn!.scrollIntoViewIfNeeded();
      await vs.screenshot('chat-summary-notice');
    } catch (e) {
      await failureShot('chat-summary', e);
    }
  },
);
