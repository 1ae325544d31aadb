/**
 * The requests qwen-code and opencode sent while editing a file through the gateway (recorded in
 * fixtures/agentRequests.ts), replayed byte for byte with their headers, through /v1/chat/completions and
 * /v1/responses: the conversation after a read and an edit gets the final text, and the same conversation cut
 * before the model's first call gets an edit call in the agent's own tool schema. Checks what each agent reads (the
 * SSE it parses) and what the upstream model was sent (content parts joined, tool results, the agent's parameters).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { Gateway } from '../../src/core/gateway/server';
import { scriptedBackend, startLlamaCppServer, type FixtureServer } from '../fixtures';
import { AGENT_REQUESTS, type RecordedAgentRequest } from '../fixtures/agentRequests';

const TOKEN = 'sy-gw-agents-token-0123456789';
const FILE = '/work/agents/proj/hello.txt';
const ANSWER = ['Done', ':', ' hello.txt', ' now', ' greets', ' Switchyard', '.'];
let qwen: FixtureServer;
let opencode: FixtureServer;
let gateway: Gateway;

before(async () => {
  // Each agent's model calls that agent's edit tool (qwen-code: file_path/old_string/new_string; opencode: camelCase).
  qwen = await startLlamaCppServer({
    backend: scriptedBackend({
      tokens: ANSWER,
      toolCalls: [{ name: 'edit', arguments: { file_path: FILE, old_string: 'Hello world', new_string: 'Hello Switchyard' } }],
    }),
    modelAlias: 'qwen3-coder',
    toolCapable: true,
    contextSize: 262144,
  });
  opencode = await startLlamaCppServer({
    backend: scriptedBackend({
      tokens: ANSWER,
      toolCalls: [{ name: 'edit', arguments: { filePath: FILE, oldString: 'Hello world', newString: 'Hello Switchyard' } }],
    }),
    modelAlias: 'qwen3-coder',
    toolCapable: true,
    contextSize: 262144,
  });
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'q', kind: 'llamacpp', baseUrl: qwen.url },
      { id: 'o', kind: 'llamacpp', baseUrl: opencode.url },
    ],
    // The recorded requests name switchyard/chat; each agent's replay goes to its own upstream through an alias.
    'switchyard.tasks': { chat: ['q/qwen3-coder'], explain: ['o/qwen3-coder'] },
    'switchyard.aliases': { opencode: 'explain' },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  const sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
  });
  gateway = new Gateway({ source: sy, token: TOKEN, port: 0 });
  await gateway.start();
});
after(async () => {
  await gateway.stop();
  await Promise.all([qwen.close(), opencode.close()]);
});
beforeEach(() => {
  qwen.reset();
  opencode.reset();
});

/** Sends a recorded request as the agent did (its headers, our token), returning the SSE events' data. */
async function replay(
  path: string,
  recorded: RecordedAgentRequest,
  body: Record<string, unknown>,
): Promise<{ status: number; events: any[]; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`, {
    method: 'POST',
    headers: { ...recorded.headers, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) return { status: res.status, events: [JSON.parse(text)], headers: res.headers };
  const events = text
    .split('\n\n')
    .map((frame) =>
      frame
        .split('\n')
        .find((l) => l.startsWith('data: '))
        ?.slice(6),
    )
    .filter((d): d is string => d !== undefined && d !== '[DONE]')
    .map((d) => JSON.parse(d));
  return { status: res.status, events, headers: res.headers };
}

/** What an OpenAI chat-completions client assembles from the chunks: text and calls. */
function chatAnswer(events: any[]): { text: string; calls: { id: string; name: string; arguments: string }[]; finish?: string } {
  let text = '';
  let finish: string | undefined;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const e of events) {
    const c = e.choices?.[0];
    if (!c) continue;
    text += c.delta.content ?? '';
    for (const t of c.delta.tool_calls ?? []) {
      if (t.id) calls[t.index] = { id: t.id, name: t.function.name, arguments: t.function.arguments ?? '' };
      else calls[t.index]!.arguments += t.function.arguments;
    }
    finish = c.finish_reason ?? finish;
  }
  return { text, calls, finish };
}

/** The conversation before the model's first call: the recorded request cut after the user's message. */
function firstTurn(body: Record<string, any>, key: 'messages' | 'input'): Record<string, any> {
  const items = body[key] as any[];
  const lastUser = items.map((m) => m.role).lastIndexOf('user');
  return { ...body, [key]: items.slice(0, lastUser + 1) };
}

for (const [name, key, server, model] of [
  ['qwen-code', 'qwenChat', () => qwen, 'switchyard/chat'],
  ['opencode (@ai-sdk/openai-compatible)', 'opencodeChat', () => opencode, 'switchyard/opencode'],
] as const) {
  test(`${name}'s recorded /v1/chat/completions requests: an edit call in its schema, then the final text after the tool results`, async () => {
    const recorded = AGENT_REQUESTS[key];
    const first = await replay('/v1/chat/completions', recorded, { ...firstTurn(recorded.body, 'messages'), model });
    assert.equal(first.status, 200, JSON.stringify(first.events[0]));
    const call = chatAnswer(first.events);
    assert.equal(call.finish, 'tool_calls');
    assert.equal(call.calls.length, 1);
    assert.equal(call.calls[0]!.name, 'edit');
    assert.equal(JSON.parse(call.calls[0]!.arguments)[key === 'qwenChat' ? 'file_path' : 'filePath'], FILE);

    const last = await replay('/v1/chat/completions', recorded, { ...recorded.body, model });
    assert.equal(last.status, 200);
    const answer = chatAnswer(last.events);
    assert.equal(answer.text, ANSWER.join(''));
    assert.equal(answer.finish, 'stop');
    assert.ok(last.events.at(-1).usage.completion_tokens > 0, 'stream_options.include_usage honoured');

    const sent = server()
      .requests.filter((r) => r.path === '/v1/chat/completions')
      .at(-1)!.body;
    assert.deepEqual(
      sent.tools.map((t: any) => t.function.name),
      recorded.body.tools.map((t: any) => t.function.name),
    );
    assert.equal(sent.max_tokens, 32000);
    const roles = sent.messages.map((m: any) => m.role);
    assert.deepEqual(
      roles,
      recorded.body.messages.map((m: any) => m.role),
    );
    // qwen-code sends the user's and the tools' content as arrays of text parts: joined into one text.
    const tool = sent.messages.findLast((m: any) => m.role === 'tool');
    assert.equal(typeof tool.content, 'string');
    assert.match(tool.content, key === 'qwenChat' ? /has been updated/ : /Edit applied|Hello world/);
    const user = sent.messages.find((m: any) => m.role === 'user');
    assert.match(user.content, /change 'Hello world' to 'Hello Switchyard'/);
  });
}

/** The items of a Responses stream, with OpenAI's framing checked on the way. */
function responseOf(events: any[]): any {
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
  assert.equal(events[0].type, 'response.created');
  const last = events.at(-1);
  assert.equal(last.type, 'response.completed', JSON.stringify(last).slice(0, 500));
  return last.response;
}

for (const [name, key, server, model] of [
  ['qwen-code (--auth-type openai-responses)', 'qwenResponses', () => qwen, 'switchyard/chat'],
  ['opencode (@ai-sdk/openai)', 'opencodeResponses', () => opencode, 'switchyard/opencode'],
] as const) {
  test(`${name}'s recorded /v1/responses requests: a function_call item in its schema, then the final text after function_call_output`, async () => {
    const recorded = AGENT_REQUESTS[key];
    assert.equal(recorded.body.store, false, 'both agents send store: false (the whole conversation every time)');
    const first = await replay('/v1/responses', recorded, { ...firstTurn(recorded.body, 'input'), model });
    assert.equal(first.status, 200, JSON.stringify(first.events[0]));
    const r1 = responseOf(first.events);
    const calls = r1.output.filter((o: any) => o.type === 'function_call');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'edit');
    assert.equal(JSON.parse(calls[0].arguments)[key === 'qwenResponses' ? 'file_path' : 'filePath'], FILE);
    const delta = first.events
      .filter((e) => e.type === 'response.function_call_arguments.delta')
      .map((e) => e.delta)
      .join('');
    assert.equal(delta, calls[0].arguments);

    const last = await replay('/v1/responses', recorded, { ...recorded.body, model });
    assert.equal(last.status, 200);
    const r2 = responseOf(last.events);
    const msg = r2.output.find((o: any) => o.type === 'message');
    assert.equal(msg.content[0].text, ANSWER.join(''));
    assert.ok(r2.usage.output_tokens > 0);

    const sent = server()
      .requests.filter((r) => r.path === '/v1/chat/completions')
      .at(-1)!.body;
    assert.deepEqual(
      sent.tools.map((t: any) => t.function.name),
      recorded.body.tools.map((t: any) => t.name),
    );
    assert.equal(sent.max_tokens, 32000, 'max_output_tokens');
    assert.equal(sent.messages[0].role, 'system');
    if (key === 'qwenResponses') {
      // instructions → the system message; qwen-code sends a thinking model's reasoning back as assistant messages.
      assert.equal(sent.messages[0].content, recorded.body.instructions);
      assert.equal(sent.parallel_tool_calls, true);
    } else {
      // opencode puts its system prompt in input as role "system" items, and assistant text as output_text parts.
      assert.equal(recorded.body.instructions, undefined);
      assert.match(sent.messages[0].content, /^You are opencode/);
      assert.ok(sent.messages.some((m: any) => m.role === 'assistant' && m.content === 'Let me look.'));
    }
    const calledThenAnswered = sent.messages
      .filter((m: any) => m.role === 'assistant' && m.tool_calls)
      .flatMap((m: any) => m.tool_calls.map((c: any) => c.function.name));
    assert.deepEqual(calledThenAnswered, key === 'qwenResponses' ? ['read_file', 'edit'] : ['read', 'edit']);
    assert.deepEqual(
      sent.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id),
      recorded.body.input.filter((i: any) => i.type === 'function_call_output').map((i: any) => i.call_id),
    );
  });
}

test("opencode's title request (no tools, system and user items in input) gets plain text", async () => {
  const recorded = AGENT_REQUESTS.opencodeTitle;
  const r = await replay('/v1/responses', recorded, { ...recorded.body, model: 'switchyard/opencode' });
  assert.equal(r.status, 200);
  const response = responseOf(r.events);
  assert.deepEqual(
    response.output.map((o: any) => o.type),
    ['message'],
  );
  const sent = opencode.requests.find((q) => q.path === '/v1/chat/completions')!.body;
  assert.equal(sent.tools, undefined);
  assert.deepEqual(
    sent.messages.map((m: any) => m.role),
    ['system', 'user', 'user'],
  );
});
