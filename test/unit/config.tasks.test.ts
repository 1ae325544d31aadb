// switchyard.tasks problems in words: one message listing every problem with its full path (task name and index),
// no schema regex, a "did you mean" for a close task name or provider id, and an ignored embed entry that says the
// index is keyword-only now.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/config';

const ollama = { id: 'ollama', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434' };

test('invalid switchyard.tasks: one message that lists every problem with the task name and index, in words', () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [ollama],
    'switchyard.tasks': {
      chat: ['ollama/llama3', 42, 'qwen2.5-coder:7b', { model: 'ollama/x', temperature: 'hot' }, { temperature: 1 }],
      chatt: ['ollama/x'],
    },
  });
  const tasks = problems.filter((p) => p.key === 'switchyard.tasks');
  assert.equal(tasks.length, 1, 'one message for switchyard.tasks');
  const m = tasks[0]!.message;
  assert.match(m, /switchyard\.tasks\.chat\[1\]: 42 is not a model reference like "ollama\/qwen2\.5-coder:7b"/);
  assert.match(m, /switchyard\.tasks\.chat\[2\]: "qwen2\.5-coder:7b" is not a model reference .*e\.g\. "ollama\/qwen2\.5-coder:7b"/);
  assert.match(m, /switchyard\.tasks\.chat\[3\]\.temperature: expected number, got string "hot"/);
  assert.match(m, /switchyard\.tasks\.chat\[4\]: missing "model"/);
  assert.match(m, /switchyard\.tasks\.chatt: unknown task "chatt"; did you mean "chat"\?/);
  assert.match(m, /has 5 problems/);
  assert.doesNotMatch(m, /\^\(|\[A-Za-z0-9\]|form \^/, 'no raw regex');
  assert.doesNotMatch(m, /switchyard\.tasks\[\d/, 'never a path without the task name');
  assert.deepEqual(config.tasks.chat, [{ ref: 'ollama/llama3' }], 'the valid entry still works');
});

test('a close provider id gets a "did you mean"; the entry is kept for the router to skip', () => {
  const { config, problems } = parseConfig({
    'switchyard.providers': [ollama],
    'switchyard.tasks': { chat: ['olama/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'], explain: ['Auto'] },
  });
  const m = problems.map((p) => p.message).join('\n');
  assert.match(m, /switchyard\.tasks\.chat\[0\]: there is no provider "olama"; did you mean "ollama\/qwen2\.5-coder:7b"\?/);
  assert.doesNotMatch(m, /openai/, 'a preset id is a known provider');
  assert.match(m, /switchyard\.tasks\.explain\[0\]: "Auto" is not a model reference .*did you mean "auto"\?/);
  assert.deepEqual(
    config.tasks.chat.map((c) => c.ref),
    ['olama/qwen2.5-coder:7b', 'openai/gpt-4.1-mini'],
  );
});

test('an ignored embed entry names switchyard.tasks.embed[0] and says the index is keyword-only now', () => {
  const { config, problems } = parseConfig({ 'switchyard.tasks': { embed: ['nomic-embed-text'] } });
  assert.equal(problems.length, 1);
  const m = problems[0]!.message;
  assert.match(m, /switchyard\.tasks\.embed\[0\]: "nomic-embed-text" is not a model reference/);
  assert.match(m, /keyword-only/);
  assert.deepEqual(config.tasks.embed, []);
  // With a valid embedding model left, the index is not keyword-only: no such claim.
  const partial = parseConfig({ 'switchyard.tasks': { embed: ['ollama/nomic-embed-text', 'bad'] } });
  assert.match(partial.problems[0]!.message, /switchyard\.tasks\.embed\[1\]/);
  assert.doesNotMatch(partial.problems[0]!.message, /keyword-only/);
});

test('valid tasks, including configured and zero-config provider ids and "auto", give no problems', () => {
  const { problems } = parseConfig({
    'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434' }],
    'switchyard.tasks': { chat: ['box/qwen', 'llamacpp/x', 'auto', { model: 'anthropic/claude', maxTokens: 100 }], embed: [] },
  });
  assert.deepEqual(problems, []);
});
