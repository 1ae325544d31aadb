/**
 * The gateway relay's event scanner (src/core/providers/sseRelay.ts), fed byte streams the way sockets deliver them:
 * split anywhere, CRLF or LF, multi-byte characters cut in half. The provider suites (providers.openai.test.ts, "the
 * gateway relay") drive it against the test server; these cases pin what a socket can do that a server rarely does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { TruncatedStreamError } from '../../src/core/providers/base';
import { SseRelay, type SseRelayOptions } from '../../src/core/providers/sseRelay';

class EventError extends Error {
  constructor(readonly payload: unknown) {
    super(`error event: ${JSON.stringify(payload)}`);
  }
}

const options = (includeUsage: boolean): SseRelayOptions => ({
  model: 'srv/renamed',
  includeUsage,
  errorFor: (error) => new EventError(error),
});

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra = '') =>
  `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"upstream-\\"name\\"","choices":[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":${finish === null ? 'null' : `"${finish}"`}}],"usage":null${extra}}`;

/** A complete answer as an OpenAI-compatible server streams it with include_usage (LF line ends). */
const ANSWER = [
  ': keep-alive comment',
  chunk({ role: 'assistant', content: '' }),
  `event: message\n${chunk({ content: 'Grüße, ' })}`,
  chunk({ content: '🚂 "quoted" \\n' }),
  chunk({ content: 'data: [DONE]\n\n' }),
  chunk({}, 'stop'),
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"upstream","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":4,"total_tokens":11}}',
  'data: [DONE]',
]
  .map((e) => `${e}\n\n`)
  .join('');

interface Run {
  out: string;
  relay: SseRelay;
  error?: unknown;
}

/** Feeds `bytes` split at `cuts`, with the sink attached from the start; resolves when the relay settles. */
async function run(bytes: Buffer, cuts: number[], includeUsage: boolean): Promise<Run> {
  const source = new PassThrough();
  const relay = new SseRelay(source, options(includeUsage));
  let out = '';
  relay.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => assert.fail('not paused') });
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > at) source.write(bytes.subarray(at, cut));
    at = cut;
  }
  source.end();
  try {
    await relay.ended;
    return { out, relay };
  } catch (error) {
    return { out, relay, error };
  }
}

function events(out: string): string[] {
  return out.split('\n\n').filter(Boolean);
}

test('relays complete events with the model renamed, usage fields and chunk dropped, [DONE] kept back; text and usage counted', async () => {
  const { out, relay, error } = await run(Buffer.from(ANSWER), [], false);
  assert.equal(error, undefined);
  const list = events(out);
  assert.equal(list[0], ': keep-alive comment', 'comments pass through');
  assert.ok(list[2]!.startsWith('event: message\ndata: {'), 'an event with several fields stays one event');
  const chunks = list.slice(1).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 'data: '.length)));
  assert.equal(chunks.length, 5, 'the usage-only chunk is dropped when the client did not ask for usage');
  for (const c of chunks) {
    assert.equal(c.model, 'srv/renamed');
    assert.ok(!('usage' in c), 'no usage field when the client did not ask');
  }
  assert.deepEqual(
    chunks.map((c) => c.choices[0].delta.content ?? null),
    ['', 'Grüße, ', '🚂 "quoted" \\n', 'data: [DONE]\n\n', null],
  );
  assert.ok(!out.includes('data: [DONE]\n\n\n') && !/^data: \[DONE\]$/m.test(out), 'the closing [DONE] is left to the gateway');
  assert.deepEqual(relay.usage, { inputTokens: 7, outputTokens: 4 });
  assert.equal(relay.finished, true);
  assert.ok(relay.textLength >= 'Grüße, 🚂 "quoted" \\ndata: [DONE]'.length, String(relay.textLength));
});

test('with include_usage the usage chunk and null usage fields are relayed (model renamed there too)', async () => {
  const { out, error } = await run(Buffer.from(ANSWER), [], true);
  assert.equal(error, undefined);
  const chunks = events(out)
    .slice(1)
    .map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
  assert.equal(chunks.length, 6);
  assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
  assert.equal(chunks.at(-1).model, 'srv/renamed');
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
});

test('the same output however the bytes are split: every cut point, one byte at a time, and CRLF line ends', async () => {
  const bytes = Buffer.from(ANSWER);
  const whole = await run(bytes, [], true);
  for (let cut = 1; cut < bytes.length; cut++) {
    const split = await run(bytes, [cut], true);
    assert.equal(split.out, whole.out, `cut at byte ${cut}`);
    assert.equal(split.relay.textLength, whole.relay.textLength);
  }
  const single = await run(
    bytes,
    Array.from({ length: bytes.length }, (_, i) => i),
    true,
  );
  assert.equal(single.out, whole.out, 'one byte at a time');
  const crlf = Buffer.from(ANSWER.replace(/\n/g, '\r\n'));
  // A content string holds an escaped "\n" only, so CRLF changes line ends and nothing else.
  for (const cuts of [[], Array.from({ length: crlf.length }, (_, i) => i)]) {
    const r = await run(crlf, cuts, true);
    assert.equal(r.error, undefined);
    assert.equal(r.out, whole.out, `CRLF, ${cuts.length} cuts`);
  }
});

test('first text: ready waits past the role chunk and resolves with the first content; the server waits until piped', async () => {
  const source = new PassThrough();
  const relay = new SseRelay(source, options(false));
  let ready = false;
  void relay.ready.then(() => (ready = true));
  source.write(`${chunk({ role: 'assistant', content: '' })}\n\n`);
  await tick();
  assert.equal(ready, false, 'a role chunk is not an answer');
  source.write(`${chunk({ content: 'Hi' })}\n\n`);
  await tick();
  assert.equal(ready, true);
  assert.equal(source.isPaused(), true, 'nothing more is read until the gateway pipes the answer');
  source.write(`${chunk({ content: ' there' })}\n\n`);
  let out = '';
  relay.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => undefined });
  assert.equal(source.isPaused(), false);
  source.end(`${chunk({}, 'stop')}\n\n`);
  await relay.ended;
  assert.deepEqual(
    events(out).map((e) => JSON.parse(e.slice(6)).choices[0].delta.content ?? null),
    ['', 'Hi', ' there', null],
  );
});

test('a thinking model: ready resolves at the first reasoning text (reasoning_content or reasoning), so its thinking streams as it comes', async () => {
  for (const field of ['reasoning_content', 'reasoning']) {
    const source = new PassThrough();
    const relay = new SseRelay(source, options(false));
    let ready = false;
    void relay.ready.then(() => (ready = true));
    source.write(`${chunk({ role: 'assistant', content: '', [field]: null })}\n\n${chunk({ [field]: '' })}\n\n`);
    await tick();
    assert.equal(ready, false, `${field}: an empty or null reasoning field is not an answer`);
    source.write(`${chunk({ content: null, [field]: 'Let me think' })}\n\n`);
    await tick();
    assert.equal(ready, true, `${field}: the first reasoning text starts the answer`);
    let out = '';
    relay.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => undefined });
    source.write(`${chunk({ [field]: ' hard.' })}\n\n${chunk({ content: 'Four.' })}\n\n`);
    source.end(`${chunk({}, 'stop')}\n\n`);
    await relay.ended;
    const deltas = events(out).map((e) => JSON.parse(e.slice(6)).choices[0].delta);
    assert.deepEqual(
      deltas.map((d) => d[field] ?? null),
      [null, '', 'Let me think', ' hard.', null, null],
    );
    assert.equal(relay.textLength, 'Four.'.length, 'reasoning is not counted as answer text');
  }
});

test('an answer that ends without text (finish reason only) is complete: ready resolves at the end', async () => {
  const { error, out, relay } = await run(
    Buffer.from(`${chunk({ role: 'assistant', content: '' })}\n\n${chunk({}, 'stop')}\n\ndata: [DONE]\n\n`),
    [],
    false,
  );
  assert.equal(error, undefined);
  await relay.ready;
  assert.equal(events(out).length, 2);
  assert.equal(relay.textLength, 0);
});

test('an error event before any text rejects ready (the router falls back); after text it rejects ended and is not relayed', async () => {
  const before = new PassThrough();
  const r1 = new SseRelay(before, options(false));
  before.write(`${chunk({ role: 'assistant', content: '' })}\n\ndata: {"error":{"message":"model crashed","type":"server_error"}}\n\n`);
  await assert.rejects(r1.ready, (e: unknown) => e instanceof EventError && (e.payload as { message: string }).message === 'model crashed');
  assert.equal(before.destroyed, true, 'the server is not read any further');

  const after = new PassThrough();
  const r2 = new SseRelay(after, options(false));
  let out = '';
  r2.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => undefined });
  after.write(`${chunk({ content: 'partial' })}\n\n`);
  await r2.ready;
  after.write('data: {"error":{"message":"out of memory"}}\n\n');
  await assert.rejects(r2.ended, EventError);
  assert.ok(out.includes('partial') && !out.includes('out of memory'), 'the gateway reports the failure in its own words');
  // A content string that merely says "error" is text, not an error event.
  const r3 = await run(Buffer.from(`${chunk({ content: '{"error": "not really"}' })}\n\n${chunk({}, 'stop')}\n\n`), [], false);
  assert.equal(r3.error, undefined);
});

test('a stream that ends without a finish reason is cut off (TruncatedStreamError), even after [DONE]', async () => {
  const r = await run(Buffer.from(`${chunk({ content: 'half an ans' })}\n\ndata: [DONE]\n\n`), [], false);
  assert.ok(r.error instanceof TruncatedStreamError, String(r.error));
  // The last event may lack its blank line: it still counts.
  const ok = await run(Buffer.from(`${chunk({ content: 'x' })}\n\n${chunk({}, 'length')}`), [], false);
  assert.equal(ok.error, undefined);
  assert.equal(events(ok.out).length, 2);
});

test('backpressure: a sink that is full pauses the server until it drains', async () => {
  const source = new PassThrough();
  const relay = new SseRelay(source, options(false));
  let resume: (() => void) | undefined;
  let writes = 0;
  relay.pipe({ write: () => (writes++, false), onDrain: (r) => (resume = r) });
  source.write(`${chunk({ content: 'a' })}\n\n`);
  await tick();
  assert.equal(writes, 1);
  assert.equal(source.isPaused(), true);
  source.write(`${chunk({ content: 'b' })}\n\n`);
  await tick();
  assert.equal(writes, 1, 'nothing is written while the sink is full');
  resume!();
  await tick();
  assert.equal(writes, 2);
});

test('a transport failure or an endless event fails the relay', async () => {
  const source = new PassThrough();
  const relay = new SseRelay(source, options(false));
  relay.fail(new TypeError('terminated'));
  await assert.rejects(relay.ended, /terminated/);
  await assert.rejects(relay.ready, /terminated/);

  const endless = new PassThrough();
  const r2 = new SseRelay(endless, options(false));
  const mb = Buffer.alloc(1024 * 1024, 'a');
  for (let i = 0; i < 5 && !endless.destroyed; i++) endless.write(mb);
  await assert.rejects(r2.ready, /longer than/);
});

test('with tools: argument pieces of a well-formed call pass byte for byte; a call without id or name yet, and stop after calls, are rewritten', async () => {
  const start = (index: number, id: string | undefined, name: string) => ({
    tool_calls: [{ index, ...(id ? { id } : {}), type: 'function', function: { name, arguments: '' } }],
  });
  const args = (index: number, text: string) => ({ tool_calls: [{ index, function: { arguments: text } }] });
  const events = [
    chunk({ role: 'assistant', content: '' }),
    chunk(start(0, 'call_a', 'get_weather')),
    chunk(args(0, '{"city":')),
    chunk(args(0, '"Grüße \\"x\\""}')),
    // The second call: argument text before its name, and no id.
    chunk(args(1, '{}')),
    chunk(start(1, undefined, 'get_time')),
    chunk({}, 'stop'),
  ];
  const bytes = Buffer.from(events.map((e) => `${e}\n\n`).join('') + 'data: [DONE]\n\n', 'utf8');
  const source = new PassThrough();
  const relay = new SseRelay(source, { ...options(false), tools: true });
  let out = '';
  relay.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => assert.fail('not paused') });
  source.end(bytes);
  await relay.ended;
  assert.ok(relay.calling);
  const sent = out.split('\n\n').filter(Boolean);
  // Well-formed events pass as they came (model renamed, the null usage dropped as for text).
  const passed = (e: string) => e.replace('"model":"upstream-\\"name\\""', '"model":"srv/renamed"').replace(',"usage":null', '');
  assert.deepEqual(sent.slice(0, 4), events.slice(0, 4).map(passed));
  const deltas = sent.slice(4).map(
    (e) =>
      JSON.parse(e.slice('data: '.length)) as {
        model: string;
        choices: { delta: { tool_calls?: unknown[] }; finish_reason: string | null }[];
      },
  );
  assert.ok(deltas.every((d) => d.model === 'srv/renamed'));
  // The held text comes after the start, which has a made id; the finish says tool_calls.
  const [second, finish] = deltas;
  assert.equal(deltas.length, 2, 'the piece before the name is held, not sent');
  const [head, held] = second!.choices[0]!.delta.tool_calls as {
    index: number;
    id?: string;
    type?: string;
    function: { name?: string; arguments: string };
  }[];
  assert.equal(head!.index, 1);
  assert.match(head!.id!, /^call_/);
  assert.deepEqual([head!.type, head!.function.name, head!.function.arguments], ['function', 'get_time', '{}']);
  assert.equal(held, undefined, 'the held text joined the start piece');
  assert.equal(finish!.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(finish!.choices[0]!.delta.tool_calls, undefined, 'both calls had their arguments: nothing to add at the end');
});

test("with tools: a call's first piece in OpenAI's shape passes byte for byte; one under another index, or after held text, is rewritten", async () => {
  const start = (index: number, id: string, name: string, text = '') => ({
    tool_calls: [{ index, id, type: 'function', function: { name, arguments: text } }],
  });
  const args = (index: number, text: string) => ({ tool_calls: [{ index, function: { arguments: text } }] });
  const relayOf = async (events: string[]) => {
    const source = new PassThrough();
    const relay = new SseRelay(source, { ...options(false), tools: true });
    let out = '';
    relay.pipe({ write: (t) => ((out += Buffer.from(t, 'latin1').toString('utf8')), true), onDrain: () => assert.fail('not paused') });
    source.end(Buffer.from(events.map((e) => `${e}\n\n`).join('') + 'data: [DONE]\n\n', 'utf8'));
    await relay.ended;
    return { relay, sent: out.split('\n\n').filter(Boolean) };
  };
  const passed = (e: string) => e.replace('"model":"upstream-\\"name\\""', '"model":"srv/renamed"').replace(',"usage":null', '');
  const calls = (e: string) =>
    (JSON.parse(e.slice('data: '.length)) as { choices: { delta: { tool_calls?: unknown[] } }[] }).choices[0]!.delta.tool_calls;

  // Well-formed: starts with and without argument text (escapes in it), in order; all pass unchanged.
  const wellFormed = [
    chunk(start(0, 'call_a', 'search', '{"q":"a \\"b\\" Grüße"')),
    chunk(args(0, '}')),
    chunk(start(1, 'call_b', 'get_time')),
    chunk(args(1, '{}')),
    chunk({}, 'tool_calls'),
  ];
  const a = await relayOf(wellFormed);
  assert.ok(a.relay.calling);
  assert.deepEqual(a.sent, wellFormed.map(passed));

  // The server numbers its calls from 2: relayed from 0, as the client's path numbers them.
  const b = await relayOf([chunk(start(2, 'call_c', 'search')), chunk(args(2, '{}')), chunk({}, 'tool_calls')]);
  assert.deepEqual(calls(b.sent[0]!), [{ index: 0, id: 'call_c', type: 'function', function: { name: 'search', arguments: '' } }]);
  assert.deepEqual(calls(b.sent[1]!), [{ index: 0, function: { arguments: '{}' } }]);

  // Argument text before the call's start (same index): held, then sent joined to the start.
  const c = await relayOf([chunk(args(0, '{"x":1}')), chunk(start(0, 'call_d', 'get_time')), chunk({}, 'tool_calls')]);
  assert.equal(c.sent.length, 2, 'the held piece is not sent on its own');
  assert.deepEqual(calls(c.sent[0]!), [{ index: 0, id: 'call_d', type: 'function', function: { name: 'get_time', arguments: '{"x":1}' } }]);

  // Both: numbered from 1, text held under 1 (the relay's call 0) when the start comes, with the index it will have.
  const d = await relayOf([chunk(args(1, '{"x":2}')), chunk(start(1, 'call_e', 'get_time')), chunk({}, 'tool_calls')]);
  assert.deepEqual(calls(d.sent[0]!), [{ index: 0, id: 'call_e', type: 'function', function: { name: 'get_time', arguments: '{"x":2}' } }]);
});
