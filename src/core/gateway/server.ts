/**
 * The gateway: an OpenAI-compatible HTTP server on 127.0.0.1 whose model names are Switchyard's tasks and aliases
 * ("switchyard/chat", "switchyard/embed", "switchyard/<alias>") plus the real models the tasks route to. Each
 * request is resolved through the router at request time, so tools pointed here follow the user's settings
 * (fallback, privacy) without reconfiguration.
 *
 * Security: a bearer token on every request; a Host that is not a loopback name is refused (DNS rebinding), as is
 * any request carrying an Origin (a web page: browser CSRF) and every CORS preflight; bodies are size-limited; a
 * client that disconnects aborts the upstream request. Logs name the substitution, never prompt bodies or keys.
 *
 * What it refuses it sheds: an answer given before the request's body was read (a refusal, a GET) closes the
 * connection instead of reading the rest. Headers and bodies must arrive within a bound, and a stream whose upstream
 * goes quiet after its first token is ended with an error after the idle timeout.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CHAT_TASKS, TASKS, isTaskName, type SwitchyardConfig, type TaskName } from '../config/config';
import { isProviderError, refusedRequest } from '../errors';
import { redact, silentLogger, type Logger } from '../host';
import { RouteError, resolveTaskName, type RouteEvent, type Router } from '../routing/router';
import { describeAttempts, describeCandidate } from '../describe';
import { GatewayError, floatsToBase64, parseChatRequest, parseEmbeddingsRequest, shorten, statusForKind } from './wire';
import { ResponsesEndpoint } from './responses';
import { completions } from './completions';

/** What the gateway reads at request time (a Switchyard satisfies it). */
export interface GatewaySource {
  readonly router: Router;
  readonly config: SwitchyardConfig;
}

export interface GatewayOptions {
  source: GatewaySource;
  /** Required on every request as `Authorization: Bearer <token>`. */
  token: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest request body accepted, in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Longest wait for the next token once an answer started (default switchyard.gateway.idleTimeoutSeconds; 0: none). */
  idleTimeoutMs?: number;
  /** Longest wait for a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Longest wait for a whole request, headers and body (default 30 s). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const HOST = '127.0.0.1';

/** Host header names that only ever mean this machine. */
function loopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  if (!m) return false;
  const name = m[1]!;
  // The port is required: HTTP clients always send it for a port other than 80, and this one never listens on 80.
  if (m[2] === undefined || Number(m[2]) !== port) return false;
  return name === '127.0.0.1' || name === 'localhost' || name === '[::1]';
}

/** The request's path without trailing slashes; a target that is not a URL is the client's error. */
function requestPath(target: string | undefined): string {
  let url: URL;
  try {
    url = new URL(target ?? '/', 'http://gateway.invalid');
  } catch {
    throw new GatewayError(400, 'The request target is not a valid URL path.', 'invalid_request_error', 'invalid_url');
  }
  return url.pathname.replace(/\/+$/, '') || '/';
}

/** A percent-encoded path segment, decoded; bad encoding (`%ZZ`, a lone surrogate) is the client's error. */
function decodePath(segment: string): string {
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
  return s.replace(/[^\x20-\x7e]+/g, (run) => [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** A client-supplied name as it appears in an error message (bounded). */
function shown(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class Gateway {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly tokenDigest: Buffer;
  private readonly logger: Logger;
  private readonly maxBody: number;
  private boundPort = 0;
  /** Requests being answered now (for tests and the status bar). */
  active = 0;

  constructor(private readonly options: GatewayOptions) {
    if (!options.token || options.token.length < 8) throw new Error('The gateway needs a token of at least 8 characters.');
    this.tokenDigest = digest(options.token);
    this.logger = options.logger ?? silentLogger;
    this.maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The base URL clients use (OpenAI clients take it as baseURL). */
  get url(): string {
    return `http://${HOST}:${this.boundPort}/v1`;
  }

  get listening(): boolean {
    return this.server?.listening === true;
  }

  async start(): Promise<string> {
    if (this.server) return this.url;
    const headersTimeout = this.options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    const requestTimeout = Math.max(headersTimeout, this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    const options = {
      headersTimeout,
      requestTimeout,
      // How often node checks those two (its default, 30 s, would let a slow client hold a socket that much longer).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
    };
    const server = createServer(options, (req, res) => {
      this.active++;
      res.once('close', () => this.active--);
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // Requests node's parser refuses (malformed, headers too large, too slow): answered and closed here, never logged
    // as failures of the gateway.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
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
      const body = JSON.stringify(new GatewayError(status, message, 'invalid_request_error', status === 408 ? 'request_timeout' : 'invalid_request').body());
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'EADDRINUSE'
            ? new Error(`Port ${this.options.port} on ${HOST} is in use: choose another switchyard.gateway.port (0 picks a free one).`)
            : e,
        );
      });
      server.listen(this.options.port, HOST, () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.logger.info(`gateway: serving ${this.url}`);
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    this.logger.info('gateway: stopped');
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    // An answer given before the body was read (a refusal, a GET with a body): close rather than read the rest, which
    // node would otherwise do to keep the connection (a client with no token could make it read for ever).
    const shed = !res.req.complete ? { connection: 'close' } : {};
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes.length), ...headers, ...shed });
    res.end(bytes);
  }

  private fail(res: ServerResponse, e: unknown): void {
    try {
      this.answerFailure(res, e);
    } catch (second) {
      // Answering failed too (the socket is gone): nothing more to tell this client.
      this.logger.debug(`gateway: could not answer a failed request: ${redact(String(second instanceof Error ? second.message : second))}`);
      res.destroy();
    }
  }

  private answerFailure(res: ServerResponse, e: unknown): void {
    const err = this.toGatewayError(e);
    if (err.status >= 500 && !(e instanceof GatewayError) && !isProviderError(e)) this.logger.error(`gateway: ${redact(String(e instanceof Error ? (e.stack ?? e.message) : e))}`);
    if (res.headersSent) {
      // Mid-stream: OpenAI clients raise an APIError for an SSE event carrying `error`.
      if (!res.destroyed && !res.writableEnded) res.end(`data: ${JSON.stringify(err.body())}\n\n`);
      return;
    }
    // Retrying is pointless after the router's own fallbacks, except when rate limited.
    this.send(res, err.status, err.body(), { 'x-should-retry': err.status === 429 ? 'true' : 'false' });
  }

  private toGatewayError(e: unknown): GatewayError {
    if (e instanceof GatewayError) return e;
    if (isProviderError(e)) {
      // A model server that refused the request itself was refusing what the client sent: pass that on as the
      // client's error, not as a failure of the gateway.
      if (refusedRequest(e)) {
        return new GatewayError(400, redact(e.message), 'invalid_request_error', 'upstream_rejected_request');
      }
      // Nothing was tried and a model was passed over for lacking tool calling: the request asks what the route cannot
      // give (not a passing outage), and the client should hear it as its error, not retry.
      if (e instanceof RouteError && e.attempts.some((a) => a.missing === 'images') && e.attempts.every((a) => a.outcome === 'skipped')) {
        return new GatewayError(400, `${redact(e.message)} Send the request without images, or add a model with vision to the task.`, 'invalid_request_error', 'image_input_not_supported', 'messages');
      }
      if (e instanceof RouteError && e.attempts.some((a) => a.missing === 'tools') && e.attempts.every((a) => a.outcome === 'skipped')) {
        return new GatewayError(400, `${redact(e.message)} Remove 'tools', or add a model that calls tools to the task.`, 'invalid_request_error', 'tools_not_supported', 'tools');
      }
      const s = statusForKind(e.kind);
      return new GatewayError(s.status, redact(e.message), s.type, s.code);
    }
    return new GatewayError(500, 'The gateway failed while answering; see the Switchyard log.', 'server_error', 'internal_error');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends Host: evil.example.
    if (!loopbackHost(header(req, 'host'), this.boundPort)) {
      this.logger.warn(`gateway: refused a request for Host "${redact(String(header(req, 'host') ?? '')).slice(0, 100)}" (not this machine)`);
      throw new GatewayError(403, 'Host not allowed: the gateway answers only to 127.0.0.1, localhost or [::1].', 'permission_error', 'forbidden_host');
    }
    // Browser CSRF: a web page's fetch carries an Origin; tools and SDKs do not.
    const origin = header(req, 'origin');
    if (origin !== undefined || req.method === 'OPTIONS') {
      this.logger.warn(`gateway: refused a browser request from Origin "${String(origin ?? '(preflight)').slice(0, 100)}"`);
      throw new GatewayError(403, 'Browser requests are not allowed: the gateway serves local tools, not web pages.', 'permission_error', 'forbidden_origin');
    }
    if (!this.authorized(header(req, 'authorization'))) {
      throw new GatewayError(401, 'Missing or wrong gateway token: send "Authorization: Bearer <token>" (Switchyard: Copy Gateway URL and Token, or the --token given to `switchyard serve`).', 'invalid_request_error', 'invalid_api_key');
    }
    const path = requestPath(req.url);
    const method = req.method ?? 'GET';
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (method !== 'GET') throw new GatewayError(405, `${method} is not allowed on ${shown(path)}.`, 'invalid_request_error', 'method_not_allowed');
      // A GET's body is never read: an answer before it is complete closes the connection (see send).
      return path === '/v1/models' ? this.models(res) : this.model(res, decodePath(path.slice('/v1/models/'.length)));
    }
    if (path === '/v1/responses' || path.startsWith('/v1/responses/')) return this.responsesApi().handle(req, res, path, method);
    if (path === '/v1/chat/completions' || path === '/v1/embeddings' || path === '/v1/completions') {
      if (method !== 'POST') throw new GatewayError(405, `${method} is not allowed on ${shown(path)}; use POST.`, 'invalid_request_error', 'method_not_allowed');
      const controller = new AbortController();
      // A client that goes away (closed socket, aborted stream) cancels the upstream request.
      res.once('close', () => {
        if (!res.writableFinished) controller.abort();
      });
      const body = await this.readJson(req, res);
      if (path === '/v1/chat/completions') return this.chat(res, body, controller);
      if (path === '/v1/completions') return completions({ source: this.options.source, logger: this.logger, send: (r, s, b, h) => this.send(r, s, b, h), routeHeaders: (r) => this.routeHeaders(r) }, res, body, controller.signal);
      return this.embeddings(res, body, controller.signal);
    }
    throw new GatewayError(404, `Invalid URL (${shown(method)} ${shown(path)}): the gateway serves GET /v1/models, POST /v1/chat/completions, POST /v1/responses, POST /v1/completions and POST /v1/embeddings.`, 'invalid_request_error', 'not_found');
  }

  /** The Responses API (responses.ts), answering through this server's parts. */
  private responses: ResponsesEndpoint | undefined;
  private responsesApi(): ResponsesEndpoint {
    return (this.responses ??= new ResponsesEndpoint({
      source: this.options.source,
      logger: this.logger,
      resolve: (model) => this.resolve(model, 'chat'),
      readJson: (req, res) => this.readJson(req, res),
      send: (res, status, body, headers) => this.send(res, status, body, headers),
      routeHeaders: (route) => this.routeHeaders(route),
      logRoute: (endpoint, route) => this.logRoute(endpoint, route),
      toGatewayError: (e) => this.toGatewayError(e),
      idleTimeoutMs: () => this.idleTimeoutMs(),
    }));
  }

  private authorized(auth: string | undefined): boolean {
    const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    return m !== null && timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  private readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const tooLarge = () => {
      res.setHeader('connection', 'close');
      return new GatewayError(413, `The request body is larger than the gateway's limit of ${this.maxBody} bytes.`, 'invalid_request_error', 'request_too_large');
    };
    const declared = Number(header(req, 'content-length'));
    if (Number.isFinite(declared) && declared > this.maxBody) return Promise.reject(tooLarge());
    // Listeners rather than `for await`: the body is usually one chunk, and this is on every request's path.
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBody) {
          req.off('data', onData);
          req.resume();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      const incomplete = () => new GatewayError(400, 'The client closed the connection before sending the whole body.', 'invalid_request_error', 'incomplete_body');
      req.on('data', onData);
      // "aborted" (the client went away, or took too long and was cut off): the client's doing, not a gateway failure.
      req.once('error', () => reject(incomplete()));
      req.once('close', () => {
        if (!req.complete) reject(incomplete());
      });
      req.once('end', () => {
        if (size > this.maxBody) return;
        try {
          resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')));
        } catch {
          reject(new GatewayError(400, 'The request body is not valid JSON.', 'invalid_request_error', 'invalid_json'));
        }
      });
    });
  }

  /** Virtual names, then the real models the tasks can route to now. */
  private async modelIds(): Promise<{ id: string; owned_by: string; task?: string }[]> {
    const config = this.options.source.config;
    const out: { id: string; owned_by: string; task?: string }[] = [];
    for (const t of TASKS) out.push({ id: `switchyard/${t}`, owned_by: 'switchyard', task: t });
    for (const [alias, target] of Object.entries(config.aliases)) out.push({ id: `switchyard/${alias}`, owned_by: 'switchyard', task: target });
    const seen = new Set(out.map((m) => m.id));
    for (const t of TASKS) {
      for (const c of await this.routable(t)) {
        const id = `${c.providerId}/${c.model}`;
        if (!seen.has(id)) {
          seen.add(id);
          out.push({ id, owned_by: c.providerId });
        }
      }
    }
    return out;
  }

  /** A task's candidates the privacy policy allows (health can change by the time of a request). */
  private async routable(task: TaskName): Promise<{ providerId: string; model: string }[]> {
    try {
      const plan = await this.options.source.router.plan(task);
      const list = plan.candidate ? [plan.candidate] : [];
      for (const s of plan.skipped) if (s.kind !== 'policy' && s.kind !== 'config' && s.model) list.push(s);
      return list;
    } catch {
      return [];
    }
  }

  private async models(res: ServerResponse): Promise<void> {
    const created = Math.floor(Date.now() / 1000);
    const data = (await this.modelIds()).map((m) => ({ id: m.id, object: 'model', created, owned_by: m.owned_by }));
    this.send(res, 200, { object: 'list', data });
  }

  private async model(res: ServerResponse, id: string): Promise<void> {
    const found = (await this.modelIds()).find((m) => m.id === id);
    if (!found) throw this.unknownModel(id);
    this.send(res, 200, { id, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: found.owned_by });
  }

  private unknownModel(requested: string): GatewayError {
    const config = this.options.source.config;
    const names = [...TASKS, ...Object.keys(config.aliases)].map((n) => `switchyard/${n}`).join(', ');
    const what = requested.startsWith('switchyard/') ? `"${requested}" is not a Switchyard task or a configured alias` : `"${requested}" is not a model Switchyard routes to`;
    return new GatewayError(400, `${what}. Use one of ${names}, add the alias to switchyard.aliases, or list models with GET /v1/models.`, 'invalid_request_error', 'model_not_found', 'model');
  }

  /**
   * The task (and, for a real model name, the one candidate) a requested name resolves to, read from the current
   * settings, so a changed alias applies to the next request.
   */
  private async resolve(requested: string, kind: 'chat' | 'embed'): Promise<{ task: TaskName; only?: string }> {
    const config = this.options.source.config;
    const task = resolveTaskName(requested, config.aliases);
    if (task) {
      if (kind === 'chat' && task === 'complete') {
        throw new GatewayError(400, `"${requested}" is the completion task; it fills in code through POST /v1/completions, not chat.`, 'invalid_request_error', 'model_not_found', 'model');
      }
      if ((kind === 'embed') !== (task === 'embed')) {
        throw new GatewayError(400, kind === 'embed' ? `"${requested}" is a chat task; embeddings need switchyard/embed or an alias of it.` : `"${requested}" is the embedding task; chat needs switchyard/chat or another chat task.`, 'invalid_request_error', 'model_not_found', 'model');
      }
      return { task };
    }
    if (!requested.startsWith('switchyard/') && !isTaskName(requested) && requested.includes('/')) {
      for (const t of kind === 'embed' ? (['embed'] as TaskName[]) : CHAT_TASKS) {
        if ((await this.routable(t)).some((c) => `${c.providerId}/${c.model}` === requested)) return { task: t, only: requested };
      }
    }
    throw this.unknownModel(requested);
  }

  private logRoute(endpoint: string, route: RouteEvent): void {
    const fallback = route.fallback ? ` after ${describeAttempts(route.attempts.filter((a) => a.outcome !== 'answered'))}` : '';
    this.logger.info(`gateway ${endpoint}: ${route.requested} → ${describeCandidate(route, `task ${route.task}`)}${fallback}`);
  }

  private routeHeaders(route: RouteEvent): Record<string, string> {
    return {
      'x-switchyard-route': headerValue(`${route.providerId}/${route.model}`),
      'x-switchyard-local': String(route.local),
      'x-switchyard-fallback': String(route.fallback),
    };
  }

  /** The idle timeout in force now (the setting is read per request, so a change applies to the next one). */
  private idleTimeoutMs(): number {
    return this.options.idleTimeoutMs ?? (this.options.source.config.gateway.idleTimeoutSeconds ?? 60) * 1000;
  }

  private async chat(res: ServerResponse, body: unknown, controller: AbortController): Promise<void> {
    const signal = controller.signal;
    const request = parseChatRequest(body);
    const { task, only } = await this.resolve(request.model, 'chat');
    const id = `chatcmpl-sy${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    const created = Math.floor(Date.now() / 1000);
    let route: RouteEvent | undefined;
    let model = request.model;
    let text = '';
    let reasoning = '';
    /** Tool calls by index (non-streamed answers), with their arguments' pieces joined. */
    let calls: { id: string; name: string; arguments: string }[] = [];
    const legacy = request.legacyFunctions === true;
    const events = this.options.source.router.chat({
      task: only ? task : request.model,
      only,
      messages: request.messages,
      signal,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      sampling: request.sampling,
      // Streams from OpenAI-compatible servers are relayed event by event (the hot path: no per-token parsing), tool
      // calls too (normalised by the relay); the legacy functions API streams `function_call`, which only framing gives.
      relay: request.stream && !legacy && this.options.source.config.gateway.relay ? { includeUsage: request.includeUsage } : undefined,
      // A non-streamed answer reaches the client only when complete: a candidate failing mid-answer can be replaced.
      buffered: !request.stream,
      tools: request.tools,
      toolChoice: request.toolChoice,
      parallelToolCalls: request.parallelToolCalls,
      responseFormat: request.responseFormat,
    });
    // Once an answer started, an upstream that goes quiet for the idle timeout ends the request with an error (the
    // router's first-token timeout covers the time before). Paused while the client is not reading (backpressure).
    const idleMs = this.idleTimeoutMs();
    let idle: ReturnType<typeof setTimeout> | undefined;
    let stalled: GatewayError | undefined;
    const onIdle = () => {
      const seconds = Math.round(idleMs / 100) / 10;
      stalled = new GatewayError(504, `${model} sent nothing for ${seconds} s in the middle of its answer (switchyard.gateway.idleTimeoutSeconds): the gateway ended the request.`, 'server_error', 'upstream_timeout');
      this.logger.warn(`gateway chat: ${request.model} → ${model} stalled for ${seconds} s mid-answer; ended the request`);
      this.fail(res, stalled);
      controller.abort(stalled);
    };
    const touch = () => {
      if (idleMs <= 0 || stalled) return;
      clearTimeout(idle);
      idle = setTimeout(onIdle, idleMs);
    };
    const pause = () => clearTimeout(idle);
    res.once('close', pause);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...(request.includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    // Text and reasoning chunks differ only in their text: the rest of the frame is built once per answer (the hot
    // path; a thinking model streams as much reasoning as text).
    let textFrame = ['', ''];
    let reasoningFrame = ['', ''];
    let opened = false;
    let relayed = false;
    /** A chunk whose delta is `{ [key]: "" }`, cut where the text goes (every string in it is JSON-escaped, so the empty value occurs once). */
    const frameOf = (key: string): string[] => {
      const frame = chunk([{ index: 0, delta: { [key]: '' }, logprobs: null, finish_reason: null }]);
      const at = frame.indexOf(`"${key}":""`) + key.length + 3;
      return [frame.slice(0, at), frame.slice(at + 2)];
    };
    /** The first chunk of a re-framed stream (the assistant's role), and the frames of its text and reasoning chunks. */
    const open = () => {
      if (opened) return;
      opened = true;
      res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
      textFrame = frameOf('content');
      reasoningFrame = frameOf('reasoning_content');
    };
    try {
      for await (const ev of events) {
        if (stalled) break;
        touch();
        if (ev.type === 'route') {
          route = ev.route;
          model = `${route.providerId}/${route.model}`;
          this.logRoute('chat', route);
          if (request.stream) res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...this.routeHeaders(route) });
          else {
            // Buffered: a later route event is the next candidate, after the one before failed mid-answer.
            text = '';
            reasoning = '';
            calls = [];
          }
        } else if (ev.type === 'text') {
          if (request.stream) {
            open();
            res.write(textFrame[0] + JSON.stringify(ev.text) + textFrame[1]);
          } else text += ev.text;
        } else if (ev.type === 'reasoning') {
          // A thinking model's reasoning, under the name llama.cpp, vLLM and DeepSeek give it (OpenAI's API has none).
          if (request.stream) {
            open();
            res.write(reasoningFrame[0] + JSON.stringify(ev.text) + reasoningFrame[1]);
          } else reasoning += ev.text;
        } else if (ev.type === 'toolCall') {
          calls[ev.index] = { id: ev.id, name: ev.name, arguments: '' };
          if (request.stream && !(legacy && ev.index > 0)) {
            // OpenAI's framing: a call's first chunk names it (index, id, type, name, empty arguments), later chunks
            // carry pieces of its arguments by index. The legacy API streams `function_call` (one call, no id).
            open();
            const delta = legacy ? { function_call: { name: ev.name, arguments: '' } } : { tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }] };
            res.write(chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
          }
        } else if (ev.type === 'toolCallArgs') {
          const call = calls[ev.index];
          if (call) call.arguments += ev.text;
          if (request.stream && ev.text !== '' && !(legacy && ev.index > 0)) {
            open();
            const delta = legacy ? { function_call: { arguments: ev.text } } : { tool_calls: [{ index: ev.index, function: { arguments: ev.text } }] };
            res.write(chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
          }
        } else if (ev.type === 'toolCallEnd') {
          // Nothing to frame: the next chunk (another call's, or the finish) says this one is complete.
        } else if (ev.type === 'relay') {
          // The server's own events, as they arrive, with backpressure from this client.
          relayed = true;
          ev.answer.pipe({
            write: (bytes) => {
              if (res.writableEnded || res.destroyed) return false;
              touch();
              return res.write(bytes, 'latin1');
            },
            onDrain: (resume) => {
              pause();
              res.once('drain', () => {
                touch();
                resume();
              });
            },
          });
        } else {
          pause();
          const u = ev.usage;
          const usage = { prompt_tokens: u.inputTokens ?? 0, completion_tokens: u.outputTokens ?? 0, total_tokens: (u.inputTokens ?? 0) + (u.outputTokens ?? 0) };
          const made = calls.filter((c) => c !== undefined);
          const finish =
            made.length > 0
              ? legacy
                ? 'function_call'
                : 'tool_calls'
              : ev.finish === 'length' || (request.maxTokens !== undefined && (u.outputTokens ?? 0) >= request.maxTokens)
                ? 'length'
                : ev.finish === 'content_filter'
                  ? 'content_filter'
                  : 'stop';
          // A message with calls has `content: null` where it wrote no text, as OpenAI's has.
          const toolFields =
            made.length === 0
              ? {}
              : legacy
                ? { function_call: { name: made[0]!.name, arguments: made[0]!.arguments } }
                : { tool_calls: made.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) };
          if (relayed) {
            res.end('data: [DONE]\n\n');
          } else if (request.stream) {
            open();
            res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
            if (request.includeUsage) res.write(chunk([], { usage }));
            res.end('data: [DONE]\n\n');
          } else {
            this.send(
              res,
              200,
              {
                id,
                object: 'chat.completion',
                created,
                model,
                system_fingerprint: null,
                choices: [{ index: 0, message: { role: 'assistant', content: made.length > 0 && text === '' ? null : text, refusal: null, ...toolFields, ...(reasoning ? { reasoning_content: reasoning } : {}) }, logprobs: null, finish_reason: finish }],
                usage,
              },
              route ? this.routeHeaders(route) : {},
            );
          }
        }
      }
    } catch (e) {
      // Ended by the idle timeout: the client has its error already.
      if (stalled) return;
      if (signal.aborted) {
        this.logger.info(`gateway chat: ${request.model} canceled by the client${route ? ` (${route.providerId}/${route.model})` : ''}`);
        return;
      }
      if (e instanceof RouteError) this.logger.warn(`gateway chat: ${request.model} failed (${e.kind}): ${describeAttempts(e.attempts)}`);
      throw e;
    } finally {
      pause();
      res.off('close', pause);
    }
  }

  private async embeddings(res: ServerResponse, body: unknown, signal: AbortSignal): Promise<void> {
    const request = parseEmbeddingsRequest(body);
    const { task, only } = await this.resolve(request.model, 'embed');
    try {
      const result = await this.options.source.router.embed({ task: only ? task : request.model, only, input: request.input, signal });
      this.logRoute('embeddings', result.route);
      const tokens = result.usage.inputTokens ?? 0;
      this.send(
        res,
        200,
        {
          object: 'list',
          data: result.vectors.map((v, index) => {
            const vector = shorten(v, request.dimensions);
            return { object: 'embedding', index, embedding: request.format === 'base64' ? floatsToBase64(vector) : vector };
          }),
          model: `${result.providerId}/${result.model}`,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        },
        this.routeHeaders(result.route),
      );
    } catch (e) {
      if (signal.aborted) {
        this.logger.info(`gateway embeddings: ${request.model} canceled by the client`);
        return;
      }
      if (e instanceof RouteError) this.logger.warn(`gateway embeddings: ${request.model} failed (${e.kind}): ${describeAttempts(e.attempts)}`);
      throw e;
    }
  }
}
