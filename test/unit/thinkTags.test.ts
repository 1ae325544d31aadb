// `<think>…</think>` at the start of answer text (a thinking model served without a reasoning parser) becomes
// reasoning for the chat view and `switchyard ask`, however the stream cuts the tags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThinkTagSplitter, splitThinkTags, type ThinkPiece } from '../../src/core/chat/thinkTags';
import type { RoutedChatEvent } from '../../src/core/routing/router';

/** Feeds the pieces and joins what comes out into reasoning and text. */
function split(pieces: string[]): { reasoning: string; text: string; out: ThinkPiece[] } {
  const s = new ThinkTagSplitter();
  const out = [...pieces.flatMap((p) => s.push(p)), ...s.end()];
  return {
    reasoning: out
      .filter((p) => p.reasoning)
      .map((p) => p.text)
      .join(''),
    text: out
      .filter((p) => !p.reasoning)
      .map((p) => p.text)
      .join(''),
    out,
  };
}

const ANSWER = '<think>\nThe user asks 2 + 2.\nThat is 4.\n</think>\n\nFour.';

test('a <think> block at the start is reasoning, the rest the answer, however the stream cuts it', () => {
  // Every way of cutting the answer into two pieces, and one piece per character.
  const cuts = [...Array.from({ length: ANSWER.length + 1 }, (_, i) => [ANSWER.slice(0, i), ANSWER.slice(i)]), [...ANSWER]];
  for (const pieces of cuts) {
    const r = split(pieces);
    assert.equal(r.reasoning, '\nThe user asks 2 + 2.\nThat is 4.\n', JSON.stringify(pieces));
    assert.equal(r.text, 'Four.', JSON.stringify(pieces));
  }
});

test('reasoning streams as it comes: nothing is held back but what could be a closing tag', () => {
  const s = new ThinkTagSplitter();
  assert.deepEqual(s.push('<think>Let me'), [{ reasoning: true, text: 'Let me' }]);
  assert.deepEqual(s.push(' think.</th'), [{ reasoning: true, text: ' think.' }]);
  assert.deepEqual(s.push('ink>Yes.'), [{ reasoning: false, text: 'Yes.' }]);
  assert.deepEqual(s.push(' <think>is text here</think>'), [{ reasoning: false, text: ' <think>is text here</think>' }]);
  assert.deepEqual(s.end(), []);
});

test('answers without a leading <think> pass untouched (leading whitespace, tags later, lookalikes)', () => {
  for (const answer of [
    'Plain answer.',
    '  \n Indented answer.',
    'Use <think> tags like this: <think>x</think>',
    '<thinking>not the tag</thinking>',
    '<',
    '<thi',
  ]) {
    const r = split([...answer]);
    assert.equal(r.text, answer, answer);
    assert.equal(r.reasoning, '', answer);
  }
});

test('an unterminated <think> (cut off by max tokens) is all reasoning; whitespace before <think> is dropped with it', () => {
  const r = split(['  \n<think>still thinking when the budget ran out']);
  assert.equal(r.reasoning, 'still thinking when the budget ran out');
  assert.equal(r.text, '');
});

test("splitThinkTags: the router's events with text turned into reasoning; reasoning sent apart and other events pass through", async () => {
  const route = {
    type: 'route',
    route: { task: 'chat', requested: 'chat', providerId: 'box', model: 'r1', local: true, fallback: false, attempts: [] },
  } as RoutedChatEvent;
  const done = { type: 'done', usage: {} } as RoutedChatEvent;
  async function* events(): AsyncGenerator<RoutedChatEvent> {
    yield route;
    yield { type: 'reasoning', text: 'apart. ' };
    yield { type: 'text', text: '<think>inl' };
    yield { type: 'text', text: 'ine</think>\n\nFour' };
    yield { type: 'text', text: '.' };
    yield done;
  }
  const out: RoutedChatEvent[] = [];
  for await (const ev of splitThinkTags(events())) out.push(ev);
  assert.deepEqual(out, [
    route,
    { type: 'reasoning', text: 'apart. ' },
    { type: 'reasoning', text: 'inl' },
    { type: 'reasoning', text: 'ine' },
    { type: 'text', text: 'Four' },
    { type: 'text', text: '.' },
    done,
  ]);
});
