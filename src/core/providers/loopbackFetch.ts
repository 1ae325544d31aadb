/**
 * fetch for servers on this machine, over node:http. Local model servers (Ollama, llama.cpp, LM Studio, vLLM) are
 * where latency matters most (every request is one, and the gateway puts a second hop in front of them), and Node's
 * built-in fetch (undici + web streams) costs about a millisecond more CPU per streamed answer than node:http with
 * a keep-alive agent (measured by bench/gateway.bench.ts, which prints CPU per request). Everything else — https,
 * other hosts, redirects — goes to the global fetch, so proxies, TLS and redirect rules stay exactly the platform's.
 *
 * The subset implemented is what the `openai` and `ollama` clients use: method, headers, a string or bytes body, an
 * AbortSignal; the answer is a standard Response whose body streams with backpressure. Failures look like fetch's:
 * a TypeError("fetch failed") whose cause is the socket error, or the signal's reason when aborted.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';

const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: Infinity, maxFreeSockets: 64, scheduling: 'lifo' });

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether a URL names a plain-http server on this machine (the requests this module answers). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && !url.username && !url.password;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function requestUrl(input: string | URL | Request): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

/** A body as node:http can send it, or undefined when this module does not handle that kind of body. */
function sendableBody(body: RequestInit['body']): string | Uint8Array | null | undefined {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return body.toString();
  return undefined; // streams, FormData, Blob: the global fetch knows them
}

function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(zlib.createGunzip());
  if (encoding === 'deflate') return res.pipe(zlib.createInflate());
  if (encoding === 'br') return res.pipe(zlib.createBrotliDecompress());
  return res;
}

/** A web ReadableStream over a Node stream: reads only as fast as the consumer does; cancel destroys the socket. */
function webStream(res: http.IncomingMessage, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  const source = decoded(res);
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const fail = (e: unknown) => {
          if (done) return;
          done = true;
          controller.error(e);
        };
        source.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        });
        source.once('end', () => {
          if (done) return;
          done = true;
          controller.close();
        });
        source.once('error', (e) => fail(signal?.aborted ? abortReason(signal) : new TypeError('terminated', { cause: e })));
        // A server that goes away mid-answer: fetch reports "terminated".
        res.once('close', () => {
          if (!res.complete)
            fail(
              signal?.aborted
                ? abortReason(signal)
                : new TypeError('terminated', { cause: new Error('the connection closed before the answer was complete') }),
            );
        });
      },
      pull() {
        source.resume();
      },
      cancel() {
        done = true;
        res.destroy();
      },
    },
    { highWaterMark: 1 },
  );
}

function responseHeaders(res: http.IncomingMessage, drop: ReadonlySet<string>): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!;
    if (!drop.has(name.toLowerCase())) headers.append(name, res.rawHeaders[i + 1]!);
  }
  return headers;
}

const NO_HEADERS: ReadonlySet<string> = new Set();
/** Once the body is decoded these no longer describe it (fetch drops them too). */
const ENCODING_HEADERS: ReadonlySet<string> = new Set(['content-encoding', 'content-length']);

export interface LoopbackRequestInit {
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
  signal?: AbortSignal;
}

/**
 * One request over node:http with the shared keep-alive agent; resolves with the answer's head (its body unread).
 * Fails like fetch: a TypeError("fetch failed") whose cause is the socket error, or the signal's reason when
 * aborted, also after the head arrived (the socket is destroyed, so the body fails with it).
 */
export function loopbackRequest(url: URL, init: LoopbackRequestInit): Promise<http.IncomingMessage> {
  const { method, headers, body, signal } = init;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    let settled = false;
    let req: http.ClientRequest;
    const onAbort = () => {
      req.destroy();
      if (!settled) {
        settled = true;
        reject(abortReason(signal!));
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const send = (retry: boolean) => {
      req = http.request(url, { method, headers, agent }, (res) => {
        settled = true;
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(res);
      });
      const sent = req;
      sent.once('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive socket that the server closed while it sat idle (servers drop them after a few seconds) fails
        // as soon as it is written to, before any answer: the request is sent once more, on a fresh socket. (Node's
        // documented pattern for request.reusedSocket; a fresh socket's failure is reported as it is.)
        if (retry && sent.reusedSocket && !signal?.aborted && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          send(false);
          return;
        }
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? abortReason(signal) : new TypeError('fetch failed', { cause: e }));
      });
      sent.end(body ?? undefined);
    };
    send(true);
  });
}

/** A Node stream of the answer's body, decompressed as its Content-Encoding says. */
export function decodedBody(res: http.IncomingMessage): Readable {
  return decoded(res);
}

/** fetch over node:http for loopback http URLs; every other request goes to `fallback` (the global fetch). */
export function loopbackFetch(fallback: typeof fetch = (input, init) => globalThis.fetch(input, init)): typeof fetch {
  return async (input, init) => {
    let url: URL;
    try {
      url = new URL(requestUrl(input));
    } catch {
      return fallback(input, init);
    }
    const body = sendableBody(init?.body);
    if (!isLoopbackHttp(url) || body === undefined || (typeof input === 'object' && !(input instanceof URL))) return fallback(input, init);
    const signal = init?.signal ?? undefined;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
    if (!('accept-encoding' in headers)) headers['accept-encoding'] = 'gzip, deflate, br';
    const method = (init?.method ?? 'GET').toUpperCase();
    const res = await loopbackRequest(url, { method, headers, body, signal });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location && init?.redirect !== 'manual') {
      // Redirects are rare from local servers; the platform's fetch applies the rules (method changes, limits).
      res.resume();
      return fallback(input, init);
    }
    const nullBody = method === 'HEAD' || status === 204 || status === 304;
    const encoded = res.headers['content-encoding'] !== undefined;
    if (nullBody) res.resume();
    return new Response(nullBody ? null : webStream(res, signal), {
      status,
      statusText: res.statusMessage ?? '',
      headers: responseHeaders(res, encoded ? ENCODING_HEADERS : NO_HEADERS),
    });
  };
}

/** The answer's headers as a fetch Headers object. */
export function headersOf(res: http.IncomingMessage): Headers {
  return responseHeaders(res, NO_HEADERS);
}
