/**
 * Opening a relayed answer: the streaming chat request sent (node:http to this machine, fetch elsewhere), and the
 * server's answer returned as an SseRelay over its events, or as the refusal it sent instead.
 */
import { Readable } from 'node:stream';
import { decodedBody, headersOf, isLoopbackHttp, loopbackRequest } from './loopbackFetch';
import { SseRelay, type SseRelayOptions } from './sseRelay';

export interface RelayRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** A fetch the provider was given (tests, proxies); absent: node:http for this machine, the global fetch otherwise. */
  fetch?: typeof fetch;
}

/** A server's refusal before any answer: status, headers and body text, for the provider to raise as its client would. */
export interface RelayRefusal {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * Sends a streaming chat request and returns the relay over its answer, or the refusal when the status is not 2xx.
 * Fails like fetch (TypeError "fetch failed" with the socket error as cause; the signal's reason when aborted).
 */
export async function openRelay(request: RelayRequest, options: SseRelayOptions): Promise<SseRelay | RelayRefusal> {
  const { url, headers, body, signal } = request;
  if (!request.fetch && isLoopbackHttp(url)) {
    const res = await loopbackRequest(url, {
      method: 'POST',
      headers: { 'accept-encoding': 'gzip, deflate, br', ...headers },
      body,
      signal,
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) return { status, headers: headersOf(res), text: await readText(decodedBody(res)) };
    const relay = new SseRelay(decodedBody(res), options);
    // A server that goes away mid-answer, or our own abort (which destroys the socket).
    res.once('close', () => {
      if (res.complete) return;
      const closed = () => new TypeError('terminated', { cause: new Error('the connection closed before the answer was complete') });
      relay.fail(signal.aborted ? (signal.reason ?? new DOMException('aborted', 'AbortError')) : closed());
    });
    return relay;
  }
  const response = await (request.fetch ?? globalThis.fetch)(url, { method: 'POST', headers, body, signal });
  if (!response.ok) {
    return { status: response.status, headers: response.headers, text: await response.text().catch((e: unknown) => String(e)) };
  }
  if (!response.body) return { status: 502, headers: response.headers, text: 'the server answered without a body' };
  return new SseRelay(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), options);
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    // An error page is read up to 64 KiB: enough for any message, bounded for a server that streams forever.
    if (size < 65_536) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
