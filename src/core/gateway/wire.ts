/**
 * OpenAI's wire format as the gateway speaks it: error bodies and status codes, how a router failure kind becomes a
 * status, the checks every endpoint shares (model, numbers, function definitions and call arguments) and the
 * embeddings request. The chat completion request is read in chatWire.ts. Pure functions, no I/O.
 */
import type { ErrorKind } from '../errors';
import { isObject } from '../json';
import { argumentsText } from '../providers/toolCalls';
import type { JsonSchema, ToolSpec } from '../providers/types';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error the gateway answers with: status plus OpenAI's error body. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

type FailureStatus = { status: number; type: string; code: string };

/** Status, type and code per router failure kind (`server`, and any other, is upstream_error). */
const STATUS_FOR_KIND: Partial<Record<ErrorKind, FailureStatus>> = {
  policy: { status: 403, type: 'permission_error', code: 'privacy_policy' },
  modelMissing: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  contextOverflow: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  rateLimited: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  timeout: { status: 504, type: 'server_error', code: 'upstream_timeout' },
  // Our caller's token was fine; an upstream provider refused Switchyard's key.
  auth: { status: 502, type: 'server_error', code: 'upstream_auth' },
  config: { status: 503, type: 'server_error', code: 'no_model_available' },
  canceled: { status: 499, type: 'invalid_request_error', code: 'canceled' },
  unreachable: { status: 503, type: 'server_error', code: 'upstream_unavailable' },
};

/** Status, type and code for a router failure (after its fallbacks were tried). */
export function statusForKind(kind: ErrorKind): FailureStatus {
  return { ...(STATUS_FOR_KIND[kind] ?? { status: 502, type: 'server_error', code: 'upstream_error' }) };
}

export interface EmbeddingsRequest {
  model: string;
  input: string[];
  format: 'float' | 'base64';
  dimensions?: number;
}

export function requireModel(body: Record<string, unknown>): string {
  const model = body.model;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new GatewayError(
      400,
      'You must provide a model parameter, e.g. "switchyard/chat" (GET /v1/models lists them).',
      'invalid_request_error',
      'missing_required_parameter',
      'model',
    );
  }
  return model.trim();
}

export function invalid(param: string, message: string): GatewayError {
  return new GatewayError(400, message, 'invalid_request_error', 'invalid_value', param);
}

/** A function's name as OpenAI allows it (letters, digits, underscores and dashes, at most 64). */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A function definition (`tools[i].function`, `functions[i]`) as a ToolSpec. */
export function toolSpec(fn: unknown, param: string): ToolSpec {
  if (!isObject(fn) || typeof fn.name !== 'string' || !FUNCTION_NAME.test(fn.name)) {
    throw invalid(`${param}.name`, `${param}.name must be a function name of letters, digits, underscores or dashes (at most 64).`);
  }
  if (fn.description !== undefined && fn.description !== null && typeof fn.description !== 'string')
    throw invalid(`${param}.description`, `${param}.description must be a string.`);
  if (fn.parameters !== undefined && fn.parameters !== null && !isObject(fn.parameters))
    throw invalid(`${param}.parameters`, `${param}.parameters must be a JSON Schema object.`);
  return {
    name: fn.name,
    ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
    ...(isObject(fn.parameters) ? { parameters: fn.parameters as JsonSchema } : {}),
  };
}

/** A call's arguments as JSON text: a string as sent, an object (some clients echo what they parsed) serialised. */
export function callArguments(value: unknown, param: string): string {
  if (typeof value !== 'string' && value !== undefined && value !== null && !isObject(value))
    throw invalid(param, `${param} must be a JSON string.`);
  return argumentsText(value);
}

export function optionalNumber(body: Record<string, unknown>, key: string, min: number, max: number, integer = false): number | undefined {
  const v = Object.hasOwn(body, key) ? body[key] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new GatewayError(
      400,
      `${key} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}.`,
      'invalid_request_error',
      'invalid_value',
      key,
    );
  }
  return v;
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isObject(body)) throw new GatewayError(400, 'The request body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  const model = requireModel(body);
  const raw = body.input;
  let input: string[] | undefined;
  if (typeof raw === 'string') input = [raw];
  else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'string')) input = raw as string[];
  if (!input) {
    throw new GatewayError(
      400,
      "'input' must be a string or a non-empty array of strings (token arrays are not supported).",
      'invalid_request_error',
      'invalid_value',
      'input',
    );
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw new GatewayError(
      400,
      `Invalid value for 'encoding_format': '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      'invalid_request_error',
      'invalid_value',
      'encoding_format',
    );
  }
  return { model, input, format, dimensions: optionalNumber(body, 'dimensions', 1, 100_000, true) };
}

/** Little-endian float32 bytes in base64: OpenAI's `encoding_format: "base64"`. */
export function floatsToBase64(v: readonly number[]): string {
  const f = new Float32Array(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

/** OpenAI's `dimensions`: the first N components, renormalised. */
export function shorten(v: readonly number[], dims: number | undefined): number[] {
  if (dims === undefined || dims >= v.length) return [...v];
  const cut = v.slice(0, dims);
  const n = Math.hypot(...cut) || 1;
  return cut.map((x) => x / n);
}
