/**
 * Typed errors of the core. The adapter (VS Code, CLI, gateway) maps a kind to words and an action;
 * nothing branches on message text.
 */
export type ErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'auth'
  | 'modelMissing'
  | 'rateLimited'
  | 'contextOverflow'
  | 'server'
  | 'canceled'
  | 'policy'
  | 'config'
  /** The model cannot serve this kind of request (fill-in-the-middle without FIM tokens): another model may. */
  | 'unsupported';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'unreachable',
  'timeout',
  'auth',
  'modelMissing',
  'rateLimited',
  'contextOverflow',
  'server',
  'canceled',
  'policy',
  'config',
  'unsupported',
];

export interface ProviderErrorOptions {
  providerId?: string;
  model?: string;
  status?: number;
  /** Seconds the server asked us to wait (Retry-After), when it said. */
  retryAfter?: number;
  /** True once at least one token reached the caller: the router must not fall back silently. */
  afterOutput?: boolean;
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly kind: ErrorKind;
  readonly providerId?: string;
  readonly model?: string;
  readonly status?: number;
  readonly retryAfter?: number;
  afterOutput: boolean;

  constructor(kind: ErrorKind, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.providerId = options.providerId;
    this.model = options.model;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    this.afterOutput = options.afterOutput ?? false;
  }
}

export function isProviderError(e: unknown): e is ProviderError {
  return e instanceof ProviderError;
}

/** Kinds after which the router tries the next candidate (when no token has streamed yet). */
export const FALLBACK_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'unreachable',
  'timeout',
  'server',
  'rateLimited',
  'modelMissing',
  'contextOverflow',
  'auth',
  'policy',
  'unsupported',
]);

/** Kinds that say the provider itself is unwell (cool it down), as opposed to one model or one request. */
export const UNHEALTHY_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['unreachable', 'timeout', 'server', 'rateLimited']);

/**
 * A 4xx (other than those with a kind of their own) from a server that is up and answering: it refused this one
 * request (a parameter it does not take, say), read from the error or the provider error it wraps (a RouteError's).
 */
export function refusedRequest(e: ProviderError): boolean {
  const status = e.status ?? (isProviderError(e.cause) ? e.cause.status : undefined);
  return e.kind === 'server' && status !== undefined && status >= 400 && status < 500;
}

/**
 * Whether a failure says the provider is unwell (cool it down). A refused request does not: the next request may be
 * fine, so it must not push traffic elsewhere (to the cloud, under "allow").
 */
export function marksUnhealthy(e: ProviderError): boolean {
  return UNHEALTHY_KINDS.has(e.kind) && !refusedRequest(e);
}

/** Walks an error's cause chain for a Node system error code (ECONNREFUSED, ENOTFOUND, …). */
export function systemErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function isAbortError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const name = (e as { name?: unknown }).name;
  return name === 'AbortError' || name === 'APIUserAbortError';
}
