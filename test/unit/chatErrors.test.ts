// What a failed chat turn and a fallback notice say: error kinds in words (never `modelMissing:`), each candidate
// tried named with its failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_KINDS } from '../../src/core/errors';
import type { RouteAttempt } from '../../src/core/routing/router';
import { errorText, fallbackReason, kindInWords } from '../../src/vscode/chat/errorActions';

const missing: RouteAttempt = {
  providerId: 'box',
  model: 'qwen2.5-coder:7b',
  local: true,
  outcome: 'failed',
  kind: 'modelMissing',
  reason: 'model "qwen2.5-coder:7b" not found',
};
const down: RouteAttempt = {
  providerId: 'lan',
  model: 'llama3',
  local: true,
  outcome: 'failed',
  kind: 'unreachable',
  reason: 'connection refused',
};

test('every error kind has words, and none is shown by its identifier', () => {
  for (const kind of ERROR_KINDS) {
    const words = kindInWords(kind);
    assert.ok(words && words !== 'error', `${kind} has words`);
    assert.doesNotMatch(words, /[a-z][A-Z]/, `${kind}: "${words}" is words, not an identifier`);
  }
  assert.equal(kindInWords('modelMissing'), 'model not found');
  assert.equal(kindInWords('somethingNew'), 'error');
});

test('a turn that no model could answer names each candidate with its failure in words', () => {
  const core =
    'No model could answer chat: box/qwen2.5-coder:7b failed (modelMissing: model "qwen2.5-coder:7b" not found); lan/llama3 failed (unreachable: connection refused).';
  const shown = errorText('unreachable', core, [missing, down]);
  assert.equal(shown.title, 'server not reachable');
  assert.equal(
    shown.message,
    'No model could answer: box/qwen2.5-coder:7b failed (model not found: model "qwen2.5-coder:7b" not found); lan/llama3 failed (server not reachable: connection refused).',
  );
  assert.doesNotMatch(shown.message, /modelMissing|unreachable:/);
  // A failure after the answer had started keeps the core's words about the partial answer.
  const mid = errorText('server', 'box/qwen failed mid-answer (server): boom. The partial answer is kept; retry to ask again.', [
    { ...missing, outcome: 'answered', kind: undefined },
  ]);
  assert.match(mid.message, /partial answer is kept/);
  assert.equal(mid.title, 'server error');
  // No attempts (nothing configured): the core's message, which says what to do.
  assert.equal(
    errorText('config', 'No model is configured or found for chat: start a local server.', []).message,
    'No model is configured or found for chat: start a local server.',
  );
});

test('a fallback notice says why, in words', () => {
  assert.equal(
    fallbackReason([missing, { providerId: 'cloud', model: 'c', local: false, outcome: 'answered' }]),
    'box/qwen2.5-coder:7b failed (model not found: model "qwen2.5-coder:7b" not found)',
  );
});

test('Test connection without a key says "no API key set for <provider>", not the 401; other failures in words', async () => {
  const { testFailure } = await import('../../src/vscode/chat/errorActions');
  assert.deepEqual(testFailure('keyed', 'auth', '401 Incorrect API key provided: sk-placeholder', false), {
    ok: false,
    errorKind: 'auth',
    message: 'no API key set for keyed: set one with the key button (it is kept in SecretStorage)',
  });
  assert.match(
    testFailure('keyed', 'auth', '401 invalid key', true).message,
    /^API key missing or refused: 401 invalid key$/,
    'a key that is set but refused is shown as refused',
  );
  assert.equal(testFailure('box', 'unreachable', 'connect ECONNREFUSED', false).message, 'server not reachable: connect ECONNREFUSED');
});

test('a chat that fails because its task entries were all ignored says so, and offers settings rather than Start Ollama', async () => {
  const { parseConfig } = await import('../../src/core/config/config');
  const { errorActions } = await import('../../src/vscode/chat/errorActions');
  const { problems } = parseConfig({ 'switchyard.tasks': { chat: ['qwen2.5-coder:7b'], explain: ['ollama/x', 'bad'] } });
  const problem = problems.find((p) => p.emptiedTasks?.includes('chat'));
  assert.ok(problem, 'the problem names chat as left with no model');
  assert.deepEqual(problem.emptiedTasks, ['chat'], 'explain still has a model');
  const core =
    'No model is configured or found for chat: start a local server (Ollama, llama.cpp, LM Studio, vLLM) or add candidates to switchyard.tasks.chat.';
  const shown = errorText('config', core, [], { task: 'chat', problem: problem.message });
  assert.match(
    shown.message,
    /^chat has no model: its entries in switchyard\.tasks\.chat were ignored\. .*switchyard\.tasks\.chat\[0\]: "qwen2\.5-coder:7b" is not a model reference/,
  );
  const ids = (a: { id: string }[]) => a.map((x) => x.id);
  assert.deepEqual(ids(errorActions('config', [], [], { pullModel: false, ignoredEntries: true })), ['openSettings']);
  assert.ok(
    ids(errorActions('config', [], [], { pullModel: false })).includes('startOllama'),
    'with nothing configured, Start Ollama is still offered',
  );
});

test('the host accepts the first-run actions (Get Started, Download a GGUF Model) from the chat view', async () => {
  const { validateChatMessage } = await import('../../src/vscode/webview/validate');
  for (const id of ['walkthrough', 'downloadGguf']) {
    assert.equal(
      validateChatMessage({ kind: 'request', id: 1, name: 'chat/action', payload: { turnId: '', action: { id, label: 'x' } } }).ok,
      true,
      id,
    );
  }
  assert.equal(
    validateChatMessage({ kind: 'request', id: 1, name: 'chat/action', payload: { turnId: '', action: { id: 'rm -rf', label: 'x' } } }).ok,
    false,
  );
});

test('a fallback past a model the local Ollama lacks offers Pull for it', async () => {
  const { fallbackActions } = await import('../../src/vscode/chat/errorActions');
  const providers = [
    { id: 'box', kind: 'ollama' as const, baseUrl: 'http://127.0.0.1:11434', local: true },
    { id: 'cloud', kind: 'openai-compatible' as const, baseUrl: 'https://x/v1', local: false },
  ];
  const attempts: RouteAttempt[] = [
    missing,
    { ...down, providerId: 'cloud' },
    { providerId: 'cloud', model: 'gpt', local: false, outcome: 'answered' },
  ];
  assert.deepEqual(fallbackActions(attempts, providers, { pullModel: true }), [
    { id: 'pullModel', label: 'Pull qwen2.5-coder:7b', arg: 'box/qwen2.5-coder:7b' },
  ]);
  assert.deepEqual(fallbackActions(attempts, providers, { pullModel: false }), [], 'no Pull where the command does not exist');
});
