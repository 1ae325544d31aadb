// End to end (issue 14): Switchyard's routed models in VS Code's own Chat, Agent mode, in code-server 1.139 with AI
// features on and anonymous access ("chat.allowAnonymousAccess": no GitHub sign-in). Agent mode lists only models
// that report tool calling; Switchyard's are listed (the screenshot test-results/agent-picker.png shows the open
// picker). Then one agent turn runs through them: VS Code's agent sends its tools through Switchyard to the Ollama test
// server, whose model calls `create_file`; VS Code runs the tool (the file appears in the workspace) and sends its
// result back, and the model's final text is the answer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, t, waitFor, type VSCode } from './harness';
import { scriptedBackend, startOllamaServer, type FixtureServer } from '../fixtures';

const FINAL = ['The', ' file', ' is', ' written', '.'];
const CONTENT = 'written by a tool call that Switchyard routed';
let ollama: FixtureServer;
let vs: VSCode;
let workspace: string;
let target: string;

before(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-agent-ws-'));
  target = path.join(workspace, 'agent-note.txt');
  // The model calls create_file unless the last message is the tool's result; then it answers with FINAL.
  const backend = scriptedBackend({
    tokens: FINAL,
    toolCalls: [{ name: 'create_file', arguments: { filePath: target, content: CONTENT } }],
  });
  ollama = await startOllamaServer({ backend, models: [{ name: 'qwen3:8b', contextLength: 40960, tools: true }] });
  vs = await launchVSCode({
    workspace,
    settings: {
      // The harness turns AI features off by default; the built-in Chat needs them, and anonymous access lists
      // third-party models without a GitHub sign-in.
      'chat.disableAIFeatures': false,
      'chat.allowAnonymousAccess': true,
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: ollama.url }],
      'switchyard.tasks': {
        chat: ['box/qwen3:8b'],
        explain: ['box/qwen3:8b'],
        edit: ['box/qwen3:8b'],
        commitMessage: ['box/qwen3:8b'],
        summarize: ['box/qwen3:8b'],
      },
      'switchyard.privacy': 'local-only',
    },
  });
  await vs.waitForLog('Switchyard', /Switchyard activated in/, t(60_000));
});

after(async () => {
  await vs?.close();
  await ollama?.close();
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

/** The rows of the open action widget (the Chat's mode and model pickers), by their accessible labels. */
async function pickerRows(): Promise<string[]> {
  const labels = await vs.page
    .locator('.action-widget .monaco-list-row')
    .evaluateAll((els) =>
      els.filter((e) => (e as unknown as { offsetParent: unknown }).offsetParent !== null).map((e) => e.getAttribute('aria-label') ?? ''),
    );
  return labels.filter(Boolean);
}

const toolbar = () => vs.page.locator('.interactive-input-part .chat-input-toolbars');

async function failureShot(name: string, e: unknown): Promise<never> {
  await vs.screenshot(`${name}-failure`).catch(() => {});
  throw e;
}

test(
  "Agent mode: the built-in Chat's model picker lists Switchyard's routed models (they report tool calling)",
  { timeout: t(180_000) },
  async () => {
    try {
      await vs.runCommand('Chat: Open Chat');
      await toolbar()
        .first()
        .waitFor({ state: 'visible', timeout: t(30_000) });
      // Agent mode: the mode picker's button names the current mode; choose Agent from it unless it already is.
      const mode = toolbar().locator('[aria-label="Agent"]');
      if ((await mode.count()) === 0) {
        await toolbar().locator('.action-label[aria-label]').first().click();
        await vs.page.locator('.action-widget .monaco-list-row', { hasText: 'Agent' }).first().click();
      }
      await mode.first().waitFor({ state: 'visible', timeout: t(15_000) });
      // The model picker, opened until it lists Switchyard (the provider's models resolve once it has registered).
      const rows = await waitFor(
        'the model picker to list Switchyard chat',
        async () => {
          await toolbar().locator('[aria-label^="Models"]').first().click();
          const r = await waitFor(
            'the picker to open',
            async () => ((await pickerRows()).length ? pickerRows() : undefined),
            t(5_000),
          ).catch(() => []);
          if (r.some((l) => l.startsWith('Switchyard chat'))) return r;
          await vs.page.keyboard.press('Escape');
          return undefined;
        },
        t(60_000),
        500,
      );
      assert.ok(
        rows.some((l) => /^Switchyard chat, box\/qwen3:8b \(local\)/.test(l)),
        rows.join(' / '),
      );
      // The rest of the routed tasks are under "Other Models" (the picker keeps the current one on top).
      const other = vs.page.locator('.action-widget .monaco-list-row', { hasText: 'Other Models' });
      if (await other.count()) await other.first().click();
      const all = await waitFor(
        'every routed task in the picker',
        async () => {
          const r = await pickerRows();
          return ['chat', 'commitMessage', 'edit', 'explain', 'summarize'].every((task) =>
            r.some((l) => l.startsWith(`Switchyard ${task},`)),
          )
            ? r
            : undefined;
        },
        t(10_000),
      );
      assert.ok(!all.some((l) => /Switchyard (embed|complete)\b/.test(l)), 'embed and complete are not chat models');
      const shot = await vs.screenshot('agent-picker');
      assert.ok(fs.statSync(shot).size > 10_000);
      await vs.page.locator('.action-widget .monaco-list-row', { hasText: 'Switchyard chat' }).first().click();
      await toolbar()
        .locator('[aria-label="Models, Switchyard chat"]')
        .first()
        .waitFor({ state: 'visible', timeout: t(10_000) });
    } catch (e) {
      await failureShot('agent-picker', e);
    }
  },
);

test(
  "Agent mode runs a turn through Switchyard: the model's tool call runs in VS Code and its result goes back",
  { timeout: t(180_000) },
  async () => {
    try {
      ollama.reset();
      const input = vs.page.locator('.interactive-input-part .interactive-input-editor').first();
      await input.click();
      await vs.page.keyboard.type('Write a short note into agent-note.txt');
      await vs.page.keyboard.press('Enter');
      // Two requests: the first with VS Code's tools (the model calls create_file), the second with the tool's result.
      const chats = await waitFor(
        'the tool result to come back to the model',
        () => {
          const r = ollama.requests.filter((q) => q.method === 'POST' && q.path === '/api/chat');
          return r.length >= 2 ? r : undefined;
        },
        t(90_000),
      );
      const offered = (chats[0]!.body.tools as { function: { name: string } }[]).map((x) => x.function.name);
      assert.ok(offered.includes('create_file'), offered.join(', '));
      const messages = chats[1]!.body.messages as { role: string; content: string; tool_calls?: { function: { name: string } }[] }[];
      const call = messages.find((m) => m.role === 'assistant' && m.tool_calls?.length);
      assert.equal(call?.tool_calls?.[0]?.function.name, 'create_file');
      const result = messages.at(-1)!;
      assert.equal(result.role, 'tool', JSON.stringify(messages.map((m) => m.role)));
      assert.ok(result.content.length > 0);
      await waitFor(
        `VS Code to run the tool the model called (its result: ${result.content.slice(0, 300)})`,
        () => fs.existsSync(target) || undefined,
        t(15_000),
      );
      await waitFor(
        'the created file to hold the content',
        () => (fs.readFileSync(target, 'utf8') === CONTENT ? true : undefined),
        t(30_000),
      ).catch(async (e) => {
        await vs.screenshot('agent-turn-content');
        throw new Error(`${String(e)}; on disk: ${JSON.stringify(fs.readFileSync(target, 'utf8'))}; tool result: ${result.content}`);
      });
      const answer = vs.page.locator('.interactive-response', { hasText: FINAL.join('') });
      await answer.first().waitFor({ state: 'visible', timeout: t(30_000) });
      const log = await vs.outputChannelText('Switchyard');
      assert.match(log, /language model switchyard\/chat → box\/qwen3:8b \(local\)/);
      await vs.screenshot('agent-turn');
    } catch (e) {
      await failureShot('agent-turn', e);
    }
  },
);
