/**
 * The gateway under attack (issue 13, "The gateway" and "Non-streamed answers may fall back later"): what it refuses
 * it sheds without reading, it bounds the time of headers, bodies and stalled answers, it validates with own-property
 * checks, bad input never gives a 5xx or a stack trace, the route headers say what happened, the Host needs the port,
 * and a non-streamed answer whose model dies mid-answer comes from the next candidate. Driven with the real `openai`
 * client and raw sockets against the test servers behind the real router.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { parseConfig } from '../../src/core/config/config';
import { Switchyard } from '../../src/core/switchyard';
import { Gateway, type GatewayOptions } from '../../src/core/gateway/server';
import { digest, requestPath } from '../../src/core/gateway/http';
import type { RoutedChatEvent, RouteEvent } from '../../src/core/routing/router';
import { closedPort, scriptedBackend, startOllamaServer, startOpenAIServer, type FixtureServer } from '../fixtures';

const TOKEN = 'sy-gw-hardening-token-0123456789';
const MODEL = 'qwen2.5-coder:7b';
let box: FixtureServer;
let box2: FixtureServer;
let cloud: FixtureServer;
let refused: number;
let sy: Switchyard;
let gateway: Gateway;
const logs: string[] = [];
const gateways: Gateway[] = [];
const logger = {
  trace() {},
  debug() {},
  info: (m: string) => logs.push(m),
  warn: (m: string) => logs.push(m),
  error: (m: string) => logs.push(m),
};

before(async () => {
  box = await startOllamaServer({ backend: scriptedBackend({ tokens: ['One', ' from', ' box', '.'], dims: 8 }) });
  box2 = await startOllamaServer({ backend: scriptedBackend({ tokens: ['Two', ' from', ' box2', '.'], dims: 8 }) });
  cloud = await startOpenAIServer({ backend: scriptedBackend({ tokens: ['Cloud', '.'], dims: 8 }) });
  refused = await closedPort();
  const { config, problems } = parseConfig({
    'switchyard.providers': [
      { id: 'gone', kind: 'ollama', baseUrl: `http://127.0.0.1:${refused}` },
      { id: 'box', kind: 'ollama', baseUrl: box.url },
      { id: 'box2', kind: 'ollama', baseUrl: box2.url },
      { id: 'cloud', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1`, local: false },
      // The same OpenAI-compatible server as a local one: its streams are relayed.
      { id: 'lm', kind: 'openai-compatible', baseUrl: `${cloud.url}/v1` },
    ],
    'switchyard.tasks': {
      // The first candidate answers; a later cloud one is skipped by the policy: not a fallback.
      chat: [`box/${MODEL}`, 'cloud/gpt-4.1-mini'],
      // The first candidate is refused: a fallback.
      explain: [`gone/${MODEL}`, `box/${MODEL}`],
      // The first candidate is skipped by the policy: a fallback.
      edit: ['cloud/gpt-4.1-mini', `box/${MODEL}`],
      // Two local candidates: the first one dies mid-answer in the fallback tests.
      summarize: [`box/${MODEL}`, `box2/${MODEL}`],
      // Relayed streams.
      commitMessage: ['lm/gpt-4.1-mini'],
      embed: ['box/nomic-embed-text:latest', 'cloud/text-embedding-3-small'],
    },
    'switchyard.privacy': 'local-only',
  });
  assert.deepEqual(problems, []);
  sy = new Switchyard({
    config,
    secrets: { getApiKey: async () => undefined },
    privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
    logger,
  });
  gateway = await startGateway();
});
after(async () => {
  for (const g of gateways) await g.stop();
  await box.close();
  await box2.close();
  await cloud.close();
});
beforeEach(() => {
  box.reset();
  box2.reset();
  cloud.reset();
  logs.length = 0;
  sy.router.health.clear();
});

async function startGateway(extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const g = new Gateway({ source: sy, token: TOKEN, port: 0, maxBodyBytes: 64 * 1024, logger, ...extra });
  gateways.push(g);
  await g.start();
  return g;
}

function client(g = gateway): OpenAI {
  return new OpenAI({ baseURL: g.url, apiKey: TOKEN, maxRetries: 0 });
}

const hi = [{ role: 'user' as const, content: 'hi' }];

/** Sends raw bytes, reads until the server closes; the status line's code (0 when none came). */
async function raw(g: Gateway, bytes: string): Promise<{ status: number; text: string }> {
  const socket = connect(g.port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  socket.write(bytes);
  await once(socket, 'close');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return { status: m ? Number(m[1]) : 0, text };
}

/**
 * Writes a request's head, then an endless chunked body, as fast as the server takes it, until the server closes
 * the connection or `limit` bytes went out. Returns what it saw.
 */
async function endlessBody(g: Gateway, head: string, limit: number): Promise<{ response: string; written: number; closed: boolean }> {
  const socket: Socket = connect(g.port, '127.0.0.1');
  await once(socket, 'connect');
  let response = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (response += d));
  socket.on('error', () => undefined);
  const gone = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  }).then(() => {
    closed = true;
  });
  socket.write(head);
  const piece = Buffer.alloc(64 * 1024, 'x');
  const frame = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  let written = 0;
  while (!closed && written < limit && !socket.destroyed) {
    written += frame.length;
    if (!socket.write(frame)) await Promise.race([once(socket, 'drain').catch(() => undefined), gone]);
  }
  // The server's reset can destroy the socket (an EPIPE or ECONNRESET while writing) before its 'close' event has run
  // the handler above: a destroyed socket that this side never destroyed was closed by the server.
  const serverClosed = closed || socket.destroyed;
  if (serverClosed) await gone;
  else socket.destroy();
  return { response, written, closed: serverClosed };
}

test('an endless body after a 401 (no token) or on a GET is not read: the answer says Connection: close and the socket is closed', async () => {
  const limit = 256 * 1024 * 1024;
  const host = `Host: 127.0.0.1:${gateway.port}\r\n`;
  const unauthorized = await endlessBody(
    gateway,
    `POST /v1/chat/completions HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    limit,
  );
  assert.ok(unauthorized.closed, `the server kept reading: ${unauthorized.written} bytes went out and the connection stayed open`);
  assert.match(unauthorized.response, /^HTTP\/1\.1 401 /);
  assert.match(unauthorized.response, /\r\nconnection: close\r\n/i);
  assert.ok(unauthorized.written < limit / 8, `${unauthorized.written} bytes were taken before the close`);

  const get = await endlessBody(
    gateway,
    `GET /v1/models HTTP/1.1\r\n${host}Authorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    limit,
  );
  assert.ok(get.closed, `the server kept reading a GET's body: ${get.written} bytes`);
  assert.match(get.response, /^HTTP\/1\.1 200 /);
  assert.match(get.response, /\r\nconnection: close\r\n/i);
  assert.ok(get.written < limit / 8, `${get.written} bytes were taken before the close`);

  // A refused Host and a wrong method shed the same way.
  const foreign = await endlessBody(
    gateway,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    limit,
  );
  assert.ok(foreign.closed);
  assert.match(foreign.response, /^HTTP\/1\.1 403 /);
  const wrongMethod = await endlessBody(
    gateway,
    `PUT /v1/models HTTP/1.1\r\n${host}Authorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    limit,
  );
  assert.ok(wrongMethod.closed);
  assert.match(wrongMethod.response, /^HTTP\/1\.1 405 /);

  // Ordinary requests keep their connection.
  const models = await fetch(`${gateway.url}/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(models.status, 200);
  assert.notEqual(models.headers.get('connection'), 'close');
  await models.arrayBuffer();
});

test(
  'a stream whose upstream stalls after its first token ends with an OpenAI error event after the idle timeout, and the upstream is aborted',
  { timeout: 30_000 },
  async () => {
    const idle = await startGateway({ idleTimeoutMs: 300 });
    box.setBehaviour({ mode: 'stallAfterTokens', afterTokens: 1 }, 'POST /api/chat');
    const stream = await client(idle).chat.completions.create({ model: 'switchyard/explain', messages: hi, stream: true });
    let text = '';
    const failure = await (async () => {
      try {
        for await (const ch of stream) text += ch.choices[0]?.delta.content ?? '';
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.equal(text, 'One');
    assert.ok(failure instanceof OpenAI.APIError, `expected an APIError from the error event, got ${String(failure)}`);
    assert.match(failure.message, /sent nothing for 0\.3 s/);
    assert.equal((failure.error as { code?: string } | undefined)?.code, 'upstream_timeout');
    // The upstream request is canceled: the test server sees its client leave.
    while (box.aborted === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      logs.some((l) => /stalled for 0\.3 s mid-answer/.test(l)),
      logs.join('\n'),
    );

    // A relayed stream (OpenAI-compatible server, the server's own events piped through) is cut the same way.
    cloud.setBehaviour({ mode: 'stallAfterTokens', afterTokens: 1 }, 'POST /v1/chat/completions');
    const relayed = await client(idle).chat.completions.create({ model: 'switchyard/commitMessage', messages: hi, stream: true });
    let relayedText = '';
    const relayFailure = await (async () => {
      try {
        for await (const ch of relayed) relayedText += ch.choices[0]?.delta.content ?? '';
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.equal(relayedText, 'Cloud');
    assert.ok(relayFailure instanceof OpenAI.APIError, String(relayFailure));
    assert.equal((relayFailure.error as { code?: string } | undefined)?.code, 'upstream_timeout');
    while (cloud.aborted === 0) await new Promise((resolve) => setImmediate(resolve));

    // Non-streamed: an OpenAI error body (504).
    const e = await client(idle)
      .chat.completions.create({ model: 'switchyard/explain', messages: hi })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(e instanceof OpenAI.APIError, String(e));
    assert.equal(e.status, 504);
    assert.equal((e.error as { code?: string } | undefined)?.code, 'upstream_timeout');
  },
);

test('headers and bodies that arrive too slowly are answered 408 and the connection is closed', { timeout: 30_000 }, async () => {
  const slow = await startGateway({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
  // Headers that never finish.
  const headers = await raw(
    slow,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${slow.port}\r\nAuthorization: Bearer ${TOKEN}\r\n`,
  );
  assert.equal(headers.status, 408, headers.text);
  // A body that never finishes.
  const body = await raw(
    slow,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${slow.port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`,
  );
  assert.equal(body.status, 408, body.text);
  assert.match(body.text, /"code":"request_timeout"/);
  // The bound is on receiving the request: an answer that streams for longer than it is not cut.
  box.setBehaviour({ mode: 'slow', delayMs: 200 }, 'POST /api/chat');
  const stream = await client(slow).chat.completions.create({ model: 'switchyard/summarize', messages: hi, stream: true });
  let text = '';
  for await (const ch of stream) text += ch.choices[0]?.delta.content ?? '';
  assert.equal(text, 'One from box.');
  assert.ok(!logs.some((l) => /^\s+at /m.test(l)), logs.join('\n'));
});

test('roles that name Object.prototype members ("__proto__", "constructor", …) are refused with 400 and never reach the model server', async () => {
  for (const role of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    // Raw JSON: "__proto__" as an own key, as JSON.parse makes it.
    const res = await fetch(`${gateway.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: `{"model":"switchyard/chat","messages":[{"role":${JSON.stringify(role)},"content":"hi"}]}`,
    });
    assert.equal(res.status, 400, role);
    const body = (await res.json()) as { error: { param: string } };
    assert.equal(body.error.param, 'messages[0].role', role);
  }
  const e = await client()
    .chat.completions.create({ model: 'switchyard/chat', messages: [{ role: '__proto__' as 'user', content: 'hi' }] })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(box.counts['POST /api/chat'], 0);
});

test('malformed requests get a 4xx, never a 5xx, and never put a stack trace in the log', { timeout: 60_000 }, async () => {
  const port = gateway.port;
  const h = `Host: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n`;
  const post = (body: string) =>
    `POST /v1/chat/completions HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const cases: [string, string][] = [
    ['bad percent-encoding', `GET /v1/models/%ZZ HTTP/1.1\r\n${h}\r\n`],
    ['truncated percent-encoding', `GET /v1/models/switchyard%2 HTTP/1.1\r\n${h}\r\n`],
    ['a lone surrogate', `GET /v1/models/%ED%A0%80 HTTP/1.1\r\n${h}\r\n`],
    ['invalid UTF-8', `GET /v1/models/%C3%28 HTTP/1.1\r\n${h}\r\n`],
    ['an absolute URL with a bad port', `GET http://a:99999/v1/models HTTP/1.1\r\n${h}\r\n`],
    ['an absolute URL with a bad host', `GET http://[::1/v1/models HTTP/1.1\r\n${h}\r\n`],
    ['a path with dot segments', `GET /v1/models/../../etc/passwd HTTP/1.1\r\n${h}\r\n`],
    ['a doubled slash', `GET //v1/models HTTP/1.1\r\n${h}\r\n`],
    ['an asterisk target', `GET * HTTP/1.1\r\n${h}\r\n`],
    ['a long path', `GET /v1/models/${'a'.repeat(8000)} HTTP/1.1\r\n${h}\r\n`],
    ['an unknown method', `FROB /v1/models HTTP/1.1\r\n${h}\r\n`],
    ['a WebDAV method', `PROPFIND /v1/chat/completions HTTP/1.1\r\n${h}\r\n`],
    ['huge headers', `GET /v1/models HTTP/1.1\r\n${h}X-Big: ${'b'.repeat(100_000)}\r\n\r\n`],
    ['a bad Content-Length', `POST /v1/chat/completions HTTP/1.1\r\n${h}Content-Length: abc\r\n\r\n`],
    ['not HTTP', 'hello there\r\n\r\n'],
    ['bad JSON', post('{"model": "switchyard/chat", "messages": [')],
    ['JSON null', post('null')],
    ['a JSON array', post('[1, 2]')],
    ['a JSON string', post('"chat"')],
    ['deep nesting', post(`{"model":"switchyard/chat","messages":${'['.repeat(5000)}${']'.repeat(5000)}}`)],
    ['an object as content', post('{"model":"switchyard/chat","messages":[{"role":"user","content":{"a":1}}]}')],
    ['parts of odd types', post('{"model":"switchyard/chat","messages":[{"role":"user","content":[null,5,{"type":7}]}]}')],
    ['a prototype alias', post('{"model":"switchyard/__proto__","messages":[{"role":"user","content":"hi"}]}')],
    ['a constructor alias', post('{"model":"switchyard/constructor","messages":[{"role":"user","content":"hi"}]}')],
    ['a model that is not a string', post('{"model":{"toString":1},"messages":[{"role":"user","content":"hi"}]}')],
    ['a __proto__ body', post('{"__proto__":{"model":"switchyard/chat"},"messages":[{"role":"user","content":"hi"}]}')],
    [
      'bad embeddings input',
      `POST /v1/embeddings HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 47\r\n\r\n{"model":"switchyard/embed","input":[[1,2],{}]}`,
    ],
  ];
  for (const [what, bytes] of cases) {
    const r = await raw(gateway, bytes);
    // Lenient answers (odd content parts are dropped) are fine; a 5xx or no answer at all is not.
    assert.ok(r.status > 0 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  }
  const stacks = logs.filter((l) => /^\s+at /m.test(l));
  assert.deepEqual(stacks, [], 'a malformed request put a stack trace in the log');
  // The percent-encoding case is a 400 that names the URL.
  const zz = await raw(gateway, `GET /v1/models/%ZZ HTTP/1.1\r\n${h}\r\n`);
  assert.equal(zz.status, 400);
  assert.match(zz.text, /"code":"invalid_url"/);
});

async function routeOf(task: string, extra: { buffered?: boolean } = {}): Promise<RouteEvent[]> {
  const routes: RouteEvent[] = [];
  for await (const ev of sy.router.chat({ task, messages: hi, ...extra }) as AsyncIterable<RoutedChatEvent>)
    if (ev.type === 'route') routes.push(ev.route);
  return routes;
}

test('x-switchyard-fallback means an earlier candidate was skipped or failed: a later cloud candidate skipped by the policy does not count', async () => {
  // Through the gateway, with the openai client (headers of the raw response).
  const chat = await client().chat.completions.create({ model: 'switchyard/chat', messages: hi }).withResponse();
  assert.equal(chat.response.headers.get('x-switchyard-route'), `box/${MODEL}`);
  assert.equal(chat.response.headers.get('x-switchyard-fallback'), 'false');
  const streamed = await client().chat.completions.create({ model: 'switchyard/chat', messages: hi, stream: true }).withResponse();
  assert.equal(streamed.response.headers.get('x-switchyard-fallback'), 'false');
  for await (const _ of streamed.data) void _;
  const embed = await client().embeddings.create({ model: 'switchyard/embed', input: 'x' }).withResponse();
  assert.equal(embed.response.headers.get('x-switchyard-route'), 'box/nomic-embed-text:latest');
  assert.equal(embed.response.headers.get('x-switchyard-fallback'), 'false');

  const refusedFirst = await client().chat.completions.create({ model: 'switchyard/explain', messages: hi }).withResponse();
  assert.equal(refusedFirst.response.headers.get('x-switchyard-route'), `box/${MODEL}`);
  assert.equal(refusedFirst.response.headers.get('x-switchyard-fallback'), 'true');
  const skippedFirst = await client().chat.completions.create({ model: 'switchyard/edit', messages: hi }).withResponse();
  assert.equal(skippedFirst.response.headers.get('x-switchyard-fallback'), 'true');

  // The router directly: the skip is still recorded in the attempts.
  const [chatRoute] = await routeOf('chat');
  assert.equal(chatRoute!.fallback, false);
  assert.deepEqual(
    chatRoute!.attempts.map((a) => `${a.providerId}:${a.outcome}`),
    ['cloud:skipped', 'box:answered'],
  );
  const [editRoute] = await routeOf('edit');
  assert.equal(editRoute!.fallback, true);
  sy.router.health.clear();
  const [explainRoute] = await routeOf('explain');
  assert.equal(explainRoute!.fallback, true);
  const embedded = await sy.router.embed({ input: ['x'] });
  assert.equal(embedded.route.fallback, false);
});

test('a model whose name is not ASCII answers with its route header percent-encoded, not a 500', async () => {
  const named = await startOllamaServer({
    models: [{ name: 'modèle-\u{1F600}:7b' }],
    backend: scriptedBackend({ tokens: ['Oui', '.'], dims: 8 }),
  });
  try {
    const { config, problems } = parseConfig({
      'switchyard.providers': [{ id: 'box', kind: 'ollama', baseUrl: named.url }],
      'switchyard.tasks': { chat: ['box/modèle-\u{1F600}:7b'], embed: [] },
      'switchyard.privacy': 'local-only',
    });
    assert.deepEqual(problems, []);
    const other = new Switchyard({
      config,
      secrets: { getApiKey: async () => undefined },
      privacy: (c) => ({ mode: c.privacy, trusted: true, workspaceOptOut: false }),
      logger,
    });
    const g = await startGateway({ source: other });
    const c = await client(g).chat.completions.create({ model: 'switchyard/chat', messages: hi }).withResponse();
    assert.equal(c.data.choices[0]!.message.content, 'Oui.');
    assert.equal(c.data.model, 'box/modèle-\u{1F600}:7b');
    assert.equal(c.response.headers.get('x-switchyard-route'), 'box/mod%C3%A8le-%F0%9F%98%80:7b');
    const streamed = await client(g).chat.completions.create({ model: 'switchyard/chat', messages: hi, stream: true });
    let text = '';
    for await (const ch of streamed) text += ch.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Oui.');
    assert.ok(!logs.some((l) => /^\s+at /m.test(l)), logs.join('\n'));
  } finally {
    await named.close();
  }
});

test('the Host header must carry the gateway port: a Host without one is refused with 403', async () => {
  for (const host of ['localhost', '127.0.0.1', '[::1]', 'LOCALHOST']) {
    const r = await raw(gateway, `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 403, `Host: ${host}`);
    assert.match(r.text, /"code":"forbidden_host"/);
  }
  for (const host of [`localhost:${gateway.port}`, `127.0.0.1:${gateway.port}`, `[::1]:${gateway.port}`]) {
    const r = await raw(gateway, `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, `Host: ${host}`);
  }
});

test('a non-streamed answer whose model dies mid-answer comes whole from the next candidate; a streamed one keeps the rule (error, partial answer kept)', async () => {
  box.setBehaviour({ mode: 'failMidStream', afterTokens: 2 }, 'POST /api/chat');
  const c = await client().chat.completions.create({ model: 'switchyard/summarize', messages: hi }).withResponse();
  assert.equal(c.data.choices[0]!.message.content, 'Two from box2.');
  assert.equal(c.data.model, `box2/${MODEL}`);
  assert.equal(c.response.headers.get('x-switchyard-route'), `box2/${MODEL}`);
  assert.equal(c.response.headers.get('x-switchyard-fallback'), 'true');
  assert.equal(box.counts['POST /api/chat'], 1);
  assert.equal(box2.counts['POST /api/chat'], 1);
  assert.ok(
    logs.some((l) => /gateway chat: switchyard\/summarize → box2\/.* after box\/.* failed/.test(l)),
    logs.join('\n'),
  );

  // Streamed: the client has the first tokens already, so no other model may continue them.
  sy.router.health.clear();
  box.reset();
  box2.reset();
  box.setBehaviour({ mode: 'failMidStream', afterTokens: 2 }, 'POST /api/chat');
  const stream = await client().chat.completions.create({ model: 'switchyard/summarize', messages: hi, stream: true });
  let text = '';
  const failure = await (async () => {
    try {
      for await (const ch of stream) text += ch.choices[0]?.delta.content ?? '';
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.equal(text, 'One from');
  assert.ok(failure instanceof OpenAI.APIError, String(failure));
  assert.match(failure.message, /partial answer is kept/);
  assert.equal(box2.counts['POST /api/chat'], 0);

  // The router directly: with `buffered`, the failed attempt is recorded and the next candidate's route follows.
  sy.router.health.clear();
  box.reset();
  box.setBehaviour({ mode: 'failMidStream', afterTokens: 2 }, 'POST /api/chat');
  const routes = await routeOf('summarize', { buffered: true });
  assert.deepEqual(
    routes.map((r) => r.providerId),
    ['box', 'box2'],
  );
  assert.deepEqual(
    routes[1]!.attempts.map((a) => `${a.providerId}:${a.outcome}`),
    ['box:failed', 'box2:answered'],
  );
  assert.equal(routes[1]!.fallback, true);
});

test('a request target reads as the URL parser reads it, on the plain-path fast path and off it; the token digest is SHA-256', () => {
  const parsed = (t: string) => new URL(t, 'http://gateway.invalid').pathname.replace(/\/+$/, '') || '/';
  const targets = [
    '/v1/chat/completions',
    '/v1/chat/completions/',
    '/v1/models//',
    '/v1/models/srv%2Fgpt-4.1-mini',
    '/v1/models/qwen2.5-coder:7b',
    '/v1/./chat/completions',
    '/v1/x/../chat/completions',
    '/v1/chat/completions?stream=1',
    '/v1/chat/completions#frag',
    '/v1/mod\u00e8le',
    '/v1\\chat',
    '//evil.example/v1/models',
    '/',
    '/v1_beta/a-b',
  ];
  for (const t of targets) assert.equal(requestPath(t), parsed(t), t);
  assert.equal(requestPath(undefined), '/');
  const token = 'bench-gateway-token-0123456789';
  assert.deepEqual(digest(token), createHash('sha256').update(token).digest());
});
