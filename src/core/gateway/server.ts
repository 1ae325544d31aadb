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
 */ import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { redact, silentLogger, type Logger } from '../host';
import { chatCompletions } from './chatCompletions';
import { completions } from './completions';
import { loggedEnd, logRoute, type EndpointHost, type GatewaySource } from './endpoint';
import { fail } from './failure';
import {
  abortOnClose,
  decodePath,
  digest,
  header,
  loopbackHost,
  readJsonBody,
  refuseOnSocket,
  requestPath,
  routeHeaders,
  sendJson,
  shown,
} from './http';
import { modelIds, resolveModel, unknownModel } from './models';
import { ResponsesEndpoint } from './responses';
import { GatewayError, floatsToBase64, parseEmbeddingsRequest, shorten } from './wire';

export type { GatewaySource };

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

export class Gateway {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly tokenDigest: Buffer;
  private readonly logger: Logger;
  private readonly maxBody: number;
  private boundPort = 0;
  /** Requests being answered now (for tests and the status bar). */
  active = 0;
  /** What the endpoints answer through. */
  private readonly host: EndpointHost;
  /** The Responses API (responses.ts). */
  private readonly responses: ResponsesEndpoint;

  constructor(private readonly options: GatewayOptions) {
    if (!options.token || options.token.length < 8) throw new Error('The gateway needs a token of at least 8 characters.');
    this.tokenDigest = digest(options.token);
    this.logger = options.logger ?? silentLogger;
    this.maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.host = {
      source: options.source,
      logger: this.logger,
      resolve: (model) => resolveModel(options.source, model, 'chat'),
      readJson: (req, res) => readJsonBody(req, res, this.maxBody),
      idleTimeoutMs: () => this.idleTimeoutMs(),
    };
    this.responses = new ResponsesEndpoint(this.host);
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
      this.handle(req, res).catch((e: unknown) => fail(res, e, this.logger));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // Requests node's parser refuses (malformed, headers too large, too slow): answered and closed here, never logged
    // as failures of the gateway.
    server.on('clientError', refuseOnSocket);
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

  /** Refuses what is not a local tool with the token: another Host, a browser, a missing or wrong token. */
  private admit(req: IncomingMessage): void {
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends Host: evil.example.
    if (!loopbackHost(header(req, 'host'), this.boundPort)) {
      this.logger.warn(
        `gateway: refused a request for Host "${redact(String(header(req, 'host') ?? '')).slice(0, 100)}" (not this machine)`,
      );
      throw new GatewayError(
        403,
        'Host not allowed: the gateway answers only to 127.0.0.1, localhost or [::1].',
        'permission_error',
        'forbidden_host',
      );
    }
    // Browser CSRF: a web page's fetch carries an Origin; tools and SDKs do not.
    const origin = header(req, 'origin');
    if (origin !== undefined || req.method === 'OPTIONS') {
      this.logger.warn(`gateway: refused a browser request from Origin "${String(origin ?? '(preflight)').slice(0, 100)}"`);
      throw new GatewayError(
        403,
        'Browser requests are not allowed: the gateway serves local tools, not web pages.',
        'permission_error',
        'forbidden_origin',
      );
    }
    if (!this.authorized(header(req, 'authorization'))) {
      throw new GatewayError(
        401,
        'Missing or wrong gateway token: send "Authorization: Bearer <token>" ' +
          '(Switchyard: Copy Gateway URL and Token, or the --token given to `switchyard serve`).',
        'invalid_request_error',
        'invalid_api_key',
      );
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.admit(req);
    const path = requestPath(req.url);
    const method = req.method ?? 'GET';
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (method !== 'GET')
        throw new GatewayError(405, `${method} is not allowed on ${shown(path)}.`, 'invalid_request_error', 'method_not_allowed');
      // A GET's body is never read: an answer before it is complete closes the connection (see sendJson).
      return path === '/v1/models' ? this.models(res) : this.model(res, decodePath(path.slice('/v1/models/'.length)));
    }
    if (path === '/v1/responses' || path.startsWith('/v1/responses/')) return this.responses.handle(req, res, path, method);
    if (path === '/v1/chat/completions' || path === '/v1/embeddings' || path === '/v1/completions') {
      if (method !== 'POST')
        throw new GatewayError(405, `${method} is not allowed on ${shown(path)}; use POST.`, 'invalid_request_error', 'method_not_allowed');
      const controller = abortOnClose(res);
      const body = await this.host.readJson(req, res);
      if (path === '/v1/chat/completions') return chatCompletions(this.host, res, body, controller);
      if (path === '/v1/completions') return completions(this.host, res, body, controller.signal);
      return this.embeddings(res, body, controller.signal);
    }
    throw new GatewayError(
      404,
      `Invalid URL (${shown(method)} ${shown(path)}): the gateway serves GET /v1/models, POST ` +
        `/v1/chat/completions, POST /v1/responses, POST /v1/completions and POST /v1/embeddings.`,
      'invalid_request_error',
      'not_found',
    );
  }

  private authorized(auth: string | undefined): boolean {
    const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    return m !== null && timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  /** The idle timeout in force now (the setting is read per request, so a change applies to the next one). */
  private idleTimeoutMs(): number {
    return this.options.idleTimeoutMs ?? (this.options.source.config.gateway.idleTimeoutSeconds ?? 60) * 1000;
  }

  private async models(res: ServerResponse): Promise<void> {
    const created = Math.floor(Date.now() / 1000);
    const data = (await modelIds(this.options.source)).map((m) => ({ id: m.id, object: 'model', created, owned_by: m.owned_by }));
    sendJson(res, 200, { object: 'list', data });
  }

  private async model(res: ServerResponse, id: string): Promise<void> {
    const found = (await modelIds(this.options.source)).find((m) => m.id === id);
    if (!found) throw unknownModel(this.options.source.config, id);
    sendJson(res, 200, { id, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: found.owned_by });
  }

  private async embeddings(res: ServerResponse, body: unknown, signal: AbortSignal): Promise<void> {
    const request = parseEmbeddingsRequest(body);
    const { task, only } = await resolveModel(this.options.source, request.model, 'embed');
    try {
      const result = await this.options.source.router.embed({ task: only ? task : request.model, only, input: request.input, signal });
      logRoute(this.logger, 'embeddings', result.route);
      const tokens = result.usage.inputTokens ?? 0;
      const data = result.vectors.map((v, index) => {
        const vector = shorten(v, request.dimensions);
        return { object: 'embedding', index, embedding: request.format === 'base64' ? floatsToBase64(vector) : vector };
      });
      const model = `${result.providerId}/${result.model}`;
      sendJson(
        res,
        200,
        { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } },
        routeHeaders(result.route),
      );
    } catch (e) {
      if (loggedEnd(this.logger, 'embeddings', request.model, e, signal)) return;
      throw e;
    }
  }
}
