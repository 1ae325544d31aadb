// The edit task's core (src/core/editorTasks/edit.ts): the prompt, the fenced block as the only output (also while it
// streams), the original's indentation and final newline kept; and the task through the chat turn on a test server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { runTurn } from '../../src/core/chat/turn';
import { editTurn, extractCodeBlock, fitToOriginal } from '../../src/core/editorTasks/edit';
import { scriptedBackend, startLlamaCppServer } from '../fixtures';

test('extractCodeBlock: only the first fenced block counts, whatever the model says around it', () => {
  assert.equal(extractCodeBlock('Sure! Here it is:\n```ts\nconst a = 2;\n```\nThis sets a to 2.', true), 'const a = 2;');
  assert.equal(extractCodeBlock('```\nx\n```\n```\ny\n```', true), 'x');
  assert.equal(extractCodeBlock('No code here.', true), undefined);
  assert.equal(extractCodeBlock('~~~python\nprint(1)\n~~~', true), 'print(1)');
  // A block that shows a fence inside a longer one.
  assert.equal(extractCodeBlock('````md\n```js\nx\n```\n````', true), '```js\nx\n```');
});

test('extractCodeBlock while streaming: what has arrived of the block, the start of a closing fence held back', () => {
  assert.equal(extractCodeBlock('Here:\n``', false), undefined);
  assert.equal(extractCodeBlock('Here:\n```ts\nconst a', false), 'const a');
  assert.equal(extractCodeBlock('```ts\nconst a = 1;\n`', false), 'const a = 1;');
  assert.equal(extractCodeBlock('```ts\nconst a = 1;\n```\nDone', false), 'const a = 1;');
  assert.equal(
    extractCodeBlock('```ts\nconst a = 1;\nconst b', true),
    'const a = 1;\nconst b',
    'an unclosed block at the end is what it holds',
  );
});

test('fitToOriginal: indentation a flush-left answer lost is put back; the final newline follows the original', () => {
  const original = '    if (a) {\n      b();\n    }\n';
  assert.equal(fitToOriginal('if (a) {\n  c();\n}', original), '    if (a) {\n      c();\n    }\n');
  assert.equal(fitToOriginal('    x();\n', '    y();'), '    x();');
  // A selection that starts after the indentation of its first line.
  assert.equal(fitToOriginal('  foo(2);', 'foo(1);'), 'foo(2);');
  assert.equal(fitToOriginal('a\n\nb', '  a\n  b'), '  a\n\n  b', 'blank lines stay blank');
});

test("editTurn: the code, its file, the context around it and the instruction; fences longer than the code's backticks", () => {
  const t = editTurn({
    code: "const s = '```b```';\n",
    instruction: ' rename s to t ',
    path: 'src/a.ts',
    language: 'typescript',
    before: 'import x;\n',
    after: '',
  });
  assert.equal(t.task, 'edit');
  assert.match(t.system!, /one fenced code block/);
  assert.match(t.question!, /^File: src\/a\.ts \(typescript\)/);
  assert.match(t.question!, /Code before it \(context, do not repeat\):\n````typescript\nimport x;\n````/);
  assert.match(t.question!, /The code to rewrite:\n````typescript\nconst s = '```b```';\n````/);
  assert.doesNotMatch(t.question!, /Code after it/);
  assert.match(t.question!, /Instruction: rename s to t\n/);
});

test("through the turn: the edit task's answer reduced to its code block", async () => {
  const server = await startLlamaCppServer({
    modelAlias: 'coder',
    backend: scriptedBackend({ tokens: ['Here you go:\n', '```ts\n', 'const t', ' = 1;\n', '```', '\nRenamed.'] }),
  });
  const { config } = parseConfig({
    'switchyard.providers': [{ id: 'coder', kind: 'llamacpp', baseUrl: server.url }],
    'switchyard.tasks': { edit: ['coder/coder'] },
  });
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  try {
    let text = '';
    const partial: (string | undefined)[] = [];
    for await (const ev of runTurn(
      { router: sy.router, providers: sy.registry },
      editTurn({ code: 'const s = 1;\n', instruction: 'rename s to t', path: 'a.ts', language: 'ts' }),
    )) {
      if (ev.type === 'text') {
        text += ev.text;
        partial.push(extractCodeBlock(text, false));
      }
    }
    assert.equal(fitToOriginal(extractCodeBlock(text, true)!, 'const s = 1;\n'), 'const t = 1;\n');
    assert.deepEqual(partial, [undefined, '', 'const t', 'const t = 1;', 'const t = 1;', 'const t = 1;']);
    const body = server.requests.find((r) => r.path === '/v1/chat/completions')!.body;
    assert.match(body.messages.at(-1).content, /Instruction: rename s to t/);
  } finally {
    sy.dispose();
    await server.close();
  }
});
