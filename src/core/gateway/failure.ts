/**
 * How a failure becomes the gateway's answer: OpenAI's error body with a status (before an answer started), or an
 * SSE event carrying `error` (mid-stream). Unexpected failures are logged (redacted); the client hears a generic 500.
 */
import type { ServerResponse } from 'node:http';
import { isProviderError, refusedRequest } from '../errors';
import { redact, type Logger } from '../host';
import { RouteError } from '../routing/router';
import { sendJson } from './http';
import { GatewayError, statusForKind } from './wire';

/** Nothing was tried and a model was passed over for lacking `missing`: the request asks what the route cannot give. */
function onlySkippedFor(e: RouteError, missing: 'images' | 'tools'): boolean {
  return e.attempts.some((a) => a.missing === missing) && e.attempts.every((a) => a.outcome === 'skipped');
}

/** Any failure as the status and OpenAI error body the gateway answers with. */
export function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  if (isProviderError(e)) {
    // A model server that refused the request itself was refusing what the client sent: pass that on as the
    // client's error, not as a failure of the gateway.
    if (refusedRequest(e)) {
      return new GatewayError(400, redact(e.message), 'invalid_request_error', 'upstream_rejected_request');
    }
    // Nothing was tried and a model was passed over for lacking tool calling: the request asks what the route cannot
    // give (not a passing outage), and the client should hear it as its error, not retry.
    if (e instanceof RouteError && onlySkippedFor(e, 'images')) {
      const message = `${redact(e.message)} Send the request without images, or add a model with vision to the task.`;
      return new GatewayError(400, message, 'invalid_request_error', 'image_input_not_supported', 'messages');
    }
    if (e instanceof RouteError && onlySkippedFor(e, 'tools')) {
      const message = `${redact(e.message)} Remove 'tools', or add a model that calls tools to the task.`;
      return new GatewayError(400, message, 'invalid_request_error', 'tools_not_supported', 'tools');
    }
    const s = statusForKind(e.kind);
    return new GatewayError(s.status, redact(e.message), s.type, s.code);
  }
  return new GatewayError(500, 'The gateway failed while answering; see the Switchyard log.', 'server_error', 'internal_error');
}

function answerFailure(res: ServerResponse, e: unknown, logger: Logger): void {
  const err = toGatewayError(e);
  if (err.status >= 500 && !(e instanceof GatewayError) && !isProviderError(e)) {
    logger.error(`gateway: ${redact(String(e instanceof Error ? (e.stack ?? e.message) : e))}`);
  }
  if (res.headersSent) {
    // Mid-stream: OpenAI clients raise an APIError for an SSE event carrying `error`.
    if (!res.destroyed && !res.writableEnded) res.end(`data: ${JSON.stringify(err.body())}\n\n`);
    return;
  }
  // Retrying is pointless after the router's own fallbacks, except when rate limited.
  sendJson(res, err.status, err.body(), { 'x-should-retry': err.status === 429 ? 'true' : 'false' });
}

/** Answers a failed request; when even that fails (the socket is gone), drops the connection. */
export function fail(res: ServerResponse, e: unknown, logger: Logger): void {
  try {
    answerFailure(res, e, logger);
  } catch (second) {
    // Answering failed too (the socket is gone): nothing more to tell this client.
    logger.debug(`gateway: could not answer a failed request: ${redact(String(second instanceof Error ? second.message : second))}`);
    res.destroy();
  }
}
