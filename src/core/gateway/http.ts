/**
 * The gateway's HTTP plumbing: what a request's headers and target say (loopback Host, path, bearer token), reading a
 * bounded JSON body, and answering with JSON, an event stream's head, or a bare refusal on the socket.
 */
import { hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteEvent } from '../routing/router';
import { GatewayError } from './wire';

/** Host header names that only ever mean this machine. */
export function loopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  if (!m) return false;
  const name = m[1]!;
  // The port is required: HTTP clients always send it for a port other than 80, and this one never listens on 80.
  if (m[2] === undefined || Number(m[2]) !== port) return false;
  return name === '127.0.0.1' || name === 'localhost' || name === '[::1]';
}

/** A target that is only path segments of letters, digits, `_` and `-` (what clients send): its own path. */
const PLAIN_PATH = /^(?:\/[\w-]+)+\/*$/;

/** The request's path without trailing slashes; a target that is not a URL is the client's error. */
export function requestPath(target: string | undefined): string {
  // The usual target needs no URL parser (nothing to decode, resolve or drop): the hot path, on every request.
  if (target !== undefined && PLAIN_PATH.test(target)) return target.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(target ?? '/', 'http://gateway.invalid');
  } catch {
    throw new GatewayError(400, 'The request target is not a valid URL path.', 'invalid_request_error', 'invalid_url');
  }
  return url.pathname.replace(/\/+$/, '') || '/';
}

/** A percent-encoded path segment, decoded; bad encoding (`%ZZ`, a lone surrogate) is the client's error. */
export function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, 'The model id in the URL is not valid percent-encoding.', 'invalid_request_error', 'invalid_url');
  }
}

/**
 * A header value made of names a model server or a setting chose: bytes outside printable ASCII percent-encoded
 * (node throws on some, a model named "modèle" would have failed the answer with a 500).
 */
function headerValue(s: string): string {
  const hex = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return s.replace(/[^\x20-\x7e]+/g, (run) => [...Buffer.from(run, 'utf8')].map(hex).join(''));
}

/** A client-supplied name as it appears in an error message (bounded). */
export function shown(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** SHA-256 of a string (one call, no Hash object: this runs for every request's token). */
export function digest(s: string): Buffer {
  return hash('sha256', s, 'buffer');
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The headers that say who answered. */
export function routeHeaders(route: RouteEvent): Record<string, string> {
  return {
    'x-switchyard-route': headerValue(`${route.providerId}/${route.model}`),
    'x-switchyard-local': String(route.local),
    'x-switchyard-fallback': String(route.fallback),
  };
}

/** Starts an event stream (a streamed answer), its headers saying who answers. */
export function writeEventStreamHead(res: ServerResponse, route: RouteEvent): void {
  const head = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
  res.writeHead(200, { ...head, ...routeHeaders(route) });
}

/** A JSON answer (nothing when an answer already started or the client is gone). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  // An answer given before the body was read (a refusal, a GET with a body): close rather than read the rest, which
  // node would otherwise do to keep the connection (a client with no token could make it read for ever).
  const shed = !res.req.complete ? { connection: 'close' } : {};
  const length = String(bytes.length);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': length, ...headers, ...shed });
  res.end(bytes);
}

/** A controller aborted when the client goes away (closed socket, aborted stream): it cancels the upstream request. */
export function abortOnClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}

/** The request's body as JSON, refused beyond `maxBody` bytes. */
export function readJsonBody(req: IncomingMessage, res: ServerResponse, maxBody: number): Promise<unknown> {
  const tooLarge = () => {
    res.setHeader('connection', 'close');
    const message = `The request body is larger than the gateway's limit of ${maxBody} bytes.`;
    return new GatewayError(413, message, 'invalid_request_error', 'request_too_large');
  };
  const declared = Number(header(req, 'content-length'));
  if (Number.isFinite(declared) && declared > maxBody) return Promise.reject(tooLarge());
  // Listeners rather than `for await`: the body is usually one chunk, and this is on every request's path.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const incomplete = () =>
      new GatewayError(400, 'The client closed the connection before sending the whole body.', 'invalid_request_error', 'incomplete_body');
    req.on('data', onData);
    // "aborted" (the client went away, or took too long and was cut off): the client's doing, not a gateway failure.
    req.once('error', () => reject(incomplete()));
    req.once('close', () => {
      if (!req.complete) reject(incomplete());
    });
    req.once('end', () => {
      if (size > maxBody) return;
      try {
        resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')));
      } catch {
        reject(new GatewayError(400, 'The request body is not valid JSON.', 'invalid_request_error', 'invalid_json'));
      }
    });
  });
}

/**
 * Answers a request node's parser refused (malformed, headers too large, too slow) on its socket and closes it; never
 * logged as a failure of the gateway.
 */
export function refuseOnSocket(err: NodeJS.ErrnoException, socket: Duplex): void {
  // An answer already under way on this socket (node's own handler checks the same) cannot be followed by another.
  const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (!socket.writable || answering || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, text, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'The request did not arrive in time.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
        : [400, 'Bad Request', 'The request is not valid HTTP.'];
  const code = status === 408 ? 'request_timeout' : 'invalid_request';
  const body = JSON.stringify(new GatewayError(status, message, 'invalid_request_error', code).body());
  const head = `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8`;
  socket.end(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
}
