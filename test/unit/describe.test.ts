import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateName, describeAttempts, describeCandidate, describePlan, describeSkip } from '../../src/core/describe';
import { attemptsInWords } from '../../src/vscode/chat/errorActions';
import { attemptLines } from '../../src/cli/common';

const box = { providerId: 'box', model: 'qwen2.5-coder:7b', local: true };
const cloud = { providerId: 'openai', model: 'gpt-4.1-mini', local: false };

test('a candidate is "provider/model (local|cloud)", with notes inside the parentheses', () => {
  assert.equal(describeCandidate(box), 'box/qwen2.5-coder:7b (local)');
  assert.equal(describeCandidate(cloud, 'asks first'), 'openai/gpt-4.1-mini (cloud, asks first)');
  assert.equal(describePlan({ candidate: cloud, asksFirst: true }), 'openai/gpt-4.1-mini (cloud, asks first)');
  assert.equal(describePlan({ candidate: box, asksFirst: false }), 'box/qwen2.5-coder:7b (local)');
  assert.equal(describePlan({ candidate: null }), 'no model available');
});

test('a provider skipped before its models were known is named without a slash', () => {
  assert.equal(candidateName({ providerId: 'lan', model: '' }), 'lan');
  assert.equal(describeSkip({ providerId: 'lan', model: '', reason: 'server not reachable' }), 'lan: server not reachable');
  assert.equal(describeSkip({ ...box, reason: 'unhealthy' }), 'box/qwen2.5-coder:7b: unhealthy');
});

test('attempts read the same for logs (kind identifiers), the editor (kinds in words) and the terminal (one a line)', () => {
  const attempts = [
    { ...box, outcome: 'failed' as const, kind: 'unreachable' as const, reason: 'connection refused' },
    { providerId: 'lan', model: '', local: true, outcome: 'skipped' as const, reason: 'unhealthy' },
    { ...cloud, outcome: 'answered' as const },
  ];
  assert.equal(
    describeAttempts(attempts),
    'box/qwen2.5-coder:7b failed (unreachable: connection refused); lan skipped (unhealthy); openai/gpt-4.1-mini answered',
  );
  assert.equal(
    attemptsInWords(attempts.slice(0, 2)),
    'box/qwen2.5-coder:7b failed (server not reachable: connection refused); lan skipped (unhealthy)',
  );
  assert.equal(attemptLines(attempts), '  failed box/qwen2.5-coder:7b: unreachable: connection refused\n  skipped lan: unhealthy\n');
});
