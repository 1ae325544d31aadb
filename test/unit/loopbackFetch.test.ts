import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isLoopbackHttp, loopbackFetch } from '../../src/core/providers/loopbackFetch';
import { closedPort } from '../fixtures';

let server: Server;
let base: string;
/** What the server saw, per path. */
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let closedEarly = 0;
const BIG = Buffer.alloc(32 * 1024 * 1024, 'switchyard ');
let bigSent = false;

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/echo': (req, res) => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
    res.end(JSON.stringify({ method: req.method, body: seen.at(-1)!.body, auth: req.headers.authorization ?? null }));
  },
  '/gzip': (_req, res) => {
    const body = gzipSync('compressed text');
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  },
  '/empty': (_req, res) => {
    res.writeHead(204);
    res.end();
  },
  '/redirect': (_req, res) => {
    res.writeHead(307, { location: '/echo' });
    res.end();
  },
  '/hang': () => {},
  '/drop': (req) => req.socket.destroy(),
  '/once-per-socket': (req, res) => {
    // Answers the first request on a connection; drops the connection on a later one, as a server does that closed
    // an idle kept-alive socket just as the client reused it.
    const socket = req.socket as typeof req.socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    if (socket.served > 1) {
      socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`answer ${seen.length}`);
  },
  '/trickle': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    const timer = setInterval(() => res.write('data: more\n\n'), 5);
    res.once('close', () => {
      clearInterval(timer);
      if (!res.writableFinished) closedEarly++;
    });
    void req;
  },
  '/die': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n', () => setTimeout(() => req.socket.destroy(), 20));
  },
  '/big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    bigSent = false;
    res.end(BIG, () => (bigSent = true));
  },
};

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      (routes[new URL(req.url!, 'http://x').pathname] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  seen.length = 0;
  closedEarly = 0;
});

/** A fallback that records what reached it and answers from the global fetch. */
function spyFallback() {
  const calls: string[] = [];
  const f: typeof fetch = (input, init) => {
    calls.push(String(input instanceof Request ? input.url : input));
    return globalThis.fetch(input, init);
  };
  return { calls, f };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('isLoopbackHttp: plain http on 127.0.0.1, localhost and [::1] only', () => {
  for (const u of ['http://127.0.0.1:11434/api', 'http://localhost:8080/v1', 'http://[::1]:1234/'])
    assert.equal(isLoopbackHttp(new URL(u)), true, u);
  for (const u of [
    'https://127.0.0.1/v1',
    'http://192.168.1.5:11434',
    'http://api.openai.com/v1',
    'http://user:pw@127.0.0.1/',
    'http://127.0.0.2/',
    'http://localhost.example.com/',
  ])
    assert.equal(isLoopbackHttp(new URL(u)), false, u);
});

test('a loopback request goes over node:http: method, headers and body arrive; status, headers and body come back', async () => {
  const spy = spyFallback();
  const f = loopbackFetch(spy.f);
  const res = await f(`${base}/echo`, {
    method: 'post',
    headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }),
    body: '{"q":"ünï"}',
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('x-multi'), 'a, b');
  assert.deepEqual(await res.json(), { method: 'POST', body: '{"q":"ünï"}', auth: 'Bearer k' });
  assert.deepEqual(spy.calls, [], 'the fallback was not used');
  // Bytes bodies too.
  const bytes = await f(`${base}/echo`, { method: 'POST', body: new TextEncoder().encode('raw bytes') });
  assert.equal(((await bytes.json()) as { body: string }).body, 'raw bytes');
});

test("other hosts, https and streamed bodies go to the fallback, as do redirects (whose rules stay the platform fetch's)", async () => {
  const spy = spyFallback();
  const calls: string[] = [];
  const f = loopbackFetch((input, init) => {
    calls.push(String(input));
    return input.toString().startsWith(base) ? spy.f(input, init) : Promise.resolve(new Response('from fallback'));
  });
  assert.equal(await (await f('http://192.0.2.1:11434/api/tags')).text(), 'from fallback');
  assert.equal(await (await f('https://127.0.0.1:1/v1/models')).text(), 'from fallback');
  const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('x')), c.close()) });
  await (await f(`${base}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit)).text();
  const redirected = await f(`${base}/redirect`, { method: 'POST', body: 'again' });
  assert.equal(redirected.status, 201, 'the fallback followed the 307');
  assert.equal(((await redirected.json()) as { body: string }).body, 'again');
  assert.deepEqual(calls, ['http://192.0.2.1:11434/api/tags', 'https://127.0.0.1:1/v1/models', `${base}/echo`, `${base}/redirect`]);
});

test('gzip bodies are decoded (and content-encoding dropped); 204 has a null body', async () => {
  const f = loopbackFetch();
  const res = await f(`${base}/gzip`);
  assert.equal(await res.text(), 'compressed text');
  assert.equal(res.headers.get('content-encoding'), null);
  const empty = await f(`${base}/empty`, { method: 'DELETE' });
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
});

test('a refused connection rejects like fetch: TypeError("fetch failed") with the socket error as cause', async () => {
  const port = await closedPort();
  await assert.rejects(loopbackFetch()(`http://127.0.0.1:${port}/v1/models`), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal(e.message, 'fetch failed');
    assert.equal((e.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    return true;
  });
});

test("aborting before the answer rejects with the signal's reason, and an already-aborted signal sends nothing", async () => {
  const f = loopbackFetch();
  const ac = new AbortController();
  const pending = f(`${base}/hang`, { signal: ac.signal });
  await until(() => seen.length === 1);
  ac.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  const reason = new Error('my reason');
  const ac2 = new AbortController();
  const p2 = f(`${base}/hang`, { signal: ac2.signal });
  await until(() => seen.length === 2);
  ac2.abort(reason);
  await assert.rejects(p2, (e) => e === reason);
  await assert.rejects(f(`${base}/echo`, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(seen.length, 2);
});

test('aborting mid-body errors the stream with the reason and closes the connection (the server sees it)', async () => {
  const ac = new AbortController();
  const res = await loopbackFetch()(`${base}/trickle`, { signal: ac.signal });
  const reader = res.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /data: 1/);
  ac.abort();
  await assert.rejects(
    async () => {
      for (;;) if ((await reader.read()).done) break;
    },
    { name: 'AbortError' },
  );
  await until(() => closedEarly === 1);
});

test('cancelling the body (a consumer that stops reading) closes the connection', async () => {
  const res = await loopbackFetch()(`${base}/trickle`);
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  await until(() => closedEarly === 1);
});

test('a server that dies mid-body errors the stream with TypeError("terminated"), as fetch does', async () => {
  const res = await loopbackFetch()(`${base}/die`);
  await assert.rejects(res.text(), (e: unknown) => e instanceof TypeError && e.message === 'terminated');
});

test('a large body arrives intact through a slow reader (backpressure pauses the socket instead of buffering it all)', async () => {
  const res = await loopbackFetch()(`${base}/big`);
  // Nobody reads for a while: the socket is paused, so the server cannot finish sending 32 MB.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bigSent, false, 'the whole body was pulled in although nothing read it');
  const reader = res.body!.getReader();
  const hash = createHash('sha256');
  let n = 0;
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    n += value.length;
    if (++reads % 16 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(n, BIG.length);
  assert.equal(bigSent, true);
  assert.equal(hash.digest('hex'), createHash('sha256').update(BIG).digest('hex'));
});

test('a kept-alive socket the server dropped is retried once on a fresh one; a fresh socket failing is reported', async () => {
  const f = loopbackFetch();
  assert.equal(await (await f(`${base}/once-per-socket`, { method: 'POST', body: 'one' })).text(), 'answer 1');
  // The next request reuses the socket, which the server drops on sight: a second attempt on a new socket answers.
  assert.equal(await (await f(`${base}/once-per-socket`, { method: 'POST', body: 'two' })).text(), 'answer 3');
  assert.deepEqual(
    seen.map((r) => r.body),
    ['one', 'two', 'two'],
  );
  // A server that drops every connection: one more try at most, then fetch's error.
  seen.length = 0;
  await assert.rejects(
    f(`${base}/drop`, { method: 'POST', body: 'x' }),
    (e: unknown) => e instanceof TypeError && e.message === 'fetch failed',
  );
  assert.equal(seen.length, 2, 'the reused socket, then one fresh one');
});
