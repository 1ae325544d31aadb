/**
 * What an HTTP answer's status says: the error kind it stands for, the error a fetch wrapper raises for a non-2xx
 * answer (with Retry-After and the body's error text), and the error of a stream cut off before its end. No client
 * code: shared by every provider and the SSE relay.
 */
import type { ErrorKind } from '../errors';

/** Seconds from `Retry-After` (seconds or an HTTP date) or the non-standard `retry-after-ms`. */
export function parseRetryAfter(headers: Headers | undefined | null): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms) / 1000);
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The kind an HTTP status stands for, when the status alone says it. */
export function kindForStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'modelMissing';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 413) return 'contextOverflow';
  if (status === 429) return 'rateLimited';
  // Other 4xx (a request this server will not take) and every 5xx: the server could not serve it.
  return 'server';
}

/** A non-2xx answer, raised by a fetch wrapper that read the status, Retry-After and the body's error text. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly retryAfter?: number,
  ) {
    super(detail ? `${detail} (HTTP ${status})` : `HTTP ${status}`);
    this.name = 'HttpStatusError';
  }

  /** Reads the body's error text (JSON `error` / `error.message`, or plain text) and builds the error. */
  static async from(response: Response): Promise<HttpStatusError> {
    let detail = '';
    try {
      const text = (await response.text()).slice(0, 2000);
      detail = text;
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      const err = body.error;
      if (typeof err === 'string') detail = err;
      else if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
        detail = (err as { message: string }).message;
      } else if (typeof body.message === 'string') detail = body.message;
    } catch {
      // Not JSON, or no body: the status says enough.
    }
    return new HttpStatusError(response.status, detail.trim().slice(0, 300), parseRetryAfter(response.headers));
  }
}

/**
 * Raised by a subclass when a stream ends without the server saying it finished (no `done`, no finish
 * reason): a truncated answer must not pass for a complete one.
 */
export class TruncatedStreamError extends Error {
  constructor() {
    super('the stream ended before the answer was complete');
    this.name = 'TruncatedStreamError';
  }
}
