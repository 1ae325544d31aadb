// Completions (issue 15): FIM templates per family (prompt built exactly, stops), the choice of template from the
// model name and Ollama's /api/show template, instruct models refused with a reason, and the context within budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FIM_FAMILIES,
  FIM_TEMPLATES,
  MULTI_LINE_MAX_TOKENS,
  NOT_USABLE,
  SINGLE_LINE_MAX_TOKENS,
  buildContext,
  buildFimPrompt,
  chooseFimTemplate,
  familyFromName,
  infillBody,
  offsetAt,
  postProcess,
  prefixWithin,
  snippetsWithin,
  suffixWithin,
} from '../../src/core/complete';
import type { CompletionContext, FimChoice, FimFamilyId } from '../../src/core/complete';
import { estimateTokens } from '../../src/core/providers/tokenEstimate';

const PREFIX = 'def add(a, b):\n    ';
const SUFFIX = '\n\nprint(add(1, 2))\n';
const ctx = (over: Partial<CompletionContext> = {}): CompletionContext => ({ prefix: PREFIX, suffix: SUFFIX, extra: [], ...over });

function raw(model: string): Extract<FimChoice, { mode: 'raw' }> {
  const c = chooseFimTemplate({ model });
  assert.ok(c.usable && c.mode === 'raw', `${model}: ${JSON.stringify(c)}`);
  return c as Extract<FimChoice, { mode: 'raw' }>;
}

const EXPECTED: Record<FimFamilyId, { model: string; prompt: string; stops: string[] }> = {
  'qwen-coder': {
    model: 'qwen2.5-coder:7b',
    prompt: `<|fim_prefix|>${PREFIX}<|fim_suffix|>${SUFFIX}<|fim_middle|>`,
    stops: [
      '<|endoftext|>',
      '<|fim_prefix|>',
      '<|fim_middle|>',
      '<|fim_suffix|>',
      '<|fim_pad|>',
      '<|repo_name|>',
      '<|file_sep|>',
      '<|im_start|>',
      '<|im_end|>',
    ],
  },
  codellama: {
    model: 'codellama:7b-code',
    prompt: `<PRE> ${PREFIX} <SUF>${SUFFIX} <MID>`,
    stops: ['<PRE>', '<SUF>', '<MID>', '<EOT>', '</s>'],
  },
  'deepseek-coder': {
    model: 'deepseek-coder:6.7b-base',
    prompt: `<\uFF5Cfim\u2581begin\uFF5C>${PREFIX}<\uFF5Cfim\u2581hole\uFF5C>${SUFFIX}<\uFF5Cfim\u2581end\uFF5C>`,
    stops: ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<｜end▁of▁sentence｜>', '<|EOT|>'],
  },
  starcoder2: {
    model: 'starcoder2:3b',
    prompt: `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`,
    stops: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<|endoftext|>'],
  },
  starcoder: {
    model: 'stable-code:3b-code',
    prompt: `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`,
    stops: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>', '<|endoftext|>'],
  },
  codestral: {
    model: 'codestral:22b',
    prompt: `[SUFFIX]${SUFFIX}[PREFIX]${PREFIX}`,
    stops: ['[PREFIX]', '[SUFFIX]', '[MIDDLE]', '</s>'],
  },
  codegemma: {
    model: 'codegemma:2b-code',
    prompt: `<|fim_prefix|>${PREFIX}<|fim_suffix|>${SUFFIX}<|fim_middle|>`,
    stops: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_separator|>', '<end_of_turn>', '<eos>'],
  },
};

for (const family of FIM_FAMILIES) {
  test(`template ${family}: the prompt is built exactly and carries the family's stops`, () => {
    const e = EXPECTED[family];
    const choice = raw(e.model);
    assert.equal(choice.template.family, family);
    const p = buildFimPrompt(choice, ctx());
    assert.equal(p.mode, 'raw');
    assert.equal(p.prompt, e.prompt);
    assert.deepEqual(p.stop, e.stops);
    assert.equal(p.family, family);
    assert.equal(p.suffix, undefined);
    assert.equal(p.multiline, true, 'the cursor is on an empty line');
    // Each stop applied: the output ends before it.
    for (const s of e.stops) {
      assert.equal(
        postProcess({ completion: `return a + b${s}\nprint(1)`, prefix: PREFIX, suffix: SUFFIX, stop: p.stop }),
        'return a + b',
        s,
      );
    }
  });
}

test('mid-line the prompt asks for one line: "\\n" joins the stops and the answer budget is small', () => {
  const mid = ctx({ prefix: 'const x = ', suffix: ' + 1;\n' });
  const one = buildFimPrompt(raw('qwen2.5-coder:1.5b'), mid);
  assert.equal(one.multiline, false);
  assert.deepEqual(one.stop, [...FIM_TEMPLATES['qwen-coder'].stop, '\n']);
  assert.equal(one.maxTokens, SINGLE_LINE_MAX_TOKENS);
  const many = buildFimPrompt(raw('qwen2.5-coder:1.5b'), ctx());
  assert.equal(many.maxTokens, MULTI_LINE_MAX_TOKENS);
  assert.ok(!many.stop.includes('\n'));
  const never = buildFimPrompt(raw('qwen2.5-coder:1.5b'), ctx(), { multiline: 'never' });
  assert.equal(never.multiline, false);
  assert.ok(never.stop.includes('\n'));
});

test('deepseek-coder tokens use the full-width bar U+FF5C and U+2581, not ASCII', () => {
  const t = FIM_TEMPLATES['deepseek-coder'].template;
  assert.ok(t.includes('\uFF5C') && t.includes('\u2581'));
  assert.ok(!t.includes('|') && !t.includes('fim_'));
});

test('prefix or suffix text that looks like a placeholder or a replace pattern stays verbatim', () => {
  const prefix = 'const s = "{suffix} $& $1 {prefix}";\n';
  const suffix = '\n// {prefix} $`\n';
  const p = buildFimPrompt(raw('qwen2.5-coder:1.5b'), ctx({ prefix, suffix }));
  assert.equal(p.prompt, `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>`);
});

test('family from the model name: tags, paths and vendor spellings', () => {
  const cases: Array<[string, FimFamilyId | undefined]> = [
    ['qwen2.5-coder:1.5b-base', 'qwen-coder'],
    ['Qwen/Qwen2.5-Coder-7B-Instruct-GGUF', 'qwen-coder'],
    ['qwen3-coder:30b', 'qwen-coder'],
    ['codeqwen:7b-code', 'starcoder'],
    ['TheBloke/deepseek-coder-6.7B-base-GGUF', 'deepseek-coder'],
    ['deepseek-coder-v2:16b', 'deepseek-coder'],
    ['starcoder2:7b', 'starcoder2'],
    ['bigcode/starcoderbase-1b', 'starcoder'],
    ['stabilityai/stable-code-3b', 'starcoder'],
    ['CodeLlama-13b-hf', 'codellama'],
    ['codestral:22b-v0.1-q4_0', 'codestral'],
    ['codegemma:7b-code', 'codegemma'],
    ['llama3.2:3b', undefined],
    ['qwen2.5:7b-instruct', undefined],
    ['deepseek-r1:7b', undefined],
    ['gpt-4.1-mini', undefined],
  ];
  for (const [name, family] of cases) assert.equal(familyFromName(name), family, name);
});

test('an Ollama template with .Suffix means the server fills in the middle: suffix mode, prompt = prefix', () => {
  const ollamaTemplate = '{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n{{- else }}…{{ end }}';
  const c = chooseFimTemplate({ model: 'qwen2.5-coder:7b', ollamaTemplate });
  assert.ok(c.usable && c.mode === 'suffix');
  const p = buildFimPrompt(c, ctx());
  assert.deepEqual(
    { mode: p.mode, prompt: p.prompt, suffix: p.suffix, family: p.family },
    {
      mode: 'suffix',
      prompt: PREFIX,
      suffix: SUFFIX,
      family: 'qwen-coder',
    },
  );
  assert.ok(p.stop.includes('<|endoftext|>'));
  // A custom name with a .Suffix template is usable too; the family comes from the tokens the template holds.
  const custom = chooseFimTemplate({ model: 'my-completer:latest', ollamaTemplate: '[SUFFIX]{{ .Suffix }}[PREFIX] {{ .Prompt }}' });
  assert.ok(custom.usable && custom.mode === 'suffix' && custom.template?.family === 'codestral');
  const unknown = chooseFimTemplate({ model: 'mystery', ollamaTemplate: '{{ .Prompt }} {{ .Suffix }}' });
  assert.deepEqual(unknown, { usable: true, mode: 'suffix' });
  // Ollama's `insert` capability (from /api/show) says the same as a .Suffix template.
  const insert = chooseFimTemplate({ model: 'my-completer:latest', ollamaCapabilities: ['completion', 'insert'] });
  assert.deepEqual(insert, { usable: true, mode: 'suffix' });
  assert.equal(chooseFimTemplate({ model: 'llama3.2:3b', ollamaCapabilities: ['completion', 'tools'] }).usable, false);
  // A server that infills itself (llama.cpp /infill) is suffix mode whatever the name.
  assert.equal((chooseFimTemplate({ model: 'model.gguf', serverInfill: true }) as { mode: string }).mode, 'suffix');
});

test('an instruct-only model (no FIM family, no .Suffix) is not usable, with a reason the router can show', () => {
  const chat = '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n';
  const a = chooseFimTemplate({ model: 'llama3.2:3b', ollamaTemplate: chat });
  assert.equal(a.usable, false);
  assert.match((a as { reason: string }).reason, new RegExp(`^${NOT_USABLE}: .*no \\.Suffix`));
  const b = chooseFimTemplate({ model: 'gpt-4.1-mini' });
  assert.equal(b.usable, false);
  assert.ok((b as { reason: string }).reason.startsWith(`${NOT_USABLE}: `));
  // Code Llama instruct / Python / 34B were not trained for infilling (unless the user or the server says otherwise).
  for (const m of ['codellama:7b-instruct', 'codellama:13b-python', 'codellama:34b']) {
    const c = chooseFimTemplate({ model: m });
    assert.equal(c.usable, false, m);
    assert.match((c as { reason: string }).reason, /Code Llama/);
  }
  assert.equal(chooseFimTemplate({ model: 'codellama:7b-instruct', family: 'codellama' }).usable, true);
  // The user's family setting makes a custom name usable.
  assert.equal((chooseFimTemplate({ model: 'my-finetune', family: 'starcoder2' }) as { mode: string }).mode, 'raw');
});

test('repo-level Qwen: other files under <|repo_name|>/<|file_sep|> before the current file', () => {
  const c = ctx({
    extra: [{ filename: 'src/math.py', text: 'def sub(a, b):\n    return a - b\n' }],
    filename: 'src/main.py',
    repo: 'demo',
  });
  const p = buildFimPrompt(raw('qwen2.5-coder:7b'), c);
  assert.equal(
    p.prompt,
    '<|repo_name|>demo\n<|file_sep|>src/math.py\ndef sub(a, b):\n    return a - b\n\n<|file_sep|>src/main.py\n' +
      `<|fim_prefix|>${PREFIX}<|fim_suffix|>${SUFFIX}<|fim_middle|>`,
  );
  assert.deepEqual(p.extra, [], 'folded into the prompt, not sent again');
});

test('repo-level StarCoder2: <repo_name>, <file_sep> files, the current path inside <fim_prefix>', () => {
  const c = ctx({ extra: [{ filename: 'a.py', text: 'X = 1\n' }], filename: 'b.py', repo: 'r' });
  const p = buildFimPrompt(raw('starcoder2:3b'), c);
  assert.equal(p.prompt, `<repo_name>r<file_sep>a.py\nX = 1\n<file_sep><fim_prefix>b.py\n${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`);
});

test('a family without a repo-level form keeps snippets as input_extra entries; /infill body carries them', () => {
  const extra = [{ filename: 'a.ts', text: 'export const x = 1;\n' }];
  const p = buildFimPrompt(raw('codellama:7b-code'), ctx({ extra }));
  assert.equal(p.prompt, `<PRE> ${PREFIX} <SUF>${SUFFIX} <MID>`);
  assert.deepEqual(p.extra, extra);
  assert.deepEqual(infillBody(ctx({ extra })), { input_prefix: PREFIX, input_suffix: SUFFIX, input_extra: extra });
});

// ---- context within budgets ----

const lines = (n: number, width = 29) =>
  Array.from({ length: n }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(width - 3)}\n`).join('');

test('prefix: whole lines upward from the cursor within the budget (the project token estimate)', () => {
  const text = lines(100); // 30 chars a line = 10 tokens
  const offset = text.length;
  const p = prefixWithin(text, offset, 95);
  assert.ok(estimateTokens(p) <= 95);
  assert.ok(p.startsWith('091'), p.slice(0, 10)); // 9 lines = 270 chars = 90 tokens; a 10th would be 100
  assert.ok(text.endsWith(p));
  // Cursor mid-line: the partial line is kept whole before earlier lines.
  const mid = text.indexOf('050') + 10;
  const q = prefixWithin(text, mid, 25);
  assert.equal(q, text.slice(text.indexOf('048'), mid));
  // A cursor line alone over budget is cut from its start, never dropped.
  const long = 'y'.repeat(1000);
  assert.equal(prefixWithin(long, 1000, 10), 'y'.repeat(30));
  assert.equal(prefixWithin('a\nb', 3, 100), 'a\nb');
  assert.equal(prefixWithin('\nab', 3, 100), '\nab');
});

test('suffix: the rest of the line, then whole lines downward within the budget', () => {
  const text = lines(50);
  const start = text.indexOf('010') + 5;
  const s = suffixWithin(text, start, 35); // 25 + 30 + 30 chars = 29 tokens; one more line would be 39
  assert.equal(s, text.slice(start, text.indexOf('013')));
  assert.ok(estimateTokens(s) <= 35);
  assert.equal(suffixWithin('abc', 1, 10), 'bc');
});

test('snippets: in order until the budget is spent, the last cut at a line boundary', () => {
  const a = { filename: 'a.ts', text: lines(5) };
  const b = { filename: 'b.ts', text: lines(20) };
  const c = { filename: 'c.ts', text: lines(5) };
  const got = snippetsWithin([a, b, c], 120);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], a);
  assert.equal(got[1]!.filename, 'b.ts');
  assert.ok(got[1]!.text.endsWith('\n') && got[1]!.text.length < b.text.length);
  const total = got.reduce((n, s) => n + estimateTokens(s.text) + estimateTokens(s.filename) + 2, 0);
  assert.ok(total <= 120, String(total));
});

test('buildContext: prefix, suffix and extra from the document and cursor, with defaults', () => {
  const text = 'a\nb\ncd|ef\ng\n'.replace('|', '');
  const offset = text.indexOf('ef');
  const c = buildContext({ text, offset, filename: 'f.ts', extra: [{ filename: 'x', text: 'y\n' }] });
  assert.deepEqual(c, {
    prefix: 'a\nb\ncd',
    suffix: 'ef\ng\n',
    extra: [{ filename: 'x', text: 'y\n' }],
    filename: 'f.ts',
    repo: undefined,
  });
});

test('offsetAt: 1-based line and column as editors show them, clamped to the line and the text', () => {
  const text = 'ab\ncde\r\n\nf';
  assert.equal(offsetAt(text, 1, 1), 0);
  assert.equal(offsetAt(text, 1, 3), 2, 'end of line 1');
  assert.equal(offsetAt(text, 1, 99), 2);
  assert.equal(offsetAt(text, 2, 2), 4);
  assert.equal(offsetAt(text, 2, 99), 6, 'before the \\r of a CRLF line');
  assert.equal(offsetAt(text, 3, 1), 8);
  assert.equal(offsetAt(text, 4, 2), 10);
  assert.equal(offsetAt(text, 9, 1), text.length);
  assert.equal(offsetAt(text, 0, 1), undefined);
  assert.equal(offsetAt(text, 1, 0), undefined);
});
